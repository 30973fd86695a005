import ArgumentParser
import Foundation
import PgbakKit

struct ReplicaMethodCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replica-method",
        abstract: "Patroni's create_replica_methods entry point: fill the wiped data directory from a backup.",
        discussion: """
            Configure it in each member's Patroni configuration, with basebackup as the fallback:

              postgresql:
                create_replica_methods: [pgbak, basebackup]
                pgbak:
                  command: /usr/local/bin/pgbak replica-method --config /etc/pgbak/pgbak.yml
                  member: node1          # this member's name (Patroni passes it as --member=node1)
                  keep_data: false

            Patroni adds --scope, --role, --datadir and --connstring, and every other key as --key=value;
            unknown keys are ignored. Exit 0 leaves a stopped, complete PGDATA; any other exit lets Patroni try
            its next method.
            """)

    @OptionGroup var options: GlobalOptions

    @Option(name: .long, help: "The data directory to fill (Patroni wiped it).")
    var datadir: String

    @Option(name: .long, help: "The cluster's scope (checked against the configuration).")
    var scope: String?

    @Option(name: .long, help: "The member's name, to find the request `restore --node` left for it.")
    var member: String?

    @Option(name: .long, help: "Patroni's role for the new member (replica).")
    var role: String?

    @Option(name: .long, help: "The leader's connection string (unused: pgbak finds the leader through Patroni).")
    var connstring: String?

    @Argument(parsing: .allUnrecognized, help: .hidden)
    var patroniExtras: [String] = []

    func run() async throws {
        // Patroni cancels a reinitialize with SIGTERM: stop at once; it wipes the data directory itself.
        let trap = SignalTrap { _exit(ExitStatus.terminated.rawValue) }
        defer { withExtendedLifetime(trap) {} }
        do {
            let (context, _) = try options.context(label: "replica-method", progress: false)
            let result = try await ReplicaMethod(context: context)
                .execute(dataDirectory: datadir, member: member, scope: scope)
            print("pgbak replica-method: filled \(datadir) from backup \(result.backupID ?? "?")")
        } catch {
            throw fail(error)
        }
    }
}
