import ArgumentParser

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
}
