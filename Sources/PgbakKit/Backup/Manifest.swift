import Foundation

/// The record of one backup, written last into its directory as `manifest.json`. Never holds a secret.
public struct Manifest: Codable, Sendable, Equatable {
    public static let formatName = "pgbak-manifest"
    /// 4: an incremental base backup (`physical.incremental`); 3: files stored encrypted (`encryption`); 2: files
    /// carry CRC-32C (`crc32c`); 1, pgbak 0.1: SHA-256 (`sha256`). All are read.
    public static let currentVersion = 4
    /// The version written for a backup stored in plaintext (readable by pgbak before encryption).
    public static let plaintextVersion = 2
    public static let readableVersions = 1...currentVersion

    /// The lowest version that describes such a backup, so that a pgbak too old to restore it correctly refuses to
    /// read it instead of restoring part of it.
    public static func version(encrypted: Bool, incremental: Bool) -> Int {
        incremental ? 4 : encrypted ? 3 : plaintextVersion
    }
    public static let fileName = "manifest.json"
    /// Holds the SHA-256 of `manifest.json` (hex, newline), so an edited manifest is caught.
    public static let checksumFileName = "manifest.sha256"

    public enum PartStatus: String, Codable, Sendable {
        case complete, partial, failed, skipped
    }

    public struct Cluster: Codable, Sendable, Equatable {
        public var scope: String
        public var systemIdentifier: String
        public var timeline: Int
        public var serverVersion: String
        public var serverVersionNum: Int
        /// Total on-disk size of all databases when the backup started.
        public var databaseBytes: Int64

        enum CodingKeys: String, CodingKey {
            case scope, timeline
            case systemIdentifier = "system_identifier", serverVersion = "server_version"
            case serverVersionNum = "server_version_num", databaseBytes = "database_bytes"
        }
    }

    public struct Leader: Codable, Sendable, Equatable {
        public var name: String
        public var host: String
        public var port: Int
        public var patroniVersion: String?

        enum CodingKeys: String, CodingKey {
            case name, host, port
            case patroniVersion = "patroni_version"
        }
    }

    public struct Physical: Codable, Sendable, Equatable {
        public var status: PartStatus
        public var label: String
        public var startLSN: String?
        public var stopLSN: String?
        public var startTimeline: Int?
        public var stopTimeline: Int?
        public var toolVersion: String
        public var files: [String]
        public var seconds: Double
        /// When pg_basebackup had finished: the backup is consistent no later than this (point-in-time recovery to
        /// an earlier moment needs an older backup). Absent before pgbak 0.3.
        public var stopTime: Date? = nil
        /// Set for an incremental base backup (PostgreSQL 17+): restoring it needs every backup of its chain.
        public var incremental: Incremental? = nil
        /// Why this base backup is a full one although `base_backup.incremental` is on.
        public var fullReason: String? = nil

        enum CodingKeys: String, CodingKey {
            case status, label, files, seconds, incremental
            case startLSN = "start_lsn", stopLSN = "stop_lsn", startTimeline = "start_timeline"
            case stopTimeline = "stop_timeline", toolVersion = "tool_version", stopTime = "stop_time"
            case fullReason = "full_reason"
        }
    }

    /// Where an incremental base backup sits in its chain.
    public struct Incremental: Codable, Sendable, Equatable {
        /// The backup it was taken against (pg_basebackup --incremental with that backup's backup_manifest).
        public var parent: String
        /// The full backup the chain starts with.
        public var full: String
        /// 1 for an incremental on a full backup, 2 for the next, and so on.
        public var depth: Int
    }

    public struct Database: Codable, Sendable, Equatable {
        /// `skipped`: not dumped, or its dump discarded, because the leader changed during the dumps.
        public enum Status: String, Codable, Sendable { case complete, failed, dropped, skipped }
        public var name: String
        public var oid: UInt32
        public var owner: String
        public var encoding: String
        public var collate: String
        public var ctype: String
        public var collationVersion: String?
        public var sizeBytes: Int64
        public var file: String?
        public var status: Status
        public var error: String?
        /// The tables in the dump with their row counts, counted in the snapshot the dump used.
        public var tables: [TableCount]?
        /// Database-level settings and privileges, which a dump restored without --create would lose.
        public var settings: [DatabaseSetting]?
        public var grants: [DatabaseGrant]?

        enum CodingKeys: String, CodingKey {
            case name, oid, owner, encoding, collate, ctype, file, status, error, tables, settings, grants
            case collationVersion = "collation_version", sizeBytes = "size_bytes"
        }
    }

    /// How much of a manifest to read. A listing (list, prune, status, retention) reads every manifest of the
    /// repository and needs no database's tables, settings or grants: they are left out (nil), so listing a
    /// repository does not slow down with the number of tables in the cluster.
    public enum Detail: Sendable {
        case full, listing
    }
    static let detailKey = CodingUserInfoKey(rawValue: "pgbak.manifest.detail")!

    public struct Logical: Codable, Sendable, Equatable {
        public var status: PartStatus
        public var toolVersion: String
        public var globalsFile: String?
        public var databases: [Database]
        public var seconds: Double

        enum CodingKeys: String, CodingKey {
            case status, databases, seconds
            case toolVersion = "tool_version", globalsFile = "globals_file"
        }
    }

