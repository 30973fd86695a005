/// What the leader still has, for deciding whether a replica restored from a backup can catch up by streaming,
/// and what the WAL archive can serve it with restore_command when the leader has recycled the WAL.
public struct WALHorizon: Sendable, Equatable {
    public var systemIdentifier: String
    public var timeline: Int
    /// The leader timeline's ancestors, from its `.history` file.
    public var history: [TimelineHistory.Branch]
    /// The lowest WAL segment number still in the leader's pg_wal (nil: unknown).
    public var oldestSegment: UInt64?
    public var segmentSize: UInt64
    /// Numbers of the segments on the leader's timeline path that the WAL archive holds (empty: no archive).
    public var archivedSegments: Set<UInt64>

    public init(
        systemIdentifier: String, timeline: Int, history: [TimelineHistory.Branch], oldestSegment: UInt64?,
        segmentSize: UInt64, archivedSegments: Set<UInt64> = []
    ) {
        self.systemIdentifier = systemIdentifier
        self.timeline = timeline
        self.history = history
        self.oldestSegment = oldestSegment
        self.segmentSize = segmentSize
        self.archivedSegments = archivedSegments
    }

    /// The leader's timeline with its ancestry.
    public var timelineHistory: TimelineHistory { TimelineHistory(timeline: UInt32(timeline), ancestors: history) }
}

/// Pure choice of the backup a replica can be re-seeded from.
public enum ReplicaPlanner {
    /// Why `backup` cannot seed a replica of the cluster `horizon` describes, or nil when it can.
    public static func problem(with backup: Manifest, horizon: WALHorizon) -> String? {
        guard backup.cluster.systemIdentifier == horizon.systemIdentifier else {
            return "it is of another cluster (system identifier \(backup.cluster.systemIdentifier), the cluster's is "
                + "\(horizon.systemIdentifier))"
        }
        guard backup.physical.status == .complete, let stopText = backup.physical.stopLSN,
            let stop = LSN(stopText), let tli = backup.physical.stopTimeline
        else { return "its physical part is not complete" }
        if tli != horizon.timeline {
            guard let ended = horizon.history.first(where: { $0.timeline == tli }) else {
                return "its timeline \(tli) is not in the leader's timeline history (leader on \(horizon.timeline))"
            }
            guard stop <= ended.switchPoint else {
                return "it ends at \(stopText) on timeline \(tli), past where the leader's history left that "
                    + "timeline; a replica could not follow"
            }
        }
        guard let oldest = horizon.oldestSegment else { return nil }
        let needed = stop.segment(size: horizon.segmentSize)
        guard needed < oldest else { return nil }
        // The leader recycled WAL the replica needs: the archive must serve every segment up to the leader's oldest.
        guard let missing = (needed..<oldest).first(where: { !horizon.archivedSegments.contains($0) }) else {
            return nil
        }
        let segment = WALSegment(
            timeline: horizon.timelineHistory.timeline(forSegment: missing, size: horizon.segmentSize), number: missing,
            size: horizon.segmentSize)
        return horizon.archivedSegments.isEmpty
            ? "the leader no longer holds the WAL from its stop point \(stopText) onward (no WAL archive): the "
                + "replica would wait forever for a removed segment"
            : "the leader no longer holds the WAL from its stop point \(stopText) onward and the WAL archive lacks "
                + "\(segment.name): the replica could not catch up"
    }

    /// The newest usable backup (or the requested one), with the reasons the others were passed over.
    public static func choose(
        _ backups: [Manifest], requested: String?,
        horizon: WALHorizon
    ) -> (chosen: Manifest?, rejected: [(id: String, reason: String)]) {
        var rejected: [(String, String)] = []
        let candidates = backups.filter { requested == nil || $0.backupID == requested }
            .sorted { $0.backupID > $1.backupID }
        for backup in candidates {
            if let reason = problem(with: backup, horizon: horizon) {
                rejected.append((backup.backupID, reason))
            } else {
                return (backup, rejected)
            }
        }
        return (nil, rejected)
    }
}
