import Foundation

/// A repository in an S3 bucket, with the POSIX repository's layout as keys: `backups/<id>/...`, `wal/...`,
/// `requests/...`, the lease `pgbak.lease`, and `in-use/<id>/<host>-<pid>` markers.
///
/// There is no rename: a backup's files are uploaded under `backups/<id>/` as they are produced, and the backup
/// exists from the moment its manifest object, written last (after its checksum), does. A prefix without a manifest
/// is a run that died or failed: the next run (holding the lease, so no other writer is live) deletes its objects and
/// aborts the multipart uploads it left. `localRoot` (repository.path) is this host's working directory: run files,
/// and the small files a run holds until publishing.
public struct S3Repository: BackupRepository {
    public let client: S3Client
    /// This host's working directory, laid out as a POSIX repository that never holds a published backup.
    public let local: PosixRepository
    public let scope: String
    public let lockWaitSeconds: Int
    static let backupsPrefix = "backups/"
    static let inUsePrefix = "in-use/"
    /// A marker of a process on another host counts this long (its liveness cannot be checked from here).
    static let inUseHours = 12.0

    public init(
        client: S3Client, localRoot: String, owner: String, scope: String, lockWaitSeconds: Int = 0,
        encryptionKey: RepositoryKey? = nil
    ) {
        self.client = client
        local = PosixRepository(root: localRoot, owner: owner, encryptionKey: encryptionKey)
        self.scope = scope
        self.lockWaitSeconds = lockWaitSeconds
    }

    public var location: String { client.settings.location }
    public var encryptionKey: RepositoryKey? { local.encryptionKey }
    public var store: any RepositoryStore { S3Store(client: client) }

    public func prepare() throws {
        try local.prepare()
        try client.checkBucket()
    }

    public func lock() throws -> any RunLock {
        try S3Lease.acquire(client: client, scope: scope, waitSeconds: lockWaitSeconds)
    }

    /// What one listing of `backups/` shows, by backup id.
    struct Listing {
        var files: [String: [S3Object]] = [:]
        var published: Set<String> {
            Set(files.filter { $0.value.contains { $0.key.hasSuffix("/" + Manifest.fileName) } }.keys)
        }
    }

    func listing() throws -> Listing {
        var listing = Listing()
        for object in try client.list(prefix: Self.backupsPrefix).objects {
            let parts = object.key.dropFirst(Self.backupsPrefix.count).split(separator: "/", maxSplits: 1)
            guard parts.count == 2, BackupID.isValid(String(parts[0])) else { continue }
            listing.files[String(parts[0]), default: []].append(object)
        }
        return listing
    }

    static func key(_ id: String, _ relative: String) -> String { "\(backupsPrefix)\(id)/\(relative)" }

    public func backups(detail: Manifest.Detail) throws -> (backups: [StoredBackup], problems: [String]) {
        let listing = try listing()
        let ids = listing.published.sorted()
        let files = listing.files
        let (found, problems) = ResultSlots.concurrentMap(ids.count) {
            try load(ids[$0], detail: detail, objects: files[ids[$0]] ?? [])
        }
        return (found, problems)
    }

    public func newestComplete(detail: Manifest.Detail) throws -> StoredBackup? {
        let listing = try listing()
        return listing.published.sorted(by: >).lazy.compactMap {
            try? load($0, detail: detail, objects: listing.files[$0] ?? [])
        }.first { $0.manifest.status == .complete }
    }

    private func load(_ id: String, detail: Manifest.Detail, objects: [S3Object]) throws -> StoredBackup {
        let key = Self.key(id, Manifest.fileName)
        guard let data = try client.get(key) else {
            throw ManifestError(source: client.describe(key), problem: "vanished while being read")
        }
        let manifest = try Manifest.decode(data, source: client.describe(key), detail: detail)
        guard manifest.backupID == id else {
            throw ManifestError(source: client.describe(key), problem: "names backup \(manifest.backupID), not \(id)")
        }
        let records = objects.filter { $0.key.hasPrefix(Self.key(id, verificationDirectoryName + "/")) }
            .sorted { $0.key < $1.key }
            .compactMap { try? client.get($0.key) }.compactMap { try? VerificationRecord.decode($0) }
        return StoredBackup(id: id, manifest: manifest, verifications: records)
    }

    public func takenIDs() throws -> Set<String> {
        try Set(listing().files.keys).union(local.takenIDs())
    }

    public func createStaging(id: String) throws -> StagingArea {
        StagingArea(
            directory: try local.createStaging(id: id).directory,
            objects: S3StagedObjects(client: client, prefix: Self.key(id, "")), key: encryptionKey)
    }

