import Crypto
import Foundation

/// A WAL archive problem: a conflict, a damaged file, an archive of another cluster.
public struct WALArchiveError: LocalizedError, Sendable {
    public var problem: String
    public init(problem: String) { self.problem = problem }
    public var errorDescription: String? { problem }
}

/// What the archive records about itself in `wal/archive.json`, written by the first push.
public struct WALArchiveInfo: Codable, Sendable, Equatable {
    public var systemIdentifier: String
    public var segmentSize: UInt64

    enum CodingKeys: String, CodingKey {
        case systemIdentifier = "system_identifier", segmentSize = "wal_segment_size"
    }
}

/// One archived WAL file: `wal/<TLI>/<TLI+log>/<name>-<sha256>.zst` for segments, `wal/<TLI>/<name>-<sha256>.zst`
/// for history files. The checksum in the key (SHA-256 of the uncompressed file) tells at a listing whether an
/// incoming file is the one already archived.
public struct ArchivedWAL: Sendable, Equatable {
    public var file: WALFileName
    public var sha256: String
    public var key: String
    public var size: Int64
    public var archived: Date

    init?(_ object: StoredObject) {
        guard object.key.hasSuffix(".zst"), let base = object.key.split(separator: "/").last?.dropLast(4),
            let dash = base.lastIndex(of: "-"), let file = WALFileName(String(base[..<dash]))
        else { return nil }
        self.file = file
        sha256 = String(base[base.index(after: dash)...])
        key = object.key
        size = object.size
        archived = object.modified
    }
}

/// The WAL archive inside a repository store. With a key, each file is stored compressed, then sealed
/// (`SealedFile`); the name keeps the plaintext's SHA-256, which tells an identical push at a listing.
public struct WALArchive: Sendable {
    public let store: any RepositoryStore
    let key: RepositoryKey?
    static let infoKey = "wal/archive.json"

    public init(store: any RepositoryStore, key: RepositoryKey? = nil) {
        self.store = store
        self.key = key
    }

    public func info() throws -> WALArchiveInfo? {
        guard let data = try store.read(Self.infoKey) else { return nil }
        do {
            return try JSONDecoder().decode(WALArchiveInfo.self, from: data)
        } catch {
            throw WALArchiveError(problem: "\(store.location)/\(Self.infoKey) cannot be read: \(error)")
        }
    }

    /// The archive's info; created from `proposed` when the archive is new, else checked against it.
    public func adopt(_ proposed: WALArchiveInfo) throws -> WALArchiveInfo {
        if let info = try info() {
            guard info.systemIdentifier == proposed.systemIdentifier else {
                throw WALArchiveError(
                    problem: "the WAL archive in \(store.location) belongs to the cluster with system identifier "
                        + "\(info.systemIdentifier); this server's is \(proposed.systemIdentifier). Refusing to mix two "
                        + "clusters' WAL: give this cluster a repository of its own (repository.path)")
            }
            return info
        }
        let data = try PgbakJSON.encoder().encode(proposed)
        if try !store.create(Self.infoKey, data: data, modified: nil) { return try adopt(proposed) }
        return proposed
    }

    static func folder(of file: WALFileName) -> String {
        let timeline = String(format: "wal/%08X", file.timeline)
        switch file {
        case .history: return timeline
        case .segment(let s), .partial(let s), .backupHistory(let s, _):
            return timeline + "/" + String(s.name.prefix(16))
        }
    }

    /// Every archived copy of `file` (normally none or one).
    public func versions(of file: WALFileName) throws -> [ArchivedWAL] {
        let prefix = file.description + "-"
        return try store.listFolder(Self.folder(of: file)).compactMap(ArchivedWAL.init)
            .filter { $0.file == file && $0.key.split(separator: "/").last?.hasPrefix(prefix) == true }
    }

    /// Everything archived.
    public func contents() throws -> [ArchivedWAL] {
        try store.list(under: "wal").compactMap(ArchivedWAL.init)
    }

    public static func sha256(_ data: Data) -> String { SHA256.hash(data: data).hexString }

    /// Stores `content` as `file` (compressed) unless an identical copy is there; returns whether it wrote.
    public func store(_ file: WALFileName, content: Data, sha256: String, level: Int, modified: Date?) throws -> Bool {
        let compressed = try ZstdBlock.compress(content, level: level, name: file.description)
        return try store(
            compressed: compressed, key: Self.folder(of: file) + "/\(file)-\(sha256).zst", modified: modified)
    }

    /// Stores the compressed form of an archived file under `key` (sealed with the archive's key, if any); returns
    /// whether it wrote.
    func store(compressed: Data, key name: String, modified: Date?) throws -> Bool {
        let stored = try key.map { try SealedFile.seal(compressed, key: $0) } ?? compressed
        return try store.create(name, data: stored, modified: modified)
    }

    /// The compressed form of `stored`, the bytes of `archived` as read from the store: decrypted when sealed.
    func compressed(_ archived: ArchivedWAL, stored data: Data) throws -> Data {
        do {
            return try SealedReading.open(data, key: key, name: "\(store.location)/\(archived.key)")
        } catch let error as EncryptionError {
            throw WALArchiveError(problem: "\(error.problem): the archived \(archived.file) cannot be read")
        }
    }

    /// The uncompressed content of one archived copy, checked against the checksum in its key.
    public func content(of archived: ArchivedWAL) throws -> Data {
        guard let data = try store.read(archived.key) else {
            throw WALArchiveError(problem: "\(store.location)/\(archived.key) vanished while being read")
        }
        return try content(of: archived, compressed: try compressed(archived, stored: data))
    }

    /// The uncompressed content of `compressed` (`archived` as read from the store, decrypted), checked against the
    /// checksum in its key.
    func content(of archived: ArchivedWAL, compressed: Data) throws -> Data {
        let content: Data
        do {
            content = try ZstdBlock.decompress(compressed, name: "\(store.location)/\(archived.key)")
        } catch {
            throw WALArchiveError(problem: "\(error.localizedDescription): the archived \(archived.file) is damaged")
        }
        let actual = Self.sha256(content)
        guard actual == archived.sha256 else {
            throw WALArchiveError(
                problem: "\(store.location)/\(archived.key) decompresses to SHA-256 \(actual), not the "
                    + "\(archived.sha256) it was archived with: the archived \(archived.file) is damaged")
        }
        return content
    }

    /// The content of `file`, or nil when the archive does not hold it.
    public func fetch(_ file: WALFileName) throws -> Data? {
        let found = try versions(of: file).sorted { $0.archived < $1.archived }
        guard let first = found.first else { return nil }
        return try content(of: first)
    }

    /// The archive's `.history` files, parsed.
    public func histories(in contents: [ArchivedWAL]) throws -> [UInt32: TimelineHistory] {
        var result: [UInt32: TimelineHistory] = [:]
        for item in contents {
            guard case .history(let timeline) = item.file, result[timeline] == nil else { continue }
            let text = String(decoding: try content(of: item), as: UTF8.self)
            result[timeline] = try TimelineHistory(timeline: timeline, text: text)
        }
        return result
    }

    /// Continuity of the archive along the newest timeline, from `start` (see `WALContinuity.check`).
    public func continuity(from start: (timeline: UInt32, lsn: LSN)? = nil) throws -> WALContinuity? {
        guard let info = try info() else { return nil }
        let all = try contents()
        return WALContinuity.check(
            files: all.map { ($0.file, $0.archived) }, histories: try histories(in: all), segmentSize: info.segmentSize,
            from: start)
    }
}
