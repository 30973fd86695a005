import Foundation

/// The leader's archiver as PostgreSQL reports it (pg_stat_archiver, the settings, what waits in pg_wal).
public struct ArchiverStats: Sendable, Equatable {
    public var archiveMode: String
    public var archiveCommand: String
    public var lastArchivedWAL: String?
    public var lastArchivedTime: Date?
    public var failedCount: Int
    public var lastFailedWAL: String?
    public var lastFailedTime: Date?
    /// Files with a `.ready` marker: finished, not archived yet.
    public var readyFiles: Int
    public var walBytes: Int64

    public init(
        archiveMode: String, archiveCommand: String, lastArchivedWAL: String? = nil, lastArchivedTime: Date? = nil,
        failedCount: Int = 0, lastFailedWAL: String? = nil, lastFailedTime: Date? = nil, readyFiles: Int = 0,
        walBytes: Int64 = 0
    ) {
        self.archiveMode = archiveMode
        self.archiveCommand = archiveCommand
        self.lastArchivedWAL = lastArchivedWAL
        self.lastArchivedTime = lastArchivedTime
        self.failedCount = failedCount
        self.lastFailedWAL = lastFailedWAL
        self.lastFailedTime = lastFailedTime
        self.readyFiles = readyFiles
        self.walBytes = walBytes
    }

    static func read(_ connection: PGConnection) throws -> ArchiverStats {
        let row =
            try connection.query(
                """
                select current_setting('archive_mode'), current_setting('archive_command'), last_archived_wal,
                  extract(epoch from last_archived_time)::text, failed_count::text, last_failed_wal,
                  extract(epoch from last_failed_time)::text,
                  (select count(*) from pg_ls_archive_statusdir() where name like '%.ready')::text,
                  (select coalesce(sum(size), 0) from pg_ls_waldir())::text
                from pg_stat_archiver
                """
            ).first ?? []
        func text(_ i: Int) -> String? { i < row.count ? row[i] : nil }
        func date(_ i: Int) -> Date? { text(i).flatMap(Double.init).map { Date(timeIntervalSince1970: $0) } }
        return ArchiverStats(
            archiveMode: text(0) ?? "?", archiveCommand: text(1) ?? "", lastArchivedWAL: text(2),
            lastArchivedTime: date(3), failedCount: text(4).flatMap { Int($0) } ?? 0, lastFailedWAL: text(5),
            lastFailedTime: date(6), readyFiles: text(7).flatMap { Int($0) } ?? 0,
            walBytes: text(8).flatMap { Int64($0) } ?? 0)
    }

    /// Whether the archiver's newest attempt failed (PostgreSQL is retrying it).
    public var isFailing: Bool {
        guard let failed = lastFailedTime else { return false }
        return failed > (lastArchivedTime ?? .distantPast)
    }

    /// The `archiving` line of `pgbak check`.
    public func item(leader: String) -> CheckItem {
        let waiting = "\(readyFiles) finished file(s) wait, pg_wal holds \(ByteFormat.text(walBytes))"
        if archiveMode == "off" {
            return CheckItem(
                "archiving", .warn,
                "archive_mode is off on \(leader): no WAL archive, so no point-in-time recovery (see the README: "
                    + "archive_command = pgbak wal-push %p)")
        }
        if isFailing {
            return CheckItem(
                "archiving", .fail,
                "archive_command fails on \(leader) since \(Self.format(lastFailedTime)) (last failed: "
                    + "\(lastFailedWAL ?? "?"); \(waiting)): PostgreSQL keeps the WAL and retries; the server log "
                    + "has wal-push's error")
        }
        if !archiveCommand.contains("wal-push") {
            return CheckItem(
                "archiving", .warn, "archive_command on \(leader) is '\(archiveCommand)', not pgbak wal-push")
        }
        return CheckItem(
            "archiving", .ok,
            "\(leader) archives with pgbak wal-push; last archived \(lastArchivedWAL ?? "nothing yet")"
                + (lastArchivedTime.map { " at \(Self.format($0))" } ?? "") + "; \(waiting)")
    }

    static func format(_ date: Date?) -> String {
        date.map { ISO8601DateFormatter().string(from: $0) } ?? "?"
    }
}

extension WALArchiveSummary {
    /// The `wal archive` line of `pgbak check`: a gap fails it.
    public static func item(_ summary: WALArchiveSummary?, location: String) -> CheckItem {
        guard let summary else {
            return CheckItem(
                "wal archive", .warn,
                "\(location) holds no WAL archive: only the backups themselves can be restored (no point in time)")
        }
        if !summary.problems.isEmpty {
            return CheckItem("wal archive", .fail, summary.problems.joined(separator: "; "))
        }
        let window =
            summary.window.map {
                "; recoverable from \(ArchiverStats.format($0.earliest)) (backup \($0.backupID)) to "
                    + ArchiverStats.format($0.latest)
            } ?? "; no backup to recover from yet"
        return CheckItem(
            "wal archive", .ok,
            "\(summary.files) files (\(ByteFormat.text(summary.bytes))), timeline \(summary.timeline), newest "
                + "\(summary.newestSegment ?? "none"), no gap" + window)
    }
}

extension RunContext {
    /// The leader's archiver, asked through Patroni and the dump login; nil when either does not answer.
    public func leaderArchiver() async -> ArchiverStats? {
        let probe = LeaderProbe(config: config, logger: logger)
        guard let leader = try? await probe.discover() else { return nil }
        return try? probe.onLeader(leader) { try ArchiverStats.read($0) }
    }

    /// The WAL archive's summary against the repository's backups; nil without an archive.
    public func walArchiveSummary(backups: [StoredBackup]) throws -> WALArchiveSummary? {
        try walArchive.summary(backups: backups)
    }
}
