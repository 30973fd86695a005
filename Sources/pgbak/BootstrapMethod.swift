import ArgumentParser
import Foundation
import PgbakKit

struct BootstrapMethodCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bootstrap-method",
        abstract: "Patroni's custom bootstrap entry point: a new cluster from a backup, recovered to a target.",
        discussion: """
            In the new cluster's Patroni configuration (the target twice: pgbak picks the backup, PostgreSQL stops):

              bootstrap:
                method: pgbak
                pgbak:
                  command: /usr/local/bin/pgbak bootstrap-method --config /etc/pgbak/pgbak.yml
                  to-time: '2026-12-07 10:15:00+01'          # passed as --to-time=...
                  recovery_conf:
                    restore_command: /usr/local/bin/pgbak wal-fetch --config /etc/pgbak/pgbak.yml %f %p
                    recovery_target_time: '2026-12-07 10:15:00+01'
                    recovery_target_action: promote
                    recovery_target_timeline: latest

            Patroni adds --scope and --datadir. Exit 0 leaves the backup in the data directory; Patroni then recovers
            it through the archive and takes the leader key.
            """)

    @OptionGroup var options: GlobalOptions

    @Option(name: .long, help: "The data directory to fill.")
    var datadir: String

    @Option(name: .long, help: "The cluster's scope (checked against the configuration).")
    var scope: String?

    @OptionGroup(title: "The recovery target (default: the end of the archive)") var recovery: RecoveryTargetOptions

    @Option(name: .long, help: "The backup to use; default: the newest consistent before the target.")
    var backup: String?

    func run() async throws {
        do {
            let (context, _) = try options.context(label: "bootstrap-method", progress: false)
            let (plan, done) = try await BootstrapMethod(context: context)
                .execute(dataDirectory: datadir, scope: scope, target: recovery.target ?? .latest, backupID: backup)
            print(
                "pgbak bootstrap-method: filled \(datadir) from backup \(plan.backupID) (\(done.files) files); "
                    + "PostgreSQL recovers it to \(plan.target) through pgbak wal-fetch")
        } catch {
            throw fail(error)
        }
    }
}
