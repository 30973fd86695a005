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
            let plan = try Pruner(
                repository: context.repository, policy: context.config.retention,
                logger: context.logger
            )
            .prune(protecting: [], dryRun: dryRun)
            if !dryRun { context.recordMetrics(command: "prune", success: true, started: started) }
            for decision in plan.decisions {
                let verb = decision.keep ? "keep  " : (dryRun ? "would remove" : "removed")
                print("\(verb) \(decision.id)  (\(decision.reason))")
            }
        } catch {
            throw fail(error)
        }
    }
}
