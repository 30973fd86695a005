import ArgumentParser
import Foundation
import PgbakKit

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Age and size of the newest complete backup and the last verification, as a monitoring check.",
        discussion: """
            Exit 0 (ok), 1 (warning) or 2 (critical) against status.warn_age_hours, status.crit_age_hours and
            status.warn_verify_age_days; usable as a Nagios/Icinga check. A gap in the WAL archive, or the leader's
            archive_command failing, is critical; --json shows the recoverable window. With metrics.textfile_dir
            set it writes the metrics as well (pgbak-status.timer runs it every minute).

            Examples:
              pgbak status
              pgbak status --json
            """)

    @OptionGroup var options: GlobalOptions

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() async throws {
        let started = Date()
        let report: StatusReport
        do {
            let (context, _) = try options.context(label: "status", progress: false)
            let backups = try context.repository.backups(detail: .listing).backups
            let archive = try context.walArchiveSummary(backups: backups)
            report = StatusReport.evaluate(
                backups, now: Date(), thresholds: context.config.status, archive: archive,
                archiver: archive == nil ? nil : await context.leaderArchiver())
            context.recordMetrics(
                command: "status", success: report.level != .critical, started: started, backups: backups,
                archive: .some(archive))
        } catch {
            print("UNKNOWN: \(error.localizedDescription)")
            throw ExitCode(3)
        }
        if json {
            print((try? Listing.json(report)) ?? "{}")
        } else {
            print("\(report.level.rawValue.uppercased()): " + report.messages.joined(separator: "; "))
        }
        throw ExitCode(report.level.exitCode)
    }
}