    /// Uploads the manifest's checksum, then the manifest (the backup appears), then drops the local spool.
    public func publish(id: String) throws {
        let spool = local.stagingDir + "/" + id
        for name in [Manifest.checksumFileName, Manifest.fileName] {
            guard let data = FileManager.default.contents(atPath: spool + "/" + name) else {
                throw RepositoryError(path: spool, problem: "\(name) is missing: nothing was published")
            }
            guard try client.put(Self.key(id, name), data: data, ifNoneMatch: true) != .preconditionFailed else {
                throw RepositoryError(
                    path: client.describe(Self.key(id, name)), problem: "exists already: nothing was published")
            }
        }
        try local.discardStaging(id: id)
    }

    /// Deletes what a failed run uploaded (manifest first, so nothing half-deleted looks published) and aborts its
    /// multipart uploads.
    public func discardStaging(id: String) throws {
        try deleteObjects(of: id)
        try local.discardStaging(id: id)
    }

    public func delete(id: String) throws {
        guard BackupID.isValid(id) else { throw RepositoryError(path: location, problem: "'\(id)' is not a backup id") }
        try deleteObjects(of: id)
    }

    private func deleteObjects(of id: String) throws {
        try client.delete(Self.key(id, Manifest.fileName))
        let objects = try client.list(prefix: Self.key(id, "")).objects
        try forEachConcurrently(objects.map(\.key).filter { !$0.hasSuffix("/" + Manifest.fileName) }) {
            try client.delete($0)
        }
        for upload in try client.pendingUploads(prefix: Self.key(id, "")) {
            try client.abortMultipart(upload.key, uploadID: upload.uploadID)
        }
    }

    /// Runs `body` on up to 8 items at once; the first error is rethrown after all have run.
    private func forEachConcurrently(_ items: [String], _ body: @Sendable (String) throws -> Void) throws {
        let slots = ResultSlots<Void>(count: items.count)
        defer { slots.free() }
        let width = min(8, max(items.count, 1))
        DispatchQueue.concurrentPerform(iterations: width) { lane in
            for i in stride(from: lane, to: items.count, by: width) { slots.set(i, Result { try body(items[i]) }) }
        }
        for slot in slots.buffer { if case .failure(let error) = slot { throw error } }
    }

    /// Called holding the lease: every prefix without a manifest is a dead run's, as is every pending multipart
    /// upload below `backups/`.
    public func cleanStaleStaging() throws -> [String] {
        var report = try local.cleanStaleStaging()
        let listing = try listing()
        for id in Set(listing.files.keys).subtracting(listing.published).sorted() {
            try deleteObjects(of: id)
            report.append("removed \(client.describe(Self.key(id, ""))) (no manifest) left by an earlier run")
        }
        for upload in try client.pendingUploads(prefix: Self.backupsPrefix) {
            try client.abortMultipart(upload.key, uploadID: upload.uploadID)
            report.append("aborted the unfinished upload of \(client.describe(upload.key)) left by an earlier run")
        }
        return report
    }

    /// The bucket has no size to check against.
    public func freeBytes() throws -> Int64 { Int64.max }

    public func runDirectory() -> String { local.runDirectory() }

    public func files(of id: String) -> BackupFiles {
        BackupFiles(client: client, prefix: Self.key(id, ""), key: encryptionKey)
    }

    public func listFiles(id: String) throws -> [String: Int64] {
        let base = Self.key(id, "")
        var files: [String: Int64] = [:]
        for object in try client.list(prefix: base).objects {
            let relative = String(object.key.dropFirst(base.count))
            if relative == Manifest.fileName || relative == Manifest.checksumFileName
                || relative.hasPrefix(verificationDirectoryName + "/")
            {
                continue
            }
            files[relative] = object.size
        }
        return files
    }

    public func record(_ verification: VerificationRecord) throws {
        let key = Self.key(verification.backupID, verificationDirectoryName + "/" + verification.fileName)
        _ = try client.put(key, data: try verification.encoded())
    }

    private var marker: String { "\(ProcessInfo.processInfo.hostName)-\(getpid())" }

    public func markInUse(id: String) throws {
        try local.markInUse(id: id)
        _ = try client.put("\(Self.inUsePrefix)\(id)/\(marker)", data: Data())
    }

    public func releaseUse(id: String) {
        local.releaseUse(id: id)
        try? client.delete("\(Self.inUsePrefix)\(id)/\(marker)")
    }

    /// Backups a live process marked: on this host checked by PID, on others counted for `inUseHours`.
    public func backupsInUse() -> Set<String> {
        let host = ProcessInfo.processInfo.hostName
        var ids = local.backupsInUse()
        for object in (try? client.list(prefix: Self.inUsePrefix).objects) ?? [] {
            let parts = object.key.dropFirst(Self.inUsePrefix.count).split(separator: "/")
            guard parts.count == 2 else { continue }
            let name = parts[1]
            if name.hasPrefix(host + "-"), let pid = Int32(name.dropFirst(host.count + 1)) {
                if kill(pid, 0) == 0 || errno == EPERM { ids.insert(String(parts[0])) }
            } else if Date().timeIntervalSince(object.modified) < Self.inUseHours * 3600 {
                ids.insert(String(parts[0]))
            }
        }
        return ids
    }
}
