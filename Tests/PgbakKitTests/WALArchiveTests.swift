import Foundation
import Testing

@testable import PgbakKit

@Suite struct WALArchiveTests {
    static let size: UInt64 = 16 << 20

    static func seg(_ timeline: UInt32, _ number: UInt64) -> WALFileName {
        .segment(WALSegment(timeline: timeline, number: number, size: size))
    }

    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    /// Segments `numbers` of `timeline`, archived one minute apart from `t0 + number` minutes.
    static func files(_ timeline: UInt32, _ numbers: ClosedRange<UInt64>) -> [(name: WALFileName, archived: Date)] {
        numbers.map { (seg(timeline, $0), t0.addingTimeInterval(Double($0) * 60)) }
    }

    static let history2 = TimelineHistory(timeline: 2, ancestors: [.init(timeline: 1, switchPoint: LSN("0/5000100")!)])

    @Test func fileNamesAreRecognized() {
        #expect(WALFileName("000000010000000A000000FE") == .segment(WALSegment(timeline: 1, log: 10, seg: 254)))
        #expect(WALFileName("000000010000000000000005.partial") == .partial(WALSegment(timeline: 1, log: 0, seg: 5)))
        #expect(WALFileName("0000000A.history") == .history(timeline: 10))
        #expect(WALFileName("000000010000000000000002.00000028.backup")?.timeline == 1)
        for bad in ["00000001000000000000000g", "0000000100000000000000", "xx.history", "RECOVERYHISTORY", ""] {
            #expect(WALFileName(bad) == nil, "\(bad)")
        }
        #expect(WALFileName("000000020000000100000003")?.description == "000000020000000100000003")
        #expect(WALSegment(timeline: 2, number: 256 + 3, size: Self.size).name == "000000020000000100000003")
    }

    @Test func historyGivesThePathAndWhichTimelineHoldsEachSegment() throws {
        let history = try TimelineHistory(
            timeline: 3, text: "# comment\n1\t0/5000100\tno recovery target specified\n2\t0/9000000\tx\n")
        #expect(history.path.map(\.timeline) == [1, 2, 3])
        #expect(history.timeline(at: LSN("0/50000FF")!) == 1)
        #expect(history.timeline(at: LSN("0/5000100")!) == 2)
        // The segment holding a switch point is read from the newer timeline.
        #expect(history.timeline(forSegment: 4, size: Self.size) == 1)
        #expect(history.timeline(forSegment: 5, size: Self.size) == 2)
        #expect(history.timeline(forSegment: 9, size: Self.size) == 3)
        #expect(history.contains(timeline: 1, at: LSN("0/5000100")!))
        #expect(!history.contains(timeline: 1, at: LSN("0/5000101")!))
        #expect(!history.contains(timeline: 4, at: LSN("0/1")!))
        #expect(throws: WALArchiveError.self) { try TimelineHistory(timeline: 3, text: "1\tnot-an-lsn\tx\n") }
        #expect(throws: WALArchiveError.self) { try TimelineHistory(timeline: 3, text: "2\t0/9\tx\n1\t0/5\tx\n") }
        #expect(throws: WALArchiveError.self) { try TimelineHistory(timeline: 2, text: "4\t0/9\tx\n") }
    }

    @Test func continuousArchiveAcrossAFailoverHasNoGap() {
        // Timeline 1 up to segment 4; the switch point's segment 5 and later come from timeline 2.
        let files = Self.files(1, 1...5) + Self.files(2, 5...7) + [(.history(timeline: 2), Self.t0)]
        let c = WALContinuity.check(files: files, histories: [2: Self.history2], segmentSize: Self.size)
        #expect(c.timeline == 2)
        #expect(c.isContinuous)
        #expect(c.first?.name == "000000010000000000000001")
        #expect(c.last?.name == "000000020000000000000007")
    }

