import ArgumentParser
import Foundation
import PgbakKit

struct RepoCopy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repo-copy",
        abstract: "Copy backups and the WAL archive into another repository (directory or bucket), checking each file.",
        discussion: """
            The target is the repository another configuration file names (its repository.path, or \
            repository.s3). Every file is checked against its manifest checksum while it is copied; a backup appears \
            in the target only once all of it is there. Backups the target has are skipped: run it from cron to keep \
            an off-site copy, or once to move a repository to object storage.

            Examples:
              pgbak repo-copy --to /etc/pgbak/pgbak-s3.yml
              pgbak repo-copy --to /etc/pgbak/offsite.yml --backup 20261207T021500Z
            """)

    @OptionGroup var options: GlobalOptions

    @Option(name: .long, help: "The configuration file naming the target repository.")
    var to: String

    @Option(name: .long, help: "Copy only this backup (repeatable); default: every complete one.")
    var backup: [String] = []

    func run() async throws {
        do {
            let (context, _) = try options.context(label: "repo-copy", progress: false)
            let targetConfig = try ConfigLoader.load(path: to)
            let target = try Repositories.open(targetConfig)
            guard target.location != context.repository.location else {
                throw ValidationError("--to names the same repository as --config (\(target.location))")
            }
            try context.repository.prepare()
            try target.prepare()
            let lock = try target.lock()
            defer { lock.release() }
            let outcome = try RepositoryCopy(source: context.repository, target: target, logger: context.logger)
                .run(ids: backup.isEmpty ? nil : backup)
            try lock.confirm()
            for copied in outcome.copied {
                print(
                    "copied \(copied.id): \(copied.files) files, \(ByteFormat.text(copied.bytes)) in "
                        + String(format: "%.1f s", copied.seconds))
            }
            for id in outcome.skipped { print("skipped \(id): the target has it") }
            print("WAL: \(outcome.walFiles) file(s), \(ByteFormat.text(outcome.walBytes)) copied to \(target.location)")
        } catch let error as ValidationError {
            throw error
        } catch {
            throw fail(error)
        }
    }
}
