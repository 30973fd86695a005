import Foundation

/// A repository on a POSIX filesystem (local disk or NFS):
/// `backups/<id>/` (complete), `staging/<id>/` (in progress), `pgbak.lock`, `run/<pid>/` (a run's secrets).
public struct PosixRepository: BackupRepository {
    public let root: String
    public let owner: String
    public let encryptionKey: RepositoryKey?

    public init(root: String, owner: String, encryptionKey: RepositoryKey? = nil) {
        self.root = root
        self.owner = owner
        self.encryptionKey = encryptionKey
    }

    public var location: String { root }
    public var store: any RepositoryStore { PosixStore(root: root) }
    var backupsDir: String { root + "/backups" }
    var stagingDir: String { root + "/staging" }

    public func prepare() throws {
        let user = RepositoryOwnership.currentUserName()
        guard user == owner else {
            throw RepositoryError(
                path: root,
                problem: "pgbak runs as '\(user)', but the repository belongs to the "
                    + "PostgreSQL OS user '\(owner)' (repository.owner): run it as that user, e.g. sudo -u \(owner) pgbak ..."
            )
        }
        let fm = FileManager.default
        if !fm.fileExists(atPath: root) {
            do {
                try fm.createDirectory(
                    atPath: root, withIntermediateDirectories: true,
                    attributes: [.posixPermissions: 0o700])
            } catch {
                throw RepositoryError(
                    path: root,
                    problem: "does not exist and cannot be created: "
                        + "\(error.localizedDescription); create it owned by \(owner) with mode 0700")
            }
        }
        try RepositoryOwnership.check(path: root, owner: owner)
        guard access(root, R_OK | W_OK | X_OK) == 0 else {
            throw RepositoryError(
                path: root,
                problem: "is not readable, writable and searchable for \(owner): "
                    + "fix with: chmod 0700 \(root)")
        }
        for dir in [backupsDir, stagingDir, root + "/run"] {
            if !fm.fileExists(atPath: dir), mkdir(dir, 0o700) != 0 {
                throw RepositoryError(path: dir, problem: "cannot create: \(Errno.text())")
            }
            try RepositoryOwnership.check(path: dir, owner: owner)
        }
    }

    public func lock() throws -> any RunLock {
        try RepositoryLock(path: root + "/pgbak.lock")
    }

    public func backups(detail: Manifest.Detail) throws -> (backups: [StoredBackup], problems: [String]) {
        guard FileManager.default.fileExists(atPath: backupsDir) else { return ([], []) }
        let names = try listDirectory(backupsDir).sorted().filter(BackupID.isValid)
        // Manifests are read and decoded on every core: a repository of years of backups lists in a blink.
        let (found, problems) = ResultSlots.concurrentMap(names.count) { try load(names[$0], detail: detail) }
        return (found, problems)
    }

    public func newestComplete(detail: Manifest.Detail) throws -> StoredBackup? {
        guard FileManager.default.fileExists(atPath: backupsDir) else { return nil }
        let names = try listDirectory(backupsDir).filter(BackupID.isValid).sorted(by: >)
        return names.lazy.compactMap { try? load($0, detail: detail) }.first { $0.manifest.status == .complete }
    }

