/// What the leader still has, for deciding whether a replica restored from a backup can catch up by streaming.
public struct WALHorizon: Sendable, Equatable {
    /// One line of the leader's timeline history: `timeline` ended at `switchLSN`.
    public struct Switch: Sendable, Equatable {
        public var timeline: Int
        public var switchLSN: UInt64
    }

    public var systemIdentifier: String
    public var timeline: Int
    public var history: [Switch]
    /// The lowest WAL segment number still in the leader's pg_wal (nil: unknown).
    public var oldestSegment: UInt64?
    public var segmentSize: UInt64

    public init(
        systemIdentifier: String, timeline: Int, history: [Switch], oldestSegment: UInt64?,
        segmentSize: UInt64
    ) {
        self.systemIdentifier = systemIdentifier
        self.timeline = timeline
        self.history = history
        self.oldestSegment = oldestSegment
        self.segmentSize = segmentSize
    }
}

/// Pure choice of the backup a replica can be re-seeded from.
public enum ReplicaPlanner {
    /// `X/Y` → a 64-bit LSN.
    public static func parseLSN(_ text: String) -> UInt64? {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let hi = UInt64(parts[0], radix: 16), let lo = UInt64(parts[1], radix: 16) else {
            return nil
        }
        return hi << 32 | lo
    }

    /// The segment number in a WAL file name (`TTTTTTTTXXXXXXXXYYYYYYYY`).
    public static func segmentNumber(walFileName name: String, segmentSize: UInt64) -> UInt64? {
        guard name.count == 24, let log = UInt64(name.dropFirst(8).prefix(8), radix: 16),
            let seg = UInt64(name.suffix(8), radix: 16), segmentSize > 0
        else { return nil }
        return log * (0x1_0000_0000 / segmentSize) + seg
    }

    /// `<parent timeline>\t<switch LSN>\t<reason>` lines of a `.history` file.
    public static func parseHistory(_ text: String) -> [WALHorizon.Switch] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            guard fields.count >= 2, let tli = Int(fields[0]), let lsn = parseLSN(String(fields[1])) else { return nil }
            return WALHorizon.Switch(timeline: tli, switchLSN: lsn)
        }
    }

    /// Why `backup` cannot seed a replica of the cluster `horizon` describes, or nil when it can.
    public static func problem(with backup: Manifest, horizon: WALHorizon) -> String? {
        guard backup.cluster.systemIdentifier == horizon.systemIdentifier else {
            return "it is of another cluster (system identifier \(backup.cluster.systemIdentifier), the cluster's is "
                + "\(horizon.systemIdentifier))"
        }
        guard backup.physical.status == .complete, let stopText = backup.physical.stopLSN,
            let stop = parseLSN(stopText), let tli = backup.physical.stopTimeline
        else { return "its physical part is not complete" }
        if tli != horizon.timeline {
            guard let ended = horizon.history.first(where: { $0.timeline == tli }) else {
                return "its timeline \(tli) is not in the leader's timeline history (leader on \(horizon.timeline))"
            }
            guard stop <= ended.switchLSN else {
                return "it ends at \(stopText) on timeline \(tli), past where the leader's history left that "
                    + "timeline; a replica could not follow"
            }
        }
        guard let oldest = horizon.oldestSegment else { return nil }
        let needed = stop / horizon.segmentSize
        guard needed >= oldest else {
            return "the leader no longer holds the WAL from its stop point \(stopText) onward (no WAL archive): the "
                + "replica would wait forever for a removed segment"
        }
        return nil
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
