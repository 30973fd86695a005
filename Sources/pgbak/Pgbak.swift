import ArgumentParser
import PgbakKit

@main
struct Pgbak: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pgbak",
        abstract: "Backups of Patroni-managed PostgreSQL clusters: always from the leader, verified, restorable.",
        version: PgbakKitVersion.text,
        subcommands: [
            Now.self, Check.self, List.self, Verify.self, Restore.self, Prune.self, Status.self,
            ReplicaMethodCommand.self, BootstrapMethodCommand.self, WalPush.self, WalFetch.self, RepoCopy.self,
        ])

    /// As ArgumentParser's own entry point, with the global options accepted before the subcommand too.
    static func main() async {
        let names = Set(configuration.subcommands.map { $0._commandName })
        let arguments = GlobalArguments.reordered(Array(CommandLine.arguments.dropFirst()), subcommands: names)
        do {
            var command = try parseAsRoot(arguments)
            if var asynchronous = command as? AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
