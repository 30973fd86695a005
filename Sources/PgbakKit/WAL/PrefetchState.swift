import Foundation

/// What wal-fetch's prefetch helper stages next: pure. Recovery's progress shows two ways: the newest segment a
/// wal-fetch call was asked for (the cursor), and segments the helper staged that have gone (taken by the
/// restore_command's rename). It keeps the `ahead` segments after the newest taken one staged, on the cursor's
/// timeline; a segment the archive lacked is tried again after a second (a replica catching up waits for new WAL).
struct PrefetchState {
    let ahead: UInt64
    private(set) var timeline: UInt32?
    private(set) var consumed: UInt64?
    private var stagedByHelper: Set<UInt64> = []
    private var lacking: [UInt64: Date] = [:]
    private var lastCursor: WALSegment?
    /// Whether the last `next` saw recovery move on.
    private(set) var progressed = false
    /// Staged segments recovery has gone past (it fetched them itself before they were staged): to remove.
    private(set) var passed: [WALSegment] = []

    init(ahead: UInt64) { self.ahead = ahead }

    /// The segments to stage now, given the cursor and what the staging directory holds.
    mutating func next(cursor: WALSegment?, staged: Set<WALSegment>, size: UInt64, now: Date = Date())
        -> [WALSegment]
    {
        progressed = false
        passed = []
        if let cursor, cursor != lastCursor {
            lastCursor = cursor
            progressed = true
            let number = cursor.number(size: size)
            if cursor.timeline != timeline {
                timeline = cursor.timeline
                stagedByHelper = []
                lacking = [:]
                consumed = number
            } else {
                consumed = max(consumed ?? number, number)
            }
        }
        guard let timeline, var taken = consumed else { return [] }
        let present = Set(staged.filter { $0.timeline == timeline }.map { $0.number(size: size) })
        for number in stagedByHelper where !present.contains(number) {
            stagedByHelper.remove(number)
            taken = max(taken, number)
            progressed = true
        }
        consumed = taken
        passed = staged.filter { $0.timeline != timeline || $0.number(size: size) <= taken }.sorted()
        return ((taken + 1)...(taken + ahead)).filter { number in
            !present.contains(number) && (lacking[number].map { now.timeIntervalSince($0) >= 1 } ?? true)
        }.map { WALSegment(timeline: timeline, number: $0, size: size) }
    }

    /// What one round of staging did: `written` are now in the staging directory, the rest the archive lacked.
    mutating func attempted(_ segments: [WALSegment], written: Set<WALSegment>, size: UInt64, now: Date = Date()) {
        for segment in segments {
            let number = segment.number(size: size)
            if written.contains(segment) {
                stagedByHelper.insert(number)
                lacking[number] = nil
            } else {
                lacking[number] = now
            }
        }
    }
}
