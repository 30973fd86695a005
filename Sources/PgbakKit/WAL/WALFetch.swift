import Foundation
import Logging

/// `pgbak wal-fetch %f %p`, PostgreSQL's restore_command. A helper process, started by the first call and alone per
/// data directory, keeps the next segments decompressed (and checked) in a staging directory beside the data
/// directory, two at a time, as recovery consumes them; a call finds its segment there and renames it into place.
/// The restore_command pgbak writes tries that rename in the shell first (`mv`), so a staged segment costs no process
/// start of pgbak at all: replay is bound by neither one decompression nor one process start per segment.
public struct WALFetch: Sendable {
    public let archive: WALArchive
    public let dataDirectory: String
    public let logger: Logger
    /// Segments kept decompressed ahead of recovery.
    public var ahead = 8
    /// The helper ends when recovery has asked for nothing this long (or the data directory's server is gone).
    public var idleSeconds: Double = 30

    public init(archive: WALArchive, dataDirectory: String, logger: Logger) {
        self.archive = archive
        self.dataDirectory = dataDirectory
        self.logger = logger
    }

    /// Outside the data directory (never in a backup of it), one per data directory.
    public var stagingDirectory: String { Self.stagingDirectory(for: dataDirectory) }

    public static func stagingDirectory(for dataDirectory: String) -> String {
        let url = URL(fileURLWithPath: dataDirectory).standardizedFileURL
        return url.deletingLastPathComponent().path + "/.pgbak-wal-prefetch-" + url.lastPathComponent
    }

    /// The restore_command for a data directory: the staged segment renamed into place by the shell, else pgbak.
    public static func restoreCommand(dataDirectory: String, executable: String, configFile: String) -> String {
        let staging = stagingDirectory(for: dataDirectory)
        return "mv -f '\(staging)/%f' '%p' 2>/dev/null || '\(executable)' wal-fetch --config '\(configFile)' %f %p"
    }

    /// Empties the staging directory: what another recovery left must not be served to this one.
    public static func clearStaging(dataDirectory: String) {
        let staging = stagingDirectory(for: dataDirectory)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: staging)) ?? [] where name != ".lock" {
            unlink(staging + "/" + name)
        }
    }

    /// Writes `name` to `destination`; false when the archive does not hold it (restore_command's "not found").
    public func fetch(_ name: String, to destination: String) throws -> Bool {
        guard let file = WALFileName(name) else {
            throw WALArchiveError(
                problem: "'\(name)' is not a WAL file name; restore_command should be: pgbak wal-fetch %f %p")
        }
        let target = destination.hasPrefix("/") ? destination : dataDirectory + "/" + destination
        if rename(stagingDirectory + "/" + name, target) == 0 {
            logger.debug("served from the prefetch staging directory", metadata: ["wal": "\(name)"])
            return true
        }
        let versions = try archive.versions(of: file).sorted { $0.archived < $1.archived }
        guard let chosen = versions.first else { return false }
        try Self.write(try archive.content(of: chosen), to: target)
        return true
    }

    /// Records that recovery asked for `name` (the helper stages what follows it) and whether a helper must be
    /// started: none holds the staging directory's lock.
    public func requested(_ name: String) -> Bool {
        guard case .segment = WALFileName(name) else { return false }
        let fm = FileManager.default
        if !fm.fileExists(atPath: stagingDirectory), mkdir(stagingDirectory, 0o700) != 0 { return false }
        try? Self.write(Data(name.utf8), to: stagingDirectory + "/.cursor")
        let lock = open(stagingDirectory + "/.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard lock >= 0 else { return false }
        defer { close(lock) }
        return flock(lock, LOCK_EX | LOCK_NB) == 0
    }

    /// The helper: keeps the `ahead` segments after the newest one recovery took staged, until recovery has asked
    /// for nothing for `idleSeconds` or the data directory's postmaster is gone. One per data directory (a lock).
    public func prefetch() {
        let lock = open(stagingDirectory + "/.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard lock >= 0, flock(lock, LOCK_EX | LOCK_NB) == 0 else { return }
        defer { close(lock) }
        guard let size = try? archive.info()?.segmentSize else { return }
        // What is staged when the helper ends serves nobody: the next helper stages afresh.
        defer { Self.clearStaging(dataDirectory: dataDirectory) }
        var state = PrefetchState(ahead: UInt64(ahead))
        var lastProgress = Date()
        while Date().timeIntervalSince(lastProgress) < idleSeconds, serverMayRun() {
            guard let staged = try? FileManager.default.contentsOfDirectory(atPath: stagingDirectory) else { return }
            let cursor = (try? String(contentsOfFile: stagingDirectory + "/.cursor", encoding: .utf8))
                .flatMap { WALSegment(name: $0) }
            let wanted = state.next(
                cursor: cursor, staged: Set(staged.compactMap { WALSegment(name: $0) }), size: size)
            if state.progressed { lastProgress = Date() }
            for segment in state.passed { unlink(stagingDirectory + "/" + segment.name) }
            if wanted.isEmpty {
                usleep(20_000)
                continue
            }
            let written = ResultSlots<Bool>(count: wanted.count)
            defer { written.free() }
            DispatchQueue.concurrentPerform(iterations: min(2, wanted.count)) { lane in
                for i in stride(from: lane, to: wanted.count, by: 2) {
                    written.set(i, Result { try stage(wanted[i]) })
                }
            }
            let done = Set(wanted.indices.filter { (try? written.buffer[$0]?.get()) == true }.map { wanted[$0] })
            state.attempted(wanted, written: done, size: size)
        }
    }

    /// Decompresses one segment (checked against its SHA-256) into the staging directory; false when the archive
    /// does not hold it.
    func stage(_ segment: WALSegment) throws -> Bool {
        guard let chosen = try archive.versions(of: .segment(segment)).min(by: { $0.archived < $1.archived }) else {
            return false
        }
        try Self.write(try archive.content(of: chosen), to: stagingDirectory + "/" + segment.name)
        return true
    }

    /// False once the data directory's postmaster has exited (no postmaster.pid, or it names no live process).
    func serverMayRun() -> Bool {
        guard let text = try? String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8),
            let pid = text.split(separator: "\n").first.flatMap({ pid_t($0) })
        else { return false }
        return kill(pid, 0) == 0 || errno == EPERM
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
