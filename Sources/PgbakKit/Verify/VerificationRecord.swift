import Foundation

/// The outcome of one verification, kept next to the backup in `verification/` (outside what the manifest lists).
public struct VerificationRecord: Codable, Sendable, Equatable {
    public enum Level: String, Codable, Sendable, CaseIterable {
        case standard = "default"
        case restoreTest = "restore-test"
    }

    public struct Step: Codable, Sendable, Equatable {
        public var name: String
        public var seconds: Double
        public var ok: Bool
    }

    public var backupID: String
    public var level: Level
    public var startedAt: Date
    public var finishedAt: Date
    public var ok: Bool
    public var problems: [String]
    public var steps: [Step]
    /// What the check left out, and why (e.g. tables too large to have been counted while dumping).
    public var notes: [String]? = nil

    enum CodingKeys: String, CodingKey {
        case level, ok, problems, steps, notes
        case backupID = "backup_id", startedAt = "started_at", finishedAt = "finished_at"
    }

    /// The file name it is stored under: sortable, one per verification.
    public var fileName: String { "\(BackupID.make(startedAt))-\(level.rawValue).json" }

    public func encoded() throws -> Data {
        try PgbakJSON.encoder().encode(self)
    }

    public static func decode(_ data: Data) throws -> VerificationRecord {
        try PgbakJSON.decoder().decode(VerificationRecord.self, from: data)
    }
}
