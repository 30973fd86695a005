import ArgumentParser
import Foundation
import PgbakKit

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the backups in the repository.",
        discussion: """
            Examples:
              pgbak list
              pgbak list --json | jq '.[-1].id'
            """)

    @OptionGroup var options: GlobalOptions

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    func run() async throws {
        do {
            let (context, _) = try options.context(label: "list", progress: false)
            let (backups, problems) = try context.repository.backups(detail: .listing)
            for problem in problems { context.logger.warning("\(problem)") }
            let rows = backups.map { BackupSummary($0) }
            print(json ? try Listing.json(rows) : Listing.table(rows))
            if !json, let archive = try context.walArchiveSummary(backups: backups) {
                print(Listing.archiveLine(archive))
            }
        } catch {
            throw fail(error)
        }
    }
}
