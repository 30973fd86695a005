import ArgumentParser
import Foundation
import PgbakKit

struct WalFetch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wal-fetch",
        abstract: "Restore one WAL file from the archive (PostgreSQL's restore_command): pgbak wal-fetch %f %p",
        discussion: """
            Exits 0 once the file is in place, 1 when the archive does not hold it (recovery's normal end of the
            archive). Checks the file's SHA-256 before handing it over. Decompresses the next segments ahead, in
            parallel, into a staging directory beside the data directory, so replay is not bound by one process start
            per segment.
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The WAL file's name (%f).")
    var name: String

    @Argument(help: "Where to write it, relative to the data directory (%p).")
    var destination: String

    @Flag(name: .long, help: .hidden)
    var prefetch = false

    func run() throws {
        do {
            let (config, logger) = try options.start(label: "wal-fetch")
            let fetch = WALFetch(
                archive: try Repositories.open(config).walArchive,
                dataDirectory: FileManager.default.currentDirectoryPath, logger: logger)
            if prefetch {
                fetch.prefetch()
                return
            }
            let found = try fetch.fetch(name, to: destination)
            if fetch.requested(name) { startPrefetch() }
            guard found else {
                logger.debug("not in the archive", metadata: ["wal": "\(name)"])
                throw ExitCode(1)
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw fail(error)
        }
    }

    /// The helper that stages the next segments, in the data directory like this call.
    func startPrefetch() {
        var arguments = ["wal-fetch", "--prefetch", "-", "-"]
        if let config = options.config { arguments += ["--config", config] }
        WALFetch.spawnDetached(arguments)
    }
}
