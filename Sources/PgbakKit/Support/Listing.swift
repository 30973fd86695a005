import Foundation

/// One row of `pgbak list`.
public struct BackupSummary: Codable, Sendable, Equatable {
    public var id: String
    public var status: String
    public var startedAt: Date
    public var finishedAt: Date
    public var scope: String
    public var leader: String
    public var timeline: Int
    public var systemIdentifier: String
    public var physicalBytes: Int64
    public var logicalBytes: Int64
    public var totalBytes: Int64
    public var physicalStatus: String
    public var logicalStatus: String
    public var databases: [String]
    /// `full`, or `incremental` with the backup it was taken against.
    public var baseBackup: String
    public var parent: String?
    /// 1 for an incremental backup on a full one, 2 on that one, and so on.
    public var depth: Int?
    /// The newest verification: when, which level, whether it passed.
    public var lastVerification: Verification?

    public struct Verification: Codable, Sendable, Equatable {
        public var at: Date
        public var level: String
        public var ok: Bool
    }

    public init(_ backup: StoredBackup) {
        self.init(backup.manifest)
        lastVerification = backup.verifications.last.map {
            Verification(at: $0.finishedAt, level: $0.level.rawValue, ok: $0.ok)
        }
    }

    public init(_ m: Manifest) {
        id = m.backupID
        status = m.status.rawValue
        startedAt = m.startedAt
        finishedAt = m.finishedAt
        scope = m.cluster.scope
        leader = m.leader.name
        timeline = m.cluster.timeline
        systemIdentifier = m.cluster.systemIdentifier
        physicalBytes = m.files.filter { $0.path.hasPrefix(PhysicalPart.directory + "/") }.reduce(0) { $0 + $1.bytes }
        logicalBytes = m.files.filter { $0.path.hasPrefix(LogicalPart.directory + "/") }.reduce(0) { $0 + $1.bytes }
        totalBytes = m.totalBytes
        physicalStatus = m.physical.status.rawValue
        logicalStatus = m.logical.status.rawValue
        databases = m.logical.databases.filter { $0.status == .complete }.map(\.name)
        baseBackup = m.physical.incremental == nil ? "full" : "incremental"
        parent = m.physical.incremental?.parent
        depth = m.physical.incremental?.depth
    }
}

/// Renders backup listings as a table or JSON.
public enum Listing {
    public static func table(_ rows: [BackupSummary]) -> String {
        let header = [
            "ID", "FINISHED (UTC)", "LEADER", "TL", "TYPE", "PHYSICAL", "LOGICAL", "TOTAL", "DBS", "STATUS",
            "VERIFIED",
        ]
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        let body = rows.map { r in
            [
                r.id, formatter.string(from: r.finishedAt), r.leader, String(r.timeline),
                r.depth.map { "incr \($0)" } ?? "full",
                ByteFormat.text(r.physicalBytes), ByteFormat.text(r.logicalBytes), ByteFormat.text(r.totalBytes),
                String(r.databases.count), r.status,
                r.lastVerification.map { "\($0.ok ? "ok" : "FAILED") \(formatter.string(from: $0.at)) (\($0.level))" }
                    ?? "never",
            ]
        }
        let all = [header] + body
        let widths = header.indices.map { col in all.map { $0[col].count }.max() ?? 0 }
        // Plain string padding: NSString's padding(toLength:) costs more than the rest of a long listing.
        return all.map { row in
            var line = row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count)
            }.joined(separator: "  ")
            while line.last == " " { line.removeLast() }
            return line
        }.joined(separator: "\n")
    }

    /// The WAL archive under the table: the recoverable window and any gap.
    public static func archiveLine(_ archive: WALArchiveSummary) -> String {
        let window =
            archive.window.map {
                "point-in-time recoverable from \(ArchiverStats.format($0.earliest)) (backup \($0.backupID)) to "
                    + ArchiverStats.format($0.latest)
            } ?? "no backup the WAL archive continues from: no point in time is recoverable"
        let size =
            "WAL archive: \(archive.files) files, \(ByteFormat.text(archive.bytes)), timeline \(archive.timeline); "
        return size + window + archive.problems.map { "\nproblem: \($0)" }.joined()
    }

    public static func json<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try PgbakJSON.encoder().encode(value), as: UTF8.self)
    }
}
