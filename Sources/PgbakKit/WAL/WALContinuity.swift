import Foundation

/// A run of WAL segments recovery needs that the archive does not hold.
public struct WALGap: Sendable, Equatable, CustomStringConvertible {
    public var first: WALSegment
    public var last: WALSegment
    /// Newest archive time of a segment before the gap and oldest after it: commits between them cannot be
    /// recovered (nil where there is no such segment).
    public var lostAfter: Date?
    public var lostBefore: Date?

    public var description: String {
        let range = first == last ? first.name : "\(first.name)..\(last.name)"
        let formatter = ISO8601DateFormatter()
        let after = lostAfter.map { " (commits after \(formatter.string(from: $0))" } ?? " (commits"
        let before = lostBefore.map { " until \(formatter.string(from: $0)) are lost)" } ?? " from then on are lost)"
        return range + after + before
    }
}

/// What the archive holds along the newest timeline's path: pure, from names, times and history files.
public struct WALContinuity: Sendable, Equatable {
    /// The timeline recovery follows by default (`recovery_target_timeline = latest`).
    public var timeline: UInt32
    public var path: [TimelineSpan]
    /// The first and last segment recovery reads along the path (nil: the archive holds none on it).
    public var first: WALSegment?
    public var last: WALSegment?
    public var gaps: [WALGap]
    /// Timelines above 1 on the path whose `.history` file the archive lacks: the path cannot be traced past them.
    public var missingHistories: [UInt32]

    public var isContinuous: Bool { gaps.isEmpty && missingHistories.isEmpty }

    /// `files`: every archived file with the time it was archived; `histories`: the parsed `.history` files;
    /// `from`: where recovery starts (the oldest kept backup's start), nil for the oldest segment on the path.
    public static func check(
        files: [(name: WALFileName, archived: Date)], histories: [UInt32: TimelineHistory], segmentSize: UInt64,
        from start: (timeline: UInt32, lsn: LSN)? = nil
    ) -> WALContinuity {
        var segments: [UInt32: [UInt64: Date]] = [:]
        for (name, archived) in files {
            if case .segment(let s) = name {
                segments[s.timeline, default: [:]][s.number(size: segmentSize)] = archived
            }
        }
        let top = max(segments.keys.max() ?? 1, histories.keys.max() ?? 1)
        var missingHistories: [UInt32] = []
        let history: TimelineHistory
        if let known = histories[top] {
            history = known
        } else {
            if top > 1 { missingHistories.append(top) }
            history = TimelineHistory(timeline: top, ancestors: [])
        }
        let path = history.path
        // The segments recovery would read along the path, found or not.
        let held: [(number: UInt64, timeline: UInt32)] = path.flatMap { span in
            (segments[span.timeline] ?? [:]).keys.filter {
                history.timeline(forSegment: $0, size: segmentSize) == span.timeline
            }.map { ($0, span.timeline) }
        }.sorted { $0.number < $1.number }
        guard let newest = held.last else {
            return WALContinuity(
                timeline: top, path: path, first: nil, last: nil, gaps: [], missingHistories: missingHistories)
        }
        var firstNumber = held[0].number
        if let start, history.contains(timeline: start.timeline, at: start.lsn) {
            firstNumber = start.lsn.segment(size: segmentSize)
        }
        var gaps: [WALGap] = []
        var open: (first: WALSegment, last: WALSegment, before: Date?)?
        var newestArchived: Date?
        if firstNumber <= newest.number {
            for number in firstNumber...newest.number {
                let timeline = history.timeline(forSegment: number, size: segmentSize)
                let segment = WALSegment(timeline: timeline, number: number, size: segmentSize)
                if let archived = segments[timeline]?[number] {
                    if let gap = open {
                        gaps.append(
                            WALGap(first: gap.first, last: gap.last, lostAfter: gap.before, lostBefore: archived))
                        open = nil
                    }
                    newestArchived = archived
                } else if open != nil {
                    open?.last = segment
                } else {
                    open = (segment, segment, newestArchived)
                }
            }
        }
        if let gap = open {
            gaps.append(WALGap(first: gap.first, last: gap.last, lostAfter: gap.before, lostBefore: nil))
        }
        return WALContinuity(
            timeline: top, path: path,
            first: WALSegment(
                timeline: history.timeline(forSegment: firstNumber, size: segmentSize), number: firstNumber,
                size: segmentSize),
            last: WALSegment(timeline: newest.timeline, number: newest.number, size: segmentSize), gaps: gaps,
            missingHistories: missingHistories)
    }
}
