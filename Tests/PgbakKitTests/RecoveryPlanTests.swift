import Foundation
import Testing

@testable import PgbakKit

@Suite struct RecoveryPlanTests {
    static let size: UInt64 = 16 << 20
    static let t0 = WALArchiveTests.t0

    /// A backup of `timeline` from `start` to `stop`, consistent `minute` minutes after t0.
    static func backup(_ id: String, start: String, stop: String, timeline: Int = 1, minute: Double) -> StoredBackup {
        var m = ManifestTests.sample()
        m.backupID = id
        m.physical.startLSN = start
        m.physical.stopLSN = stop
        m.physical.stopTimeline = timeline
        m.physical.stopTime = t0.addingTimeInterval(minute * 60)
        return StoredBackup(id: id, manifest: m)
    }

    /// Archived segments `numbers` of `timeline`, segment n archived n minutes after t0.
    static func archive(_ timeline: UInt32, _ numbers: ClosedRange<UInt64>) -> [ArchivedWAL] {
        numbers.compactMap { n in
            let name = WALSegment(timeline: timeline, number: n, size: size).name
            return ArchivedWAL(
                StoredObject(
                    key: "wal/x/\(name)-abc.zst", size: 1000, modified: t0.addingTimeInterval(Double(n) * 60)))
        }
    }

    static let info = WALArchiveInfo(
        systemIdentifier: ManifestTests.sample().cluster.systemIdentifier, segmentSize: size)

    static let backups = [
        backup("20260101T000000Z", start: "0/2000028", stop: "0/2000100", minute: 2),
        backup("20260102T000000Z", start: "0/6000028", stop: "0/6000100", minute: 6),
    ]

    func plan(
        _ target: RecoveryTarget, archive: [ArchivedWAL] = archive(1, 2...9), requested: String? = nil,
        histories: [UInt32: TimelineHistory] = [:], backups: [StoredBackup] = backups
    ) throws -> RecoveryPlan {
        try RecoveryPlan.make(
            target: target, backups: backups, archive: archive, histories: histories, info: Self.info,
            requested: requested)
    }

    @Test func theNewestBackupBeforeTheTargetIsChosen() throws {
        let early = try plan(.time(Self.t0.addingTimeInterval(4 * 60)))
        #expect(early.backupID == "20260101T000000Z")
        #expect(early.firstSegment?.name == "000000010000000000000002")
        #expect(early.lastSegment?.name == "000000010000000000000004")
        #expect(early.segments == 3)
        #expect(early.archivedBytes == 3000)
        #expect(try plan(.time(Self.t0.addingTimeInterval(7 * 60))).backupID == "20260102T000000Z")
        #expect(try plan(.lsn(LSN("0/5000000")!)).backupID == "20260101T000000Z")
        #expect(try plan(.lsn(LSN("0/7000000")!)).lastSegment?.name == "000000010000000000000007")
        let latest = try plan(.latest)
        #expect(latest.backupID == "20260102T000000Z")
        #expect(latest.lastSegment?.name == "000000010000000000000009")
        #expect(try plan(.xid(1234), requested: "20260101T000000Z").backupID == "20260101T000000Z")
    }