    @Test func segmentsTheOldLeaderNeverArchivedAreAGapWithTheLostMoments() throws {
        let files = Self.files(1, 1...2) + Self.files(2, 5...7)
        let c = WALContinuity.check(files: files, histories: [2: Self.history2], segmentSize: Self.size)
        let gap = try #require(c.gaps.first)
        #expect(c.gaps.count == 1)
        #expect(gap.first.name == "000000010000000000000003")
        #expect(gap.last.name == "000000010000000000000004")
        #expect(gap.lostAfter == Self.t0.addingTimeInterval(2 * 60))
        #expect(gap.lostBefore == Self.t0.addingTimeInterval(5 * 60))
        #expect(gap.description.contains("000000010000000000000003..000000010000000000000004"))
        // Recovery from a backup that starts after the gap does not need it.
        let later = WALContinuity.check(
            files: files, histories: [2: Self.history2], segmentSize: Self.size, from: (2, LSN("0/6000028")!))
        #expect(later.isContinuous)
        #expect(later.first?.name == "000000020000000000000006")
    }

    @Test func aNewTimelineWithoutItsHistoryCannotBeTraced() {
        let c = WALContinuity.check(
            files: Self.files(1, 1...3) + Self.files(2, 5...6), histories: [:], segmentSize: Self.size)
        #expect(c.missingHistories == [2])
        #expect(!c.isContinuous)
    }

    @Test func aBackupStartBeforeTheArchiveNeedsTheMissingSegments() throws {
        let c = WALContinuity.check(
            files: Self.files(1, 4...6), histories: [:], segmentSize: Self.size, from: (1, LSN("0/2000028")!))
        let gap = try #require(c.gaps.first)
        #expect(gap.first.name == "000000010000000000000002")
        #expect(gap.last.name == "000000010000000000000003")
        #expect(gap.lostAfter == nil)
    }

    static func cluster(leader: String, timeline: Int = 2) -> PatroniCluster {
        PatroniCluster(
            members: ["node1", "node2", "node3"].enumerated().map { i, name in
                PatroniMember(
                    name: name, role: name == leader ? "leader" : "replica",
                    state: name == leader ? "running" : "streaming",
                    host: "127.0.0.1", port: 5432 + i, timeline: timeline)
            }, scope: "s")
    }

    func decide(_ file: WALFileName, member: String? = nil, port: Int? = nil, leader: String = "node2")
        -> PushPermission
    {
        PushPermission.decide(
            file: file, member: member, port: port, isLocal: { $0 == "127.0.0.1" },
            cluster: Self.cluster(leader: leader),
            scope: "s", leaderHistory: Self.history2, segmentSize: Self.size)
    }

    @Test func onlyTheLeaderArchivesExceptSegmentsThatFillTheFailoverGap() {
        #expect(decide(Self.seg(2, 6), member: "node2") == .leader)
        #expect(decide(Self.seg(2, 6), port: 5433) == .leader)
        guard case .refused(let why) = decide(Self.seg(2, 6), member: "node1") else {
            Issue.record("a replica was allowed to archive")
            return
        }
        #expect(why.contains("not the leader (node2 leads, timeline 2)"))
        // The demoted old leader's segment 4 of timeline 1 lies before the switch point: it fills the gap.
        #expect(decide(Self.seg(1, 4), member: "node1") == .fillsGap(leader: "node2"))
        // Its segment 5 holds WAL past the switch point, which the new timeline replaced.
        #expect(decide(Self.seg(1, 5), member: "node1") != .fillsGap(leader: "node2"))
        #expect(decide(.history(timeline: 1), member: "node1") != .fillsGap(leader: "node2"))
        guard case .refused(let unknown) = decide(Self.seg(2, 6), port: 9999) else {
            Issue.record("an unknown member was allowed")
            return
        }
        #expect(unknown.contains("this_host.member"))
        guard case .refused(let none) = decide(Self.seg(2, 6), member: "node2", leader: "nobody") else {
            Issue.record("archived without a leader")
            return
        }
        #expect(none.contains("no leader"))
    }