    private func load(_ name: String, detail: Manifest.Detail) throws -> StoredBackup {
        let path = "\(backupsDir)/\(name)/\(Manifest.fileName)"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ManifestError(source: path, problem: "is missing or unreadable")
        }
        let manifest = try Manifest.decode(data, source: path, detail: detail)
        guard manifest.backupID == name else {
            throw ManifestError(source: path, problem: "names backup \(manifest.backupID), not \(name)")
        }
        return StoredBackup(id: name, manifest: manifest, verifications: verifications(id: name))
    }

    public func takenIDs() throws -> Set<String> {
        Set(try listDirectory(backupsDir) + listDirectory(stagingDir)).union(
            try listDirectory(stagingDir).map { String($0.prefix(16)) })
    }

    public func createStaging(id: String) throws -> StagingArea {
        let path = "\(stagingDir)/\(id)"
        guard mkdir(path, 0o700) == 0 else {
            throw RepositoryError(path: path, problem: "cannot create the staging directory: \(Errno.text())")
        }
        return StagingArea(directory: path, key: encryptionKey)
    }

    public func publish(id: String) throws {
        let staged = "\(stagingDir)/\(id)"
        try Durability.syncTree(staged)
        let target = "\(backupsDir)/\(id)"
        guard rename(staged, target) == 0 else {
            throw RepositoryError(path: staged, problem: "cannot move into backups/: \(Errno.text())")
        }
        try Durability.syncDirectory(backupsDir)
        try Durability.syncDirectory(stagingDir)
    }

    public func discardStaging(id: String) throws {
        try removeTree("\(stagingDir)/\(id)")
    }

    public func delete(id: String) throws {
        guard BackupID.isValid(id) else { throw RepositoryError(path: root, problem: "'\(id)' is not a backup id") }
        let doomed = "\(stagingDir)/\(id).deleting"
        guard rename("\(backupsDir)/\(id)", doomed) == 0 else {
            throw RepositoryError(path: "\(backupsDir)/\(id)", problem: "cannot remove: \(Errno.text())")
        }
        try Durability.syncDirectory(backupsDir)
        try removeTree(doomed)
    }

    public func cleanStaleStaging() throws -> [String] {
        var report: [String] = []
        let leftovers = try listDirectory(stagingDir)
        // Scanning every process's open files takes a while on a busy host: only when there is something to clean.
        let openPaths = leftovers.isEmpty ? [] : OpenFiles.pathsInUse(under: stagingDir)
        for name in leftovers {
            let path = "\(stagingDir)/\(name)"
            if let user = openPaths.first(where: { $0.path.hasPrefix(path + "/") || $0.path == path }) {
                report.append("kept staging/\(name): process \(user.pid) still has \(user.path) open")
                continue
            }
            try removeTree(path)
            report.append("removed staging/\(name) left by an earlier run")
        }
        for name in try listDirectory(root + "/run") {
            if let pid = Int32(name), kill(pid, 0) == 0 || errno == EPERM { continue }
            try removeTree(root + "/run/" + name)
        }
        return report
    }

    public func freeBytes() throws -> Int64 {
        guard let free = FreeSpace.bytes(at: root) else {
            throw RepositoryError(path: root, problem: "statvfs failed: \(Errno.text())")
        }
        return free
    }

    public func runDirectory() -> String { "\(root)/run/\(getpid())" }

    public func directory(of id: String) -> String { "\(backupsDir)/\(id)" }

    public func files(of id: String) -> BackupFiles { BackupFiles(directory: directory(of: id), key: encryptionKey) }

    public func listFiles(id: String) throws -> [String: Int64] {
        let base = directory(of: id)
        guard let enumerator = FileManager.default.enumerator(atPath: base) else {
            throw RepositoryError(path: base, problem: "cannot list the backup's files")
        }
        var files: [String: Int64] = [:]
        while let relative = enumerator.nextObject() as? String {
            if relative == Manifest.fileName || relative == Manifest.checksumFileName { continue }
            if relative == verificationDirectoryName {
                enumerator.skipDescendants()
                continue
            }
            var st = stat()
            guard lstat(base + "/" + relative, &st) == 0 else { continue }
            if (st.st_mode & S_IFMT) != S_IFDIR { files[relative] = Int64(st.st_size) }
        }
        return files
    }

    public func record(_ verification: VerificationRecord) throws {
        let dir = directory(of: verification.backupID) + "/" + verificationDirectoryName
        if !FileManager.default.fileExists(atPath: dir), mkdir(dir, 0o700) != 0 {
            throw RepositoryError(path: dir, problem: "cannot create: \(Errno.text())")
        }
        let temporary = "\(dir)/.\(verification.fileName).\(getpid())"
        let sink = try FileSink(path: temporary)
        try verification.encoded().withUnsafeBytes { try sink.write($0) }
        _ = try sink.finish(relativePath: verification.fileName)
        guard rename(temporary, "\(dir)/\(verification.fileName)") == 0 else {
            unlink(temporary)
            throw RepositoryError(path: dir, problem: "cannot store the verification record: \(Errno.text())")
        }
        try Durability.syncDirectory(dir)
    }

    public func markInUse(id: String) throws {
        let dir = runDirectory()
        guard mkdir(dir, 0o700) == 0 || errno == EEXIST else {
            throw RepositoryError(path: dir, problem: "cannot create: \(Errno.text())")
        }
        let fd = open("\(dir)/in-use-\(id)", O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RepositoryError(path: dir, problem: "cannot mark \(id) in use: \(Errno.text())") }
        close(fd)
    }

    public func releaseUse(id: String) {
        unlink("\(runDirectory())/in-use-\(id)")
    }

    public func backupsInUse() -> Set<String> {
        var ids: Set<String> = []
        for pidName in (try? listDirectory(root + "/run")) ?? [] {
            guard let pid = Int32(pidName), kill(pid, 0) == 0 || errno == EPERM else { continue }
            for entry in (try? listDirectory(root + "/run/" + pidName)) ?? [] where entry.hasPrefix("in-use-") {
                ids.insert(String(entry.dropFirst("in-use-".count)))
            }
        }
        return ids
    }

    func verifications(id: String) -> [VerificationRecord] {
        let dir = directory(of: id) + "/" + verificationDirectoryName
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter {
            $0.hasSuffix(".json") && !$0.hasPrefix(".")
        }.sorted()
        return names.compactMap { name in
            FileManager.default.contents(atPath: dir + "/" + name).flatMap { try? VerificationRecord.decode($0) }
        }
    }

    func listDirectory(_ path: String) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw RepositoryError(path: path, problem: "cannot list: \(error.localizedDescription)")
        }
    }

    func removeTree(_ path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            throw RepositoryError(path: path, problem: "cannot remove: \(error.localizedDescription)")
        }
    }
}

/// One result per index, written by concurrent iterations, each to its own slot.
struct ResultSlots<T>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Result<T, any Error>?>

    init(count: Int) {
        buffer = .allocate(capacity: count)
        buffer.initialize(repeating: nil)
    }

    func set(_ index: Int, _ value: Result<T, any Error>) { buffer[index] = value }

    func free() {
        _ = buffer.deinitialize()
        buffer.deallocate()
    }

    /// `body` for every index, on every core: the values in index order, and the failures' messages.
    static func concurrentMap(_ count: Int, _ body: @Sendable (Int) throws -> T) -> (values: [T], problems: [String]) {
        let slots = ResultSlots<T>(count: count)
        defer { slots.free() }
        DispatchQueue.concurrentPerform(iterations: count) { i in slots.set(i, Result { try body(i) }) }
        var values: [T] = []
        var problems: [String] = []
        for slot in slots.buffer {
            switch slot {
            case .success(let value): values.append(value)
            case .failure(let error): problems.append(error.localizedDescription)
            case nil: break
            }
        }
        return (values, problems)
    }
}