    @Test func targetsOutsideTheWindowAreRefusedWithTheReason() {
        #expect(throws: RestoreError.self) { try plan(.time(Self.t0)) }
        #expect(throws: RestoreError.self) { try plan(.lsn(LSN("0/2000000")!)) }
        #expect(throws: RestoreError.self) { try plan(.lsn(LSN("0/A000000")!)) }
        #expect(throws: RestoreError.self) { try plan(.time(Self.t0.addingTimeInterval(60 * 60))) }
        #expect(throws: RestoreError.self) {
            try plan(.time(Self.t0.addingTimeInterval(4 * 60)), requested: "20260102T000000Z")
        }
        #expect(throws: RestoreError.self) { try plan(.latest, backups: []) }
        do {
            _ = try plan(.lsn(LSN("0/A000000")!))
        } catch {
            #expect(error.localizedDescription.contains("past the newest archived WAL (000000010000000000000009)"))
        }
    }

    @Test func aGapBeforeTheTargetIsRefusedAndOneAfterItIsNot() throws {
        let holed = Self.archive(1, 2...3) + Self.archive(1, 6...9)
        do {
            _ = try plan(.time(Self.t0.addingTimeInterval(5.5 * 60)), archive: holed, requested: "20260101T000000Z")
            Issue.record("recovery through a gap was planned")
        } catch {
            #expect(error.localizedDescription.contains("gap"))
            #expect(error.localizedDescription.contains("000000010000000000000004..000000010000000000000005"))
        }
        // The newer backup starts after the gap: a later target is fine.
        #expect(try plan(.time(Self.t0.addingTimeInterval(8 * 60)), archive: holed).backupID == "20260102T000000Z")
        // A target before the gap, from the older backup.
        #expect(try plan(.lsn(LSN("0/3000000")!), archive: holed).backupID == "20260101T000000Z")
    }

    @Test func onlyBackupsOnTheNewestTimelinesPathAreUsed() throws {
        // Timeline 2 branched from 1 at 0/5000100; a backup on timeline 1 after that point is on an abandoned branch.
        let history = TimelineHistory(timeline: 2, ancestors: [.init(timeline: 1, switchPoint: LSN("0/5000100")!)])
        let archive = Self.archive(1, 2...4) + Self.archive(2, 5...9)
        let plan = try plan(.latest, archive: archive, histories: [2: history])
        #expect(plan.backupID == "20260101T000000Z")
        #expect(plan.timelines == [1, 2])
        #expect(plan.lastSegment?.name == "000000020000000000000009")
        let onTwo = Self.backup("20260103T000000Z", start: "0/7000028", stop: "0/7000100", timeline: 2, minute: 7)
        #expect(
            try self.plan(.latest, archive: archive, histories: [2: history], backups: Self.backups + [onTwo]).backupID
                == "20260103T000000Z")
    }
}

@Suite struct WALRetentionAndSummaryTests {
    static let size: UInt64 = 16 << 20

    @Test func retentionKeepsWhatTheOldestKeptBackupNeedsAndEveryHistory() throws {
        let history = try #require(
            ArchivedWAL(
                StoredObject(key: "wal/00000002/00000002.history-ab.zst", size: 10, modified: RecoveryPlanTests.t0)))
        let partial = try #require(
            ArchivedWAL(
                StoredObject(
                    key: "wal/00000001/0000000100000000/000000010000000000000001.partial-ab.zst", size: 10,
                    modified: RecoveryPlanTests.t0)))
        let contents = RecoveryPlanTests.archive(1, 1...9) + [history, partial]
        let gone = WALRetention.removable(
            contents, keptBackups: [RecoveryPlanTests.backups[1]], info: RecoveryPlanTests.info)
        #expect(
            gone.map(\.file.description).sorted() == [
                "000000010000000000000001", "000000010000000000000001.partial", "000000010000000000000002",
                "000000010000000000000003", "000000010000000000000004", "000000010000000000000005",
            ])
        #expect(WALRetention.removable(contents, keptBackups: [], info: RecoveryPlanTests.info).isEmpty)
        // Another cluster's backup holds no WAL back.
        var foreign = RecoveryPlanTests.backups[0]
        foreign.manifest.cluster.systemIdentifier = "1"
        #expect(
            WALRetention.removable(
                contents, keptBackups: [foreign, RecoveryPlanTests.backups[1]], info: RecoveryPlanTests.info
            ).count == gone.count)
    }

    @Test func theSummaryGivesTheWindowAndTheGapsSinceTheOldestBackup() {
        let whole = WALArchiveSummary.make(
            contents: RecoveryPlanTests.archive(1, 1...9), histories: [:], info: RecoveryPlanTests.info,
            backups: RecoveryPlanTests.backups)
        #expect(whole.problems.isEmpty)
        #expect(whole.window?.backupID == "20260101T000000Z")
        #expect(whole.window?.earliest == RecoveryPlanTests.t0.addingTimeInterval(2 * 60))
        #expect(whole.window?.latest == RecoveryPlanTests.t0.addingTimeInterval(9 * 60))
        #expect(whole.newestSegment == "000000010000000000000009")
        // A gap after the older backup: the window starts at the newer one, and the gap is reported.
        let holed = WALArchiveSummary.make(
            contents: RecoveryPlanTests.archive(1, 1...3) + RecoveryPlanTests.archive(1, 5...9), histories: [:],
            info: RecoveryPlanTests.info, backups: RecoveryPlanTests.backups)
        #expect(holed.window?.backupID == "20260102T000000Z")
        #expect(holed.gaps.map(\.first) == ["000000010000000000000004"])
        #expect(holed.problems.first?.contains("WAL archive gap 000000010000000000000004") == true)
        // A gap after both backups: recoverable from the older one up to the gap's start, not to the newest WAL.
        let cut = WALArchiveSummary.make(
            contents: RecoveryPlanTests.archive(1, 1...7) + RecoveryPlanTests.archive(1, 9...9), histories: [:],
            info: RecoveryPlanTests.info, backups: RecoveryPlanTests.backups)
        #expect(cut.window?.backupID == "20260101T000000Z")
        #expect(cut.window?.latest == cut.gaps.first?.lostAfter)
        #expect(cut.window?.latest == RecoveryPlanTests.t0.addingTimeInterval(7 * 60))
        #expect(cut.gaps.map(\.first) == ["000000010000000000000008"])
        let item = WALArchiveSummary.item(holed, location: "/repo")
        #expect(item.status == .fail)
        #expect(WALArchiveSummary.item(nil, location: "/repo").status == .warn)
        let status = StatusReport.evaluate(
            [], now: RecoveryPlanTests.t0, thresholds: StatusThresholds(), archive: holed,
            archiver: ArchiverStats(
                archiveMode: "on", archiveCommand: "pgbak wal-push %p", lastArchivedTime: RecoveryPlanTests.t0,
                lastFailedWAL: "00000001000000000000000A", lastFailedTime: RecoveryPlanTests.t0.addingTimeInterval(1),
                readyFiles: 3, walBytes: 48 << 20))
        #expect(status.level == .critical)
        #expect(
            status.messages.contains { $0.contains("archive_command fails") && $0.contains("3 finished file(s) wait") })
    }
}

