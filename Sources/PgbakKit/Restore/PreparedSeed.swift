import Foundation
import Logging

/// A backup written next to a member's data directory while Patroni stops the old PostgreSQL and removes the old data
/// directory, so that the replica method only has to rename it into place. `restore --node` prepares one when the
/// member's data directory is on this host, the backup has no tablespaces (they would be written over the running
/// member's) and the filesystem has room for a second copy; otherwise the replica method writes the backup itself.
///
/// The writer holds an exclusive lock on `<seed>.lock` from before Patroni is asked until the copy is complete and
/// `<seed>.done` names the backup; the replica method takes the same lock, so it waits for the writer, and then
/// renames the seed into place or, when the seed is incomplete or for another backup, removes it.
public struct PreparedSeed: Sendable {
    public let dataDirectory: String

    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
    }

    /// `<parent>/.pgbak-seed.<name>`: on the data directory's filesystem, unless the data directory is a mount point.
    public var path: String {
        let url = URL(fileURLWithPath: dataDirectory)
        return url.deletingLastPathComponent().path + "/.pgbak-seed." + url.lastPathComponent
    }
    var lockPath: String { path + ".lock" }
    var donePath: String { path + ".done" }

    /// What the writer leaves in `<seed>.done`.
    struct Record: Codable {
        var backupID: String
        var files: Int
        var bytes: Int64

        enum CodingKeys: String, CodingKey {
            case files, bytes
            case backupID = "backup_id"
        }
    }

    /// An open descriptor holding the seed's lock; closing it releases the lock.
    public final class Lock: @unchecked Sendable {
        private var fd: Int32

        fileprivate init(fd: Int32) { self.fd = fd }

        public func release() {
            if fd >= 0 { close(fd) }
            fd = -1
        }

        deinit { release() }
    }

    /// Waits for and takes the seed's lock.
    public func lock() throws -> Lock {
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RestoreError(problem: "cannot open \(lockPath): \(Errno.text())") }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else {
                let problem = "cannot lock \(lockPath): \(Errno.text())"
                close(fd)
                throw RestoreError(problem: problem)
            }
        }
        return Lock(fd: fd)
    }

    /// Writes `chain`'s backup into the seed (anything left there by an earlier run is removed first). Call with the
    /// lock held; on failure nothing is left.
    public func write(
        _ chain: BackupChain, seeder: ReplicaSeeder, checkContent: Bool
    ) async throws -> Materializer.Result {
        clear()
        do {
            let result = try await seeder.seed(chain, into: path, checkContent: checkContent)
            let record = Record(backupID: chain.backup.id, files: result.files, bytes: result.bytes)
            try PgbakJSON.encoder().encode(record).write(to: URL(fileURLWithPath: donePath))
            return result
        } catch {
            clear()
            throw error
        }
    }

    /// The replica method's side: waits for the writer, then moves a complete seed of `backupID` into the (removed or
    /// empty) data directory. Nil, with the seed removed, when there is none to use.
    public func adopt(backupID: String) throws -> Materializer.Result? {
        let started = Date()
        let lock = try lock()
        defer { lock.release() }
        guard let data = FileManager.default.contents(atPath: donePath),
            let record = try? PgbakJSON.decoder().decode(Record.self, from: data), record.backupID == backupID
        else {
            clear()
            return nil
        }
        // Patroni removed the data directory before running the replica method; an empty one is removed too.
        if FileManager.default.fileExists(atPath: dataDirectory), rmdir(dataDirectory) != 0 {
            clear()
            return nil
        }
        guard rename(path, dataDirectory) == 0 else {
            clear()
            return nil
        }
        unlink(donePath)
        return Materializer.Result(
            files: record.files, bytes: record.bytes, tablespaces: [], seconds: Date().timeIntervalSince(started))
    }

    /// `restore --node`'s side: holds the lock from before Patroni is asked, writes the backup on a thread of its own
    /// once Patroni has agreed, and at the end waits for that writing (and for the replica method) and removes what
    /// is left of the seed.
    public final class Writer: @unchecked Sendable {
        public let seed: PreparedSeed
        private let lock: Lock
        private let logger: Logger
        /// Set before the thread starts; read by `finish` on the caller's thread only.
        private var started = false

        /// Nil when the lock cannot be taken.
        public init?(seed: PreparedSeed, logger: Logger) {
            guard let lock = try? seed.lock() else { return nil }
            (self.seed, self.lock, self.logger) = (seed, lock, logger)
        }

        /// Writes `chain`'s backup into the seed; the lock is released when it is written (or has failed: the
        /// replica method then writes the backup itself).
        public func start(_ chain: BackupChain, seeder: ReplicaSeeder, checkContent: Bool) {
            started = true
            let (seed, lock, logger) = (seed, lock, logger)
            Task.detached {
                defer { lock.release() }
                do {
                    _ = try await seed.write(chain, seeder: seeder, checkContent: checkContent)
                } catch {
                    logger.debug("writing the seed failed", metadata: ["error": "\(error.localizedDescription)"])
                }
            }
        }

        /// Taking the lock again waits for the writer; the replica method has renamed a seed it used.
        public func finish() {
            if !started { lock.release() }
            try? seed.lock().release()
            seed.remove()
        }
    }

    /// Removes the seed and its marker (the lock file stays for whoever holds it).
    public func clear() {
        unlink(donePath)
        if FileManager.default.fileExists(atPath: path) { try? FileManager.default.removeItem(atPath: path) }
    }

    /// Removes the seed, its marker and the lock file, once nobody will use them.
    public func remove() {
        clear()
        unlink(lockPath)
    }
}

