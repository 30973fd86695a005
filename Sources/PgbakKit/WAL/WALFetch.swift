import Foundation
import Logging

/// `pgbak wal-fetch %f %p`, PostgreSQL's restore_command. Each call serves its file from a staging directory beside
/// the data directory when an earlier call already decompressed it there, and starts one background helper that
/// decompresses the next segments ahead, in parallel: replay is not bound by one decompression per process start.
public struct WALFetch: Sendable {
    public let archive: WALArchive
    public let dataDirectory: String
    public let logger: Logger
    public var ahead = 8

    public init(archive: WALArchive, dataDirectory: String, logger: Logger) {
        self.archive = archive
        self.dataDirectory = dataDirectory
        self.logger = logger
    }

    /// Outside the data directory (never in a backup of it), one per data directory.
    public var stagingDirectory: String {
        let url = URL(fileURLWithPath: dataDirectory).standardizedFileURL
        return url.deletingLastPathComponent().path + "/.pgbak-wal-prefetch-" + url.lastPathComponent
    }

    /// Writes `name` to `destination`; false when the archive does not hold it (restore_command's "not found").
    public func fetch(_ name: String, to destination: String) throws -> Bool {
        guard let file = WALFileName(name) else {
            throw WALArchiveError(
                problem: "'\(name)' is not a WAL file name; restore_command should be: pgbak wal-fetch %f %p")
        }
        let target = destination.hasPrefix("/") ? destination : dataDirectory + "/" + destination
        let versions = try archive.versions(of: file).sorted { $0.archived < $1.archived }
        guard let chosen = versions.first else { return false }
        let staged = stagingDirectory + "/\(name)-\(chosen.sha256)"
        if rename(staged, target) == 0 {
            logger.debug("served from the prefetch staging directory", metadata: ["wal": "\(name)"])
            return true
        }
        try Self.write(try archive.content(of: chosen), to: target)
        return true
    }

    /// The segments after `name` on its timeline that are archived and not staged yet.
    public func wanted(after name: String) -> [String] {
        guard case .segment(let segment) = WALFileName(name), let size = try? archive.info()?.segmentSize else {
            return []
        }
        let staged = Set(
            ((try? FileManager.default.contentsOfDirectory(atPath: stagingDirectory)) ?? []).map {
                String($0.prefix(24))
            })
        let first = segment.number(size: size) + 1
        return (first..<(first + UInt64(ahead))).map {
            WALSegment(timeline: segment.timeline, number: $0, size: size).name
        }.filter { !staged.contains($0) }
    }

    /// Decompresses `names` into the staging directory, two at a time; names the archive lacks are skipped. Only
    /// one prefetch runs per data directory (a lock file); a second one returns at once.
    public func prefetch(_ names: [String]) {
        let fm = FileManager.default
        if !fm.fileExists(atPath: stagingDirectory) { mkdir(stagingDirectory, 0o700) }
        let lock = open(stagingDirectory + "/.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard lock >= 0, flock(lock, LOCK_EX | LOCK_NB) == 0 else { return }
        defer { close(lock) }
        DispatchQueue.concurrentPerform(iterations: names.count) { i in
            guard let file = WALFileName(names[i]),
                let chosen = (try? archive.versions(of: file))?.sorted(by: { $0.archived < $1.archived }).first,
                let content = try? archive.content(of: chosen)
            else { return }
            try? Self.write(content, to: stagingDirectory + "/\(names[i])-\(chosen.sha256)")
        }
        // Files recovery never asked for (it stopped at its target) would stay forever: drop those over an hour old.
        let hourAgo = Date().addingTimeInterval(-3600)
        for name in (try? fm.contentsOfDirectory(atPath: stagingDirectory)) ?? [] where !name.hasPrefix(".") {
            let path = stagingDirectory + "/" + name
            if let modified = (try? fm.attributesOfItem(atPath: path))?[.modificationDate] as? Date, modified < hourAgo
            {
                unlink(path)
            }
        }
    }

    /// Starts this executable with `arguments` as a detached helper (own session, no inherited output), so
    /// PostgreSQL does not wait for it.
    public static func spawnDetached(_ arguments: [String]) {
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd in [STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO] {
            posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == STDIN_FILENO ? O_RDONLY : O_WRONLY, 0)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        let setsid: Int16 = 0x80  // POSIX_SPAWN_SETSID (glibc), not exported to Swift
        posix_spawnattr_setflags(&attributes, setsid)
        var argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        _ = posix_spawn(&pid, executable, &actions, &attributes, &argv, environ)
    }

    /// Writes through a temporary name and renames, so recovery never reads a half-written file.
    static func write(_ content: Data, to path: String) throws {
        let temporary = path + ".pgbak-tmp"
        guard
            FileManager.default.createFile(atPath: temporary, contents: content, attributes: [.posixPermissions: 0o600])
        else {
            throw WALArchiveError(problem: "cannot write \(temporary): \(Errno.text())")
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw WALArchiveError(problem: "cannot rename \(temporary) to \(path): \(Errno.text())")
        }
    }
}