@Suite struct WALStoreTests {
    static func scratch() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pgbak-wal-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func objectsAreWrittenOnceAndNeverReplaced() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = PosixStore(root: dir)
        #expect(try store.create("wal/a/b/one", data: Data("first".utf8), modified: WALArchiveTests.t0))
        #expect(try !store.create("wal/a/b/one", data: Data("second".utf8), modified: nil))
        #expect(try store.read("wal/a/b/one") == Data("first".utf8))
        #expect(try store.read("wal/a/b/none") == nil)
        let listed = try store.list(under: "wal")
        #expect(listed.map(\.key) == ["wal/a/b/one"])
        #expect(listed.first?.modified == WALArchiveTests.t0)
        #expect(try store.listFolder("wal/a/b").count == 1)
        try store.delete("wal/a/b/one")
        try store.delete("wal/a/b/one")
        #expect(try store.list(under: "wal").isEmpty)
    }

    @Test func archivedWALComesBackIdenticalAndDamageIsNamed() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let archive = WALArchive(store: PosixStore(root: dir))
        _ = try archive.adopt(WALArchiveInfo(systemIdentifier: "42", segmentSize: 16 << 20))
        #expect(throws: WALArchiveError.self) {
            try archive.adopt(WALArchiveInfo(systemIdentifier: "43", segmentSize: 16 << 20))
        }
        let file = try #require(WALFileName("000000010000000000000003"))
        let content = WALArchiveTests.segment(start: 3 << 24, pages: 64)
        let sha = WALArchive.sha256(content)
        #expect(try archive.store(file, content: content, sha256: sha, level: 3, modified: nil))
        #expect(try !archive.store(file, content: content, sha256: sha, level: 3, modified: nil))
        #expect(try archive.fetch(file) == content)
        #expect(try archive.fetch(try #require(WALFileName("000000010000000000000004"))) == nil)
        let stored = try #require(try archive.versions(of: file).first)
        #expect(stored.sha256 == sha)
        #expect(stored.size < content.count / 4)
        // A flipped byte in the compressed object is caught.
        let path = dir + "/" + stored.key
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0x01
        chmod(path, 0o600)
        try bytes.write(to: URL(fileURLWithPath: path))
        #expect(throws: WALArchiveError.self) { try archive.fetch(file) }
    }
}
