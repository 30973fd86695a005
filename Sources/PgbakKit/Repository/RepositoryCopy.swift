import Foundation
import Logging

/// Copies backups and the WAL archive from one repository into another (directory ↔ bucket): how a repository moves
/// to object storage, and how a second, off-site copy is kept. Every file is checked against its manifest checksum
/// as it is read and streamed into the target as it is written; a backup appears in the target only when all of it
/// is there (the target's own publish: rename, or the manifest uploaded last), with its manifest byte for byte.
/// Backups the target has already are left alone, so running it again copies only what is new.
public struct RepositoryCopy: Sendable {
    public let source: any BackupRepository
    public let target: any BackupRepository
    public let logger: Logger

    public init(source: any BackupRepository, target: any BackupRepository, logger: Logger) {
        self.source = source
        self.target = target
        self.logger = logger
    }

    public struct Copied: Sendable {
        public var id: String
        public var files: Int
        public var bytes: Int64
        public var seconds: Double
    }

    public struct Outcome: Sendable {
        public var copied: [Copied]
        public var skipped: [String]
        public var walFiles: Int
        public var walBytes: Int64
    }

    /// Copies `ids` (nil: every complete backup) with the backups incremental ones among them depend on, then the WAL
    /// archive's files the target lacks. Take the target's lock first.
    public func run(ids: [String]?) throws -> Outcome {
        let (stored, problems) = try source.backups(detail: .full)
        for problem in problems { logger.warning("\(problem)") }
        let requested =
            try ids.map { ids in
                try ids.map { id in
                    guard let backup = stored.first(where: { $0.id == id }) else {
                        throw RepositoryError(path: source.location, problem: "has no backup \(id)")
                    }
                    return backup
                }
            } ?? stored.filter { $0.manifest.status == .complete }
        let present = try target.takenIDs()
        // An incremental backup is copied with the backups it depends on, oldest first.
        var seen: Set<String> = []
        let wanted = try requested.flatMap { try source.chain(of: $0, among: stored).backups }
            .filter { seen.insert($0.id).inserted }.sorted { $0.id < $1.id }
        var outcome = Outcome(copied: [], skipped: [], walFiles: 0, walBytes: 0)
        for backup in wanted {
            if present.contains(backup.id) {
                outcome.skipped.append(backup.id)
                continue
            }
            try source.markInUse(id: backup.id)
            defer { source.releaseUse(id: backup.id) }
            outcome.copied.append(try copy(backup))
        }
        (outcome.walFiles, outcome.walBytes) = try copyWAL()
        return outcome
    }

    private func copy(_ backup: StoredBackup) throws -> Copied {
        let started = Date()
        let files = try source.files(of: backup)
        guard var manifest = try files.contents(Manifest.fileName),
            var checksum = try files.contents(Manifest.checksumFileName)
        else {
            throw RepositoryError(
                path: files.describe(Manifest.fileName), problem: "the manifest or its checksum is missing")
        }
        let encryption = target.encryptionKey.map(Manifest.Encryption.init)
        if encryption != backup.manifest.encryption {
            // Encrypted in one repository and not (or with another key) in the other: the files are decrypted as
            // they are read and sealed as they are written, and the manifest says how the target stores them.
            var changed = backup.manifest
            changed.encryption = encryption
            changed.version = Manifest.version(
                encrypted: encryption != nil, incremental: changed.physical.incremental != nil)
            manifest = try changed.encoded()
            checksum = Data((WALArchive.sha256(manifest) + "\n").utf8)
        }
        let staging = try target.createStaging(id: backup.id)
        var bytes: Int64 = 0
        do {
            for record in backup.manifest.files {
                try FileManager.default.createDirectory(
                    atPath: ((staging.directory + "/" + record.path) as NSString).deletingLastPathComponent,
                    withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                let sink = try staging.sink(record.path, checksum: record.checksum.algorithm)
                do {
                    try files.read(record.path, size: record.bytes) { try sink.write($0) }
                    let written = try sink.finish(relativePath: record.path)
                    guard written.checksum == record.checksum, written.bytes == record.bytes else {
                        throw RepositoryError(
                            path: files.describe(record.path),
                            problem: "differs from its manifest entry (\(written.bytes) bytes, "
                                + "\(written.checksum.algorithm.displayName) \(written.checksum.hex); the manifest says "
                                + "\(record.bytes), \(record.checksum.hex)): the source backup is damaged, nothing "
                                + "of \(backup.id) was copied")
                    }
                } catch {
                    sink.discard()
                    throw error
                }
                bytes += record.bytes
                logger.debug("copied", metadata: ["backup.id": "\(backup.id)", "file": "\(record.path)"])
            }
            // The manifest byte for byte (unless the encryption differs), so that its checksum file stays true.
            for (name, data) in [(Manifest.fileName, manifest), (Manifest.checksumFileName, checksum)] {
                let sink = try FileSink(path: staging.directory + "/" + name)
                try data.withUnsafeBytes { try sink.write($0) }
                _ = try sink.finish(relativePath: name)
            }
            try target.publish(id: backup.id)
        } catch {
            try? target.discardStaging(id: backup.id)
            throw error
        }
        return Copied(
            id: backup.id, files: backup.manifest.files.count, bytes: bytes,
            seconds: Date().timeIntervalSince(started))
    }

    /// The WAL archive's files the target lacks, each checked (decompressed against the SHA-256 in its key) before
    /// it is stored; `wal/archive.json` first, refusing an archive of another cluster.
    private func copyWAL() throws -> (files: Int, bytes: Int64) {
        let from = source.walArchive
        guard let info = try from.info() else { return (0, 0) }
        let to = target.walArchive
        _ = try to.adopt(info)
        let have = Set(try target.store.list(under: "wal").map(\.key))
        var count = 0
        var bytes: Int64 = 0
        for item in try from.contents() where !have.contains(item.key) {
            guard let data = try source.store.read(item.key) else { continue }
            // Decrypted with the source's key (if any), checked, sealed with the target's (if any).
            let compressed = try from.compressed(item, stored: data)
            _ = try from.content(of: item, compressed: compressed)
            if try to.store(compressed: compressed, key: item.key, modified: item.archived) {
                count += 1
                bytes += Int64(compressed.count)
            }
        }
        return (count, bytes)
    }
}