extension PreparedSeed {
    /// The seed for `member` when one can be prepared here for `backup`; otherwise nil and why not.
    static func locate(member: PatroniMember, backup: StoredBackup, config: PgbakConfig, logger: Logger) -> (
        PreparedSeed?, String
    ) {
        let archives = backup.manifest.files.map(\.path).filter {
            $0.hasPrefix(PhysicalPart.directory + "/") && $0.hasSuffix(".tar.zst")
        }
        guard archives.allSatisfy({ $0.hasSuffix("/base.tar.zst") || $0.hasSuffix("/pg_wal.tar.zst") }) else {
            return (nil, "the backup has tablespaces")
        }
        guard let host = member.host, let port = member.port, LocalAddresses.current().contains(host) else {
            return (nil, "\(member.name) does not run on this host")
        }
        let dataDirectory: String
        do {
            let probe = LeaderProbe(config: config, logger: logger)
            let connection = try probe.connect(
                LeaderChoice(name: member.name, host: host, port: port, timeline: nil, apiURL: nil),
                database: "postgres")
            guard let value = try connection.query("show data_directory").first?.first ?? nil else {
                return (nil, "\(member.name) did not name its data directory")
            }
            dataDirectory = value
        } catch {
            return (nil, "cannot ask \(member.name) for its data directory: \(error.localizedDescription)")
        }
        let seed = PreparedSeed(dataDirectory: dataDirectory)
        let parent = (dataDirectory as NSString).deletingLastPathComponent
        // The seed becomes the data directory as it is: only the data directory's owner may write it.
        var owner = stat()
        guard stat(dataDirectory + "/PG_VERSION", &owner) == 0, owner.st_uid == geteuid(), access(parent, W_OK) == 0
        else {
            return (nil, "\(dataDirectory) is not a data directory this user owns and can write beside")
        }
        var parentStat = stat()
        guard stat(parent, &parentStat) == 0, parentStat.st_dev == owner.st_dev else {
            return (nil, "\(dataDirectory) is a filesystem of its own: a seed beside it could not be renamed in")
        }
        let needed = backup.manifest.cluster.databaseBytes + backup.manifest.cluster.databaseBytes / 5 + (256 << 20)
        guard let free = FreeSpace.bytes(at: parent), free > needed else {
            return (nil, "\(parent) has no room for a second copy (\(needed) bytes)")
        }
        return (seed, "")
    }
}
