import Foundation

/// The ancestry of one timeline, from its `.history` file: each earlier timeline on its path and the position at
/// which the next one branched off it. Timeline 1 has no file and no ancestors.
public struct TimelineHistory: Sendable, Equatable {
    public struct Branch: Sendable, Equatable {
        public var timeline: UInt32
        /// Where this timeline ends on the path: the first position of the next one.
        public var switchPoint: LSN
    }

    public var timeline: UInt32
    /// Oldest first.
    public var ancestors: [Branch]

    public init(timeline: UInt32, ancestors: [Branch]) {
        self.timeline = timeline
        self.ancestors = ancestors
    }

    /// Parses a history file's lines `parentTLI <tab> switchpoint <tab> reason`; `#` comments and blank lines are
    /// skipped, as PostgreSQL skips them.
    public init(timeline: UInt32, text: String) throws {
        var ancestors: [Branch] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            guard fields.count >= 2, let parent = UInt32(fields[0]), let lsn = LSN(String(fields[1])) else {
                throw WALArchiveError(
                    problem: String(format: "%08X.history", timeline) + " line \(i + 1) is not "
                        + "'timeline<TAB>LSN<TAB>reason': \(line.prefix(80))")
            }
            if let last = ancestors.last, parent <= last.timeline || lsn < last.switchPoint {
                throw WALArchiveError(
                    problem: String(format: "%08X.history", timeline)
                        + " line \(i + 1) goes backwards (timeline \(parent) at \(lsn))")
            }
            ancestors.append(Branch(timeline: parent, switchPoint: lsn))
        }
        guard ancestors.allSatisfy({ $0.timeline < timeline }) else {
            throw WALArchiveError(
                problem: String(format: "%08X.history", timeline) + " names a parent timeline not below \(timeline)")
        }
        self.init(timeline: timeline, ancestors: ancestors)
    }

    /// The timelines of the path as ranges of positions, oldest first; the last one is this timeline, open-ended.
    public var path: [TimelineSpan] {
        var spans: [TimelineSpan] = []
        var begin = LSN(0)
        for branch in ancestors {
            spans.append(TimelineSpan(timeline: branch.timeline, begin: begin, end: branch.switchPoint))
            begin = branch.switchPoint
        }
        spans.append(TimelineSpan(timeline: timeline, begin: begin, end: nil))
        return spans
    }

    /// The timeline of the path that holds `lsn` (the newest one whose range starts at or before it).
    public func timeline(at lsn: LSN) -> UInt32 {
        path.last { $0.begin <= lsn }?.timeline ?? timeline
    }

    /// The timeline whose file recovery reads for segment `number`: the newest one on the path that has begun by
    /// the segment's end, as PostgreSQL picks it (the segment holding a switch point comes from the newer timeline).
    public func timeline(forSegment number: UInt64, size: UInt64) -> UInt32 {
        path.last { $0.begin.segment(size: size) <= number }?.timeline ?? timeline
    }

    /// Whether the path passes through `timeline` at `lsn` (a backup of that timeline consistent at `lsn` can
    /// recover along it; a switch point still belongs to the timeline it ends).
    public func contains(timeline other: UInt32, at lsn: LSN) -> Bool {
        path.contains { $0.timeline == other && $0.begin <= lsn && ($0.end.map { lsn <= $0 } ?? true) }
    }
}

/// One timeline's stretch of a path: positions from `begin` up to, not including, `end` (nil: still open).
public struct TimelineSpan: Sendable, Equatable {
    public var timeline: UInt32
    public var begin: LSN
    public var end: LSN?
}