    /// A segment of `pages` 8 KiB pages at `start`, each with a valid header and `fill` as its content.
    static func segment(start: UInt64, pages: Int, sysid: UInt64 = 42, fill: UInt8 = 7) -> Data {
        var data = Data(count: pages * 8192)
        for page in 0..<pages {
            let base = page * 8192
            func put<T: FixedWidthInteger>(_ value: T, _ at: Int) {
                withUnsafeBytes(of: value.littleEndian) {
                    data.replaceSubrange((base + at)..<(base + at + $0.count), with: $0)
                }
            }
            put(UInt16(0xD10D), 0)
            put(UInt16(page == 0 ? 2 : 0), 2)
            put(UInt32(1), 4)
            put(start + UInt64(base), 8)
            if page == 0 {
                put(sysid, 24)
                put(UInt32(Self.size), 32)
                put(UInt32(8192), 36)
            }
            data.replaceSubrange((base + 40)..<(base + 8192), with: Data(repeating: fill &+ UInt8(page), count: 8152))
        }
        return data
    }

    @Test func twoCopiesWithTheSameRecordsAreNoConflict() {
        let start = LSN(5 * Self.size)
        let ours = Self.segment(start: start.value, pages: 4)
        var zeroTail = ours
        zeroTail.replaceSubrange(3 * 8192..<4 * 8192, with: Data(count: 8192))
        var changed = ours
        changed[8192 + 100] ^= 0xFF
        let pages = WALPages(ours, segmentStart: start)
        #expect(pages.systemIdentifier == 42)
        #expect(pages.sameRecords(as: WALPages(zeroTail, segmentStart: start)))
        #expect(!pages.sameRecords(as: WALPages(changed, segmentStart: start)))
        #expect(!pages.sameRecords(as: WALPages(Data(count: ours.count), segmentStart: start)))
        #expect(WALPages(ours, segmentStart: LSN(6 * Self.size)).systemIdentifier == nil)
    }

    @Test func recoveryTimesParse() throws {
        let utc = try #require(RecoveryTarget.parseTime("2026-12-07T09:15:30Z"))
        #expect(RecoveryTarget.parseTime("2026-12-07 10:15:30+01") == utc)
        #expect(RecoveryTarget.parseTime("2026-12-07 10:15:30+01:00") == utc)
        #expect(RecoveryTarget.parseTime("2026-12-07 09:15:30") == utc)
        #expect(RecoveryTarget.parseTime("2026-12-07 09:15:30 UTC") == utc)
        let fraction = try #require(RecoveryTarget.parseTime("2026-12-07 09:15:30.25+00"))
        #expect(abs(fraction.timeIntervalSince(utc) - 0.25) < 1e-6)
        #expect(RecoveryTarget.parseTime("yesterday") == nil)
        #expect(RecoveryTarget.postgresTime(fraction) == "2026-12-07 09:15:30.250000+00")
        let settings = RecoveryTarget.lsn(LSN("0/5000060")!).settings(action: .pause)
        #expect(settings.map(\.0) == ["recovery_target_lsn", "recovery_target_action", "recovery_target_timeline"])
        #expect(settings.first?.1 == "0/5000060")
    }

