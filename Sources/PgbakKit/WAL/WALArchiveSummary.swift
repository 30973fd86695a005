import Foundation

/// What the WAL archive holds and what it makes recoverable: gaps since the oldest kept backup and the window of
/// moments a point-in-time restore can reach. Pure, from the archive's listing and the backups' manifests.
public struct WALArchiveSummary: Codable, Sendable, Equatable {
    public struct Gap: Codable, Sendable, Equatable {
        public var first: String
        public var last: String
        public var lostAfter: Date?
        public var lostBefore: Date?
        public var text: String
    }

    /// From the oldest backup after which the archive is continuous to the newest archived WAL, or, when a gap
    /// follows every backup, from the oldest backup to the last moment before its first gap.
    public struct Window: Codable, Sendable, Equatable {
        public var earliest: Date
        public var latest: Date
        public var backupID: String
    }

    public var timeline: UInt32
    public var files: Int
    public var bytes: Int64
    public var newestSegment: String?
    public var newestArchivedAt: Date?
    public var gaps: [Gap]
    public var missingHistories: [UInt32]
    public var window: Window?

    enum CodingKeys: String, CodingKey {
        case timeline, files, bytes, gaps, window
        case newestSegment = "newest_segment", newestArchivedAt = "newest_archived_at"
        case missingHistories = "missing_histories"
    }

    public static func make(
        contents: [ArchivedWAL], histories: [UInt32: TimelineHistory], info: WALArchiveInfo, backups: [StoredBackup]
    ) -> WALArchiveSummary {
        let segmentSize = info.segmentSize
        let files = contents.map { ($0.file, $0.archived) }
        let overall = WALContinuity.check(files: files, histories: histories, segmentSize: segmentSize)
        let history = TimelineHistory(
            timeline: overall.timeline, ancestors: histories[overall.timeline]?.ancestors ?? [])
        let candidates = RecoveryPlan.Candidate.all(backups, info: info).filter {
            history.contains(timeline: $0.timeline, at: $0.stop)
        }
        // Gaps count from the oldest kept backup's start: WAL before it serves no restore.
        let fromOldest = WALContinuity.check(
            files: files, histories: histories, segmentSize: segmentSize,
            from: candidates.first.map { ($0.timeline, $0.start) })
        let newest = overall.last.flatMap { last in
            contents.first { $0.file == .segment(last) }
        }
        // The oldest backup the archive continues from to its newest WAL; failing that, the oldest backup with WAL
        // up to a gap: recoverable until the last moment before the gap.
        var window: Window?
        var untilGap: Window?
        if let newest {
            for candidate in candidates {
                let gaps = WALContinuity.check(
                    files: files, histories: histories, segmentSize: segmentSize,
                    from: (candidate.timeline, candidate.stop)
                ).gaps
                guard let gap = gaps.first else {
                    window = Window(earliest: candidate.consistentBy, latest: newest.archived, backupID: candidate.id)
                    break
                }
                if untilGap == nil, let end = gap.lostAfter, end > candidate.consistentBy {
                    untilGap = Window(earliest: candidate.consistentBy, latest: end, backupID: candidate.id)
                }
            }
        }
        return WALArchiveSummary(
            timeline: overall.timeline, files: contents.count, bytes: contents.reduce(0) { $0 + $1.size },
            newestSegment: overall.last?.name, newestArchivedAt: newest?.archived,
            gaps: fromOldest.gaps.map {
                Gap(
                    first: $0.first.name, last: $0.last.name, lostAfter: $0.lostAfter, lostBefore: $0.lostBefore,
                    text: $0.description)
            }, missingHistories: overall.missingHistories, window: window ?? untilGap)
    }

    /// Problems as `pgbak check` lists them (status maps fail to critical).
    public var problems: [String] {
        gaps.map { "WAL archive gap \($0.text)" }
            + missingHistories.map {
                String(format: "the WAL archive lacks %08X.history: timeline \($0) cannot be traced to its parent", $0)
            }
    }
}

extension WALArchive {
    /// The summary of this archive against `backups`; nil when there is no archive.
    public func summary(backups: [StoredBackup]) throws -> WALArchiveSummary? {
        guard let info = try info() else { return nil }
        let contents = try contents()
        return WALArchiveSummary.make(
            contents: contents, histories: try histories(in: contents), info: info, backups: backups)
    }
}
