import ArgumentParser
import Foundation
import PgbakKit

struct Prune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply retention: remove complete backups beyond the policy and partial ones older than those kept.",
        discussion: """
            Examples:
              pgbak prune --dry-run
              pgbak prune
            """)

    @OptionGroup var options: GlobalOptions

    @Flag(name: .long, help: "Show what would be kept and removed, and why; remove nothing.")
    var dryRun = false

    func run() async throws {
        do {
            let (context, _) = try options.context(label: "prune", progress: false)
            try context.repository.prepare()
            let lock = try context.repository.lock()
            defer { lock.release() }
            let started = Date()
            let pruner = Pruner(
                repository: context.repository, policy: context.config.retention, logger: context.logger)
            let plan = try pruner.prune(protecting: [], dryRun: dryRun)
            // A dry run keeps the backups, so the WAL it would remove is counted against those the plan keeps.
            let wal = try pruner.pruneWAL(context.walArchive, dryRun: dryRun, removing: dryRun ? plan.deletions : [])
            if !dryRun { context.recordMetrics(command: "prune", success: true, started: started) }
            for decision in plan.decisions {
                let verb = decision.keep ? "keep  " : (dryRun ? "would remove" : "removed")
                print("\(verb) \(decision.id)  (\(decision.reason))")
            }
            if wal.files > 0 {
                print(
                    "\(dryRun ? "would remove" : "removed") \(wal.files) archived WAL file(s), \(ByteFormat.text(wal.bytes)), older than the oldest kept backup"
                )
            }
        } catch {
            throw fail(error)
        }
    }
}