    @Test func thePushFindsItsDataDirectoryFromAnAbsolutePathInPgWal() {
        #expect(WALPush.dataDirectory(for: "pg_wal/000000010000000000000006", workingDirectory: "/d") == "/d")
        #expect(
            WALPush.dataDirectory(for: "/srv/pg/data/pg_wal/000000010000000000000006", workingDirectory: "/")
                == "/srv/pg/data")
        #expect(WALPush.dataDirectory(for: "/tmp/000000010000000000000006", workingDirectory: "/d") == "/d")
    }

    @Test func theFailoverGapRunsFromTheNewestArchivedSegmentToTheSwitchPoint() {
        let size: UInt64 = 16 << 20
        // Timeline 2 began in segment 3; the switch to 3 happened inside segment 9 (0/9000100).
        let parent = TimelineSpan(timeline: 2, begin: LSN(3 * size + 0x28), end: LSN(9 * size + 0x100))
        let names = { (archived: Set<UInt64>) in
            WALPush.missing(parent: parent, archived: archived, size: size)
                .map(\.name)
        }
        #expect(
            names([3, 4, 5]) == ["000000020000000000000006", "000000020000000000000007", "000000020000000000000008"])
        // Only after the newest archived one: an older hole is retention's or an earlier gap's, not this switch's.
        #expect(names([3, 5, 7]) == ["000000020000000000000008"])
        #expect(names([3, 4, 5, 6, 7, 8]).isEmpty)
        // Nothing of the parent archived: from the parent timeline's start.
        #expect(names([]).first == "000000020000000000000003")
        #expect(names([]).count == 6)
        // A segment past the switch point (archived by mistake) does not move the start.
        #expect(names([5, 12]).count == 3)
        // Timeline 1 from LSN 0: segment 0 is never wanted.
        let first = TimelineSpan(timeline: 1, begin: LSN(0), end: LSN(2 * size + 8))
        #expect(
            WALPush.missing(parent: first, archived: [], size: size).map(\.name)
                == ["000000010000000000000001"])
    }
}

@Suite struct PrefetchStateTests {
    static let size: UInt64 = 16 << 20

    static func seg(_ timeline: UInt32, _ number: UInt64) -> WALSegment {
        WALSegment(timeline: timeline, number: number, size: size)
    }

    @Test func stagesAheadOfWhatRecoveryTookAndFollowsItsProgress() {
        var state = PrefetchState(ahead: 3)
        #expect(state.next(cursor: nil, staged: [], size: Self.size).isEmpty)
        // Recovery asked for segment 5 of timeline 2: stage 6, 7, 8.
        let first = state.next(cursor: Self.seg(2, 5), staged: [], size: Self.size)
        #expect(first == [Self.seg(2, 6), Self.seg(2, 7), Self.seg(2, 8)])
        #expect(state.progressed)
        // 8 is not archived yet.
        state.attempted(first, written: [Self.seg(2, 6), Self.seg(2, 7)], size: Self.size)
        // Nothing moved: nothing to do, and 8 is not asked for again within a second.
        let idle = state.next(cursor: Self.seg(2, 5), staged: [Self.seg(2, 6), Self.seg(2, 7)], size: Self.size)
        #expect(idle.isEmpty)
        #expect(!state.progressed)
        // Recovery renamed 6 away (the restore_command's mv): the window moves to 7..9.
        let moved = state.next(
            cursor: Self.seg(2, 5), staged: [Self.seg(2, 7)], size: Self.size, now: Date().addingTimeInterval(2))
        #expect(moved == [Self.seg(2, 8), Self.seg(2, 9)])
        #expect(state.progressed)
        #expect(state.consumed == 6)
    }

    @Test func aNewTimelineRestartsTheWindowAndPassedSegmentsAreDropped() {
        var state = PrefetchState(ahead: 2)
        let first = state.next(cursor: Self.seg(1, 10), staged: [], size: Self.size)
        state.attempted(first, written: Set(first), size: Self.size)
        // Recovery switched to timeline 2 at segment 11: what timeline 1 has staged is passed.
        let switched = state.next(cursor: Self.seg(2, 11), staged: Set(first), size: Self.size)
        #expect(switched == [Self.seg(2, 12), Self.seg(2, 13)])
        #expect(state.passed == [Self.seg(1, 11), Self.seg(1, 12)])
        #expect(state.timeline == 2)
    }

    @Test func theRestoreCommandTriesTheStagedSegmentFirst() {
        let command = WALFetch.restoreCommand(
            dataDirectory: "/srv/pitr/data", executable: "/usr/bin/pgbak", configFile: "/etc/pgbak/pgbak.yml")
        #expect(
            command
                == "mv -f '/srv/pitr/.pgbak-wal-prefetch-data/%f' '%p' 2>/dev/null || '/usr/bin/pgbak' wal-fetch "
                + "--config '/etc/pgbak/pgbak.yml' %f %p")
    }
}