    public var format: String
    public var version: Int
    public var backupID: String
    public var pgbakVersion: String
    public var status: PartStatus
    public var startedAt: Date
    public var finishedAt: Date
    public var cluster: Cluster
    public var leader: Leader
    public var physical: Physical
    public var logical: Logical
    public var files: [FileRecord]
    /// Set when the files are stored sealed (an encrypted repository); sizes and checksums are the plaintext's.
    public var encryption: Encryption? = nil

    /// How a backup's files are encrypted: the scheme, the chunk size, and a check of the key (never the key).
    public struct Encryption: Codable, Sendable, Equatable {
        public static let aes256GCM = "aes-256-gcm"
        public var scheme: String
        public var chunkBytes: Int
        public var keyCheck: String

        enum CodingKeys: String, CodingKey {
            case scheme
            case chunkBytes = "chunk_bytes", keyCheck = "key_check"
        }

        init(key: RepositoryKey) {
            self.init(scheme: Self.aes256GCM, chunkBytes: SealedFile.defaultChunkSize, keyCheck: key.check)
        }

        init(scheme: String, chunkBytes: Int, keyCheck: String) {
            (self.scheme, self.chunkBytes, self.keyCheck) = (scheme, chunkBytes, keyCheck)
        }

        /// The size of a file of `plaintext` bytes as stored.
        public func storedSize(ofPlaintext plaintext: Int64) -> Int64 {
            ChunkSealer.sealedSize(ofPlaintext: plaintext, chunkSize: chunkBytes)
        }

        /// Refuses a missing key or one that is not the key the backup was written with.
        public func check(_ key: RepositoryKey?, backup: String) throws {
            guard let key else {
                throw EncryptionError(
                    problem: "backup \(backup) is encrypted (\(scheme)) and no key is configured: set "
                        + "repository.encryption.key_file to the key it was written with")
            }
            guard key.check == keyCheck else {
                throw EncryptionError(
                    problem: "backup \(backup) was encrypted with another key than the one in "
                        + "repository.encryption.key_file: configure the key it was written with")
            }
        }
    }

    /// The size of `file` as stored.
    public func storedSize(of file: FileRecord) -> Int64 {
        encryption?.storedSize(ofPlaintext: file.bytes) ?? file.bytes
    }

    enum CodingKeys: String, CodingKey {
        case format, version, status, cluster, leader, physical, logical, files, encryption
        case backupID = "backup_id", pgbakVersion = "pgbak_version", startedAt = "started_at"
        case finishedAt = "finished_at"
    }

    /// Bytes of all files of the backup.
    public var totalBytes: Int64 { files.reduce(0) { $0 + $1.bytes } }

    public func encoded() throws -> Data {
        try PgbakJSON.encoder().encode(self)
    }

    /// Decodes and checks the format name and version.
    public static func decode(_ data: Data, source: String, detail: Detail = .full) throws -> Manifest {
        let decoder = PgbakJSON.decoder()
        decoder.userInfo[detailKey] = detail
        // The common case parses once; the header is read on its own only to explain a failure.
        if let manifest = try? decoder.decode(Manifest.self, from: data), manifest.format == formatName,
            readableVersions.contains(manifest.version)
        {
            return manifest
        }
        struct Header: Decodable {
            var format: String?
            var version: Int?
        }
        let header: Header
        do {
            header = try decoder.decode(Header.self, from: data)
        } catch {
            throw ManifestError(source: source, problem: "is not a JSON object: \(error.localizedDescription)")
        }
        guard header.format == formatName else {
            throw ManifestError(source: source, problem: "is not a pgbak manifest (format '\(header.format ?? "")')")
        }
        guard let version = header.version, readableVersions.contains(version) else {
            throw ManifestError(
                source: source,
                problem: "has manifest version \(header.version ?? -1); this pgbak "
                    + "\(PgbakKit.pgbakVersion) reads versions \(readableVersions.lowerBound) to "
                    + "\(readableVersions.upperBound)")
        }
        do {
            return try decoder.decode(Manifest.self, from: data)
        } catch {
            throw ManifestError(source: source, problem: "cannot be read: \(error)")
        }
    }
}

/// A manifest that cannot be read.
public struct ManifestError: LocalizedError, Sendable {
    public var source: String
    public var problem: String
    public var errorDescription: String? { "manifest \(source) \(problem)" }
}

extension Manifest.Database {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        oid = try c.decode(UInt32.self, forKey: .oid)
        owner = try c.decode(String.self, forKey: .owner)
        encoding = try c.decode(String.self, forKey: .encoding)
        collate = try c.decode(String.self, forKey: .collate)
        ctype = try c.decode(String.self, forKey: .ctype)
        collationVersion = try c.decodeIfPresent(String.self, forKey: .collationVersion)
        sizeBytes = try c.decode(Int64.self, forKey: .sizeBytes)
        file = try c.decodeIfPresent(String.self, forKey: .file)
        status = try c.decode(Status.self, forKey: .status)
        error = try c.decodeIfPresent(String.self, forKey: .error)
        guard decoder.userInfo[Manifest.detailKey] as? Manifest.Detail != .listing else { return }
        tables = try c.decodeIfPresent([TableCount].self, forKey: .tables)
        settings = try c.decodeIfPresent([DatabaseSetting].self, forKey: .settings)
        grants = try c.decodeIfPresent([DatabaseGrant].self, forKey: .grants)
    }
}
