import ArgumentParser
import Foundation
import PgbakKit

struct WalPush: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wal-push",
        abstract: "Archive one WAL file (PostgreSQL's archive_command): pgbak wal-push %p",
        discussion: """
            Runs as the PostgreSQL OS user in the data directory (or is given <data directory>/pg_wal/<file>, as
            Patroni does when it archives a former leader's finished files before rewinding it). Stores the file
            zstd-compressed with its SHA-256 in the repository's WAL archive, durably, and exits 0 only then. A file archived with the same content is
            success; other content is an error that names both checksums, never an overwrite. Refuses a server of
            another cluster (system identifier) and a member that is not Patroni's leader, except for finished
            segments of an earlier timeline that the leader's history shows the archive lacks (the failover gap).
            Pushes the next .ready files ahead in parallel.

            Patroni (patronictl edit-config):
              postgresql:
                parameters:
                  archive_mode: "on"
                  archive_timeout: 60s
                  archive_command: /usr/bin/pgbak wal-push --config /etc/pgbak/pgbak.yml %p
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The WAL file's path relative to the data directory (%p), or its absolute path in pg_wal.")
    var path: String

    func run() async throws {
        do {
            let (context, _) = try options.context(label: "wal-push", progress: false)
            try context.repository.prepare()
            let push = WALPush(
                context: context, archive: context.walArchive,
                dataDirectory: WALPush.dataDirectory(
                    for: path, workingDirectory: FileManager.default.currentDirectoryPath))
            let report = try await push.push(path: path)
            context.logger.info(
                "archived",
                metadata: [
                    "wal": "\(report.file)", "stored": "\(report.stored)",
                    "ahead": "\(report.pushedAhead.count)", "backfilled": "\(report.backfilled.count)",
                ])
        } catch {
            throw fail(error)
        }
    }
}
