import Foundation

/// Thresholds for `pgbak status` (Nagios/Icinga style).
public struct StatusThresholds: Sendable, Equatable {
    public var warnAgeHours: Double
    public var critAgeHours: Double
    /// The newest successful verification may be this old before it is a warning.
    public var warnVerifyAgeDays: Double

    public init(warnAgeHours: Double = 26, critAgeHours: Double = 50, warnVerifyAgeDays: Double = 8) {
        self.warnAgeHours = warnAgeHours
        self.critAgeHours = critAgeHours
        self.warnVerifyAgeDays = warnVerifyAgeDays
    }
}

/// What `pgbak status` says: the newest complete backup's age and size, the last verification, and a level.
public struct StatusReport: Codable, Sendable, Equatable {
    public enum Level: String, Codable, Sendable {
        case ok, warning, critical

        /// 0 / 1 / 2, as monitoring plugins expect.
        public var exitCode: Int32 {
            switch self {
            case .ok: return 0
            case .warning: return 1
            case .critical: return 2
            }
        }
    }

    public var level: Level
    public var messages: [String]
    public var lastBackupID: String?
    public var lastBackupAgeHours: Double?
    public var lastBackupBytes: Int64?
    public var completeBackups: Int
    public var lastVerification: BackupSummary.Verification?
    /// The WAL archive (nil: none) with its gaps and recoverable window.
    public var walArchive: WALArchiveSummary?

    /// Pure evaluation over the repository's backups (oldest first), its WAL archive and, when the leader answered,
    /// its archiver.
    public static func evaluate(
        _ backups: [StoredBackup], now: Date, thresholds: StatusThresholds, archive: WALArchiveSummary? = nil,
        archiver: ArchiverStats? = nil
    ) -> StatusReport {
        let complete = backups.filter { $0.manifest.status == .complete }
        var report = StatusReport(
            level: .ok, messages: [], lastBackupID: nil, lastBackupAgeHours: nil,
            lastBackupBytes: nil, completeBackups: complete.count, lastVerification: nil, walArchive: archive)
        func raise(_ level: Level, _ message: String) {
            report.messages.append(message)
            if level == .critical || (level == .warning && report.level == .ok) { report.level = level }
        }
        for problem in archive?.problems ?? [] { raise(.critical, problem) }
        if let archiver, archiver.isFailing {
            raise(.critical, archiver.item(leader: "the leader").detail)
        }
        guard let newest = complete.last else {
            raise(.critical, "no complete backup in the repository")
            return report
        }
        let age = now.timeIntervalSince(newest.manifest.finishedAt) / 3600
        report.lastBackupID = newest.id
        report.lastBackupAgeHours = (age * 10).rounded() / 10
        report.lastBackupBytes = newest.manifest.totalBytes
        let ageText = String(format: "%.1f h", age)
        if age > thresholds.critAgeHours {
            raise(
                .critical,
                "the newest complete backup \(newest.id) is \(ageText) old (critical above "
                    + "\(thresholds.critAgeHours) h)")
        } else if age > thresholds.warnAgeHours {
            raise(
                .warning,
                "the newest complete backup \(newest.id) is \(ageText) old (warning above "
                    + "\(thresholds.warnAgeHours) h)")
        }
        if let partial = backups.last, partial.manifest.status != .complete, partial.id > newest.id {
            raise(.warning, "the newest backup \(partial.id) is partial")
        }
        let records = backups.flatMap(\.verifications).sorted { $0.finishedAt < $1.finishedAt }
        if let last = records.last {
            report.lastVerification = .init(at: last.finishedAt, level: last.level.rawValue, ok: last.ok)
            if !last.ok { raise(.critical, "the last verification (\(last.backupID), \(last.level.rawValue)) failed") }
        }
        let lastGood = records.last { $0.ok }
        let verifyAge = lastGood.map { now.timeIntervalSince($0.finishedAt) / 86400 }
        if verifyAge.map({ $0 > thresholds.warnVerifyAgeDays }) ?? true {
            raise(
                .warning,
                lastGood == nil
                    ? "no backup has passed a verification yet"
                    : String(format: "the last successful verification is %.1f days old", verifyAge ?? 0))
        }
        if report.messages.isEmpty {
            report.messages.append(
                "newest complete backup \(newest.id), \(ageText) old, \(ByteFormat.text(newest.manifest.totalBytes))"
                    + (archive?.window.map { "; recoverable to \(ArchiverStats.format($0.latest))" } ?? ""))
        }
        return report
    }
}
