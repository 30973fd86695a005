import Foundation

/// What a point-in-time restore will do, decided before anything is written: which backup, along which
/// timelines, and which WAL the archive must serve. Pure: from manifests and the archive's listing.
public struct RecoveryPlan: Sendable, Equatable {
    public var backupID: String
    public var target: RecoveryTarget
    /// The timelines recovery follows, from the backup's to the newest one.
    public var timelines: [UInt32]
    /// The WAL recovery reads from the archive (nil: only the backup's own WAL).
    public var firstSegment: WALSegment?
    public var lastSegment: WALSegment?
    public var segments: UInt64
    /// Compressed bytes of those segments in the archive.
    public var archivedBytes: Int64

    /// `backups`: the repository's, oldest first (those of another cluster than the archive's are passed over);
    /// `archive`: everything archived; `requested`: --backup.
    public static func make(
        target: RecoveryTarget, backups: [StoredBackup], archive: [ArchivedWAL], histories: [UInt32: TimelineHistory],
        info: WALArchiveInfo, requested: String?
    ) throws -> RecoveryPlan {
        let segmentSize = info.segmentSize
        let overall = WALContinuity.check(
            files: archive.map { ($0.file, $0.archived) }, histories: histories, segmentSize: segmentSize)
        let history = TimelineHistory(
            timeline: overall.timeline, ancestors: histories[overall.timeline]?.ancestors ?? [])
        let usable = Candidate.all(backups, info: info).filter { history.contains(timeline: $0.timeline, at: $0.stop) }
        guard !usable.isEmpty else {
            throw RestoreError(
                problem: "no backup with a complete physical part lies on the path of timeline \(overall.timeline) "
                    + "(the archive's newest): take a backup (pgbak now) before recovering to a point in time")
        }
        let eligible = usable.filter { candidate in
            switch target {
            case .time(let date): candidate.consistentBy <= date
            case .lsn(let lsn): candidate.stop <= lsn
            case .xid, .name, .latest: true
            }
        }
        let chosen: Candidate
        if let requested {
            guard let found = usable.first(where: { $0.id == requested }) else {
                throw RestoreError(
                    problem: "backup \(requested) is not usable for \(target): it is missing, has no complete physical "
                        + "part or is not on the path of timeline \(overall.timeline) (see pgbak list)")
            }
            guard eligible.contains(where: { $0.id == requested }) else {
                throw RestoreError(
                    problem: "backup \(requested) ends after \(target): choose an older one (pgbak list)")
            }
            chosen = found
        } else {
            guard let newest = eligible.last else {
                let oldest = usable[0]
                throw RestoreError(
                    problem: "\(target) is before the oldest usable backup (\(oldest.id), consistent at "
                        + "\(RecoveryTarget.postgresTime(oldest.consistentBy)), LSN \(oldest.stop)): nothing older is kept"
                )
            }
            chosen = newest
        }
        let continuity = WALContinuity.check(
            files: archive.map { ($0.file, $0.archived) }, histories: histories, segmentSize: segmentSize,
            from: (chosen.timeline, chosen.stop))
        let timelines = history.path.map(\.timeline).drop { $0 != chosen.timeline }
        var plan = RecoveryPlan(
            backupID: chosen.id, target: target, timelines: Array(timelines), firstSegment: nil, lastSegment: nil,
            segments: 0, archivedBytes: 0)
        guard let first = continuity.first, let last = continuity.last,
            first.number(size: segmentSize) <= last.number(size: segmentSize)
        else {
            if target == .latest { return plan }
            throw RestoreError(
                problem: "the WAL archive holds nothing after backup \(chosen.id): \(target) cannot be reached "
                    + "(is archive_command set to pgbak wal-push? see pgbak check)")
        }
        let onPath = archive.filter { item in
            guard case .segment(let s) = item.file else { return false }
            return history.timeline(forSegment: s.number(size: segmentSize), size: segmentSize) == s.timeline
        }
        var endNumber = last.number(size: segmentSize)
        switch target {
        case .lsn(let lsn):
            guard lsn.segment(size: segmentSize) <= endNumber else {
                throw RestoreError(
                    problem: "LSN \(lsn) is past the newest archived WAL (\(last.name)): it cannot be recovered yet; "
                        + "use --to-latest for everything archived")
            }
            endNumber = lsn.segment(size: segmentSize)
        case .time(let date):
            let newest = onPath.filter { if case .segment(let s) = $0.file { s == last } else { false } }.first
            if let newest, newest.archived < date {
                throw RestoreError(
                    problem: "\(target) is after the newest archived WAL (\(last.name), archived "
                        + "\(RecoveryTarget.postgresTime(newest.archived))): it cannot be recovered yet; use --to-latest "
                        + "for everything archived")
            }
            let reaching = onPath.filter { $0.archived >= date }.compactMap { item -> UInt64? in
                if case .segment(let s) = item.file { return s.number(size: segmentSize) } else { return nil }
            }
            endNumber = max(reaching.min() ?? endNumber, first.number(size: segmentSize))
        case .xid, .name, .latest:
            break
        }
        if let gap = continuity.gaps.first(where: { $0.first.number(size: segmentSize) <= endNumber }) {
            throw RestoreError(
                problem: "the WAL archive has a gap between backup \(chosen.id) and \(target): \(gap). Recovery cannot "
                    + "pass it; choose a target before the gap or a backup taken after it")
        }
        let firstNumber = first.number(size: segmentSize)
        plan.firstSegment = first
        plan.lastSegment = WALSegment(
            timeline: history.timeline(forSegment: endNumber, size: segmentSize), number: endNumber, size: segmentSize)
        plan.segments = endNumber - firstNumber + 1
        plan.archivedBytes = onPath.reduce(0) { sum, item in
            guard case .segment(let s) = item.file, (firstNumber...endNumber).contains(s.number(size: segmentSize))
            else { return sum }
            return sum + item.size
        }
        return plan
    }

    /// A backup as recovery sees it.
    struct Candidate {
        var id: String
        var timeline: UInt32
        var start: LSN
        var stop: LSN
        var consistentBy: Date

        /// The backups of the archive's cluster with a complete physical part.
        static func all(_ backups: [StoredBackup], info: WALArchiveInfo) -> [Candidate] {
            backups.filter { $0.manifest.cluster.systemIdentifier == info.systemIdentifier }.compactMap(Candidate.init)
        }

        init?(_ backup: StoredBackup) {
            let physical = backup.manifest.physical
            guard physical.status == .complete, let start = physical.startLSN.flatMap(LSN.init),
                let stop = physical.stopLSN.flatMap(LSN.init)
            else { return nil }
            id = backup.id
            timeline = UInt32(physical.stopTimeline ?? backup.manifest.cluster.timeline)
            self.start = start
            self.stop = stop
            consistentBy = physical.stopTime ?? backup.manifest.finishedAt
        }
    }
}
