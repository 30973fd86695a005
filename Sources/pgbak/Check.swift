import ArgumentParser
import Foundation
import PgbakKit

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Preflight: check everything the next backup depends on, without taking one.",
        discussion: """
            Checks: the configuration's and secret files' permissions; every Patroni URL; exactly one running \
            leader; replicas streaming and their lag; the dump and replication logins on the leader; \
            pg_basebackup/pg_dump at least the server's major version; the repository writable with room for the \
            next backup; the repository and scratch area off the filesystems of local members' data directories; \
            what `pgbak now` does on this host (this_host.member).
            Exit 0 when nothing failed (warnings allowed), 1 when something did (each failure is listed on stderr).

            Examples:
              pgbak check
              pgbak check --json | jq '.items[] | select(.status != "ok")'
            """)

    @OptionGroup var options: GlobalOptions

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() async throws {
        let report: CheckReport
        do {
            let (context, _) = try options.context(label: "check", progress: false)
            report = await Preflight(context: context).run()
        } catch {
            throw fail(error)
        }
        print(json ? try Listing.json(report) : report.table(colour: isatty(STDOUT_FILENO) == 1))
        if let failure = report.failure { throw fail(failure) }
    }
}
