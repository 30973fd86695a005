import Foundation
import Testing

@testable import PgbakKit

@Suite struct IncrementalPlannerTests {
    static let system = "7713706775396651014"
    static let now = BackupID.date(of: "20261207T120000Z")!
    static let on = PgbakConfig.Incremental(enabled: true, fullEveryDays: 7, maxChain: 3)
    static let leader17 = IncrementalPlanner.Source(serverMajor: 17, systemIdentifier: system, timeline: 3)

    /// A stored backup of PostgreSQL `major` on `timeline`, incremental on `parent` when given.
    static func backup(
        _ id: String, major: Int = 17, timeline: Int = 3, parent: (id: String, full: String, depth: Int)? = nil,
        physical: Manifest.PartStatus = .complete, system: String = system, keyCheck: String? = nil,
        lastVerified: Bool? = nil
    ) -> StoredBackup {
        var manifest = ManifestTests.sample()
        manifest.backupID = id
        manifest.cluster.serverVersionNum = major * 10000 + 1
        manifest.cluster.systemIdentifier = system
        manifest.cluster.timeline = timeline
        manifest.physical.stopTimeline = timeline
        manifest.physical.status = physical
        manifest.physical.incremental = parent.map {
            Manifest.Incremental(parent: $0.id, full: $0.full, depth: $0.depth)
        }
        if let keyCheck {
            manifest.encryption = Manifest.Encryption(scheme: "aes-256-gcm", chunkBytes: 1 << 20, keyCheck: keyCheck)
        }
        let verifications = lastVerified.map { ok in
            [
                VerificationRecord(
                    backupID: id, level: .standard, startedAt: now, finishedAt: now, ok: ok, problems: [], steps: [])
            ]
        }
        return StoredBackup(id: id, manifest: manifest, verifications: verifications ?? [])
    }

    func plan(
        _ backups: [StoredBackup], settings: PgbakConfig.Incremental = on, source: IncrementalPlanner.Source = leader17,
        forceFull: Bool = false, keyCheck: String? = nil
    ) -> BaseBackupPlan {
        IncrementalPlanner.plan(
            settings: settings, forceFull: forceFull, source: source, backups: backups, keyCheck: keyCheck,
            now: Self.now)
    }

    @Test func incrementalOnTheNewestBaseBackupExtendsItsChain() {
        let full = Self.backup("20261206T010000Z")
        let first = Self.backup("20261207T010000Z", parent: (full.id, full.id, 1))
        #expect(plan([full]) == .incremental(.init(parent: full.id, full: full.id, depth: 1)))
        #expect(plan([first, full]) == .incremental(.init(parent: first.id, full: full.id, depth: 2)))
    }

    @Test func offMeansFullWithoutAReason() {
        let full = Self.backup("20261206T010000Z")
        #expect(plan([full], settings: .init(enabled: false)) == .full(reason: nil))
    }

    @Test(arguments: [
        ("--full", "(--full)"), ("16", "PostgreSQL 16 takes no incremental"), ("none", "no earlier base backup"),
        ("timeline", "the timeline changed since backup 20261206T010000Z (3 → 4"),
        ("other cluster", "no earlier base backup"), ("other major", "is of PostgreSQL 17"),
        ("key", "another key"), ("failed", "failed its last verification"),
        ("physical failed", "no earlier base backup"),
    ])
    func fullWhenAnIncrementalCouldNotBeRestoredOrTaken(_ why: String, _ expected: String) throws {
        let full = Self.backup("20261206T010000Z")
        let result: BaseBackupPlan
        switch why {
        case "--full": result = plan([full], forceFull: true)
        case "16": result = plan([full], source: .init(serverMajor: 16, systemIdentifier: Self.system, timeline: 3))
        case "none": result = plan([])
        case "timeline":
            result = plan([full], source: .init(serverMajor: 17, systemIdentifier: Self.system, timeline: 4))
        case "other cluster": result = plan([Self.backup("20261206T010000Z", system: "1")])
        case "other major":
            result = plan([full], source: .init(serverMajor: 18, systemIdentifier: Self.system, timeline: 3))
        case "key": result = plan([full], keyCheck: "abc")
        case "failed": result = plan([Self.backup("20261206T010000Z", lastVerified: false)])
        default: result = plan([Self.backup("20261206T010000Z", physical: .failed)])
        }
        let reason = try #require(result.fullReason, "\(why): \(result)")
        #expect(reason.contains(expected), "\(why): \(reason)")
        #expect(result.incremental == nil)
    }

    @Test func otherMajorNamesTheBackupsMajor() {
        let full = Self.backup("20261206T010000Z", major: 17)
        let result = plan([full], source: .init(serverMajor: 18, systemIdentifier: Self.system, timeline: 3))
        #expect(result.fullReason == "the newest backup 20261206T010000Z is of PostgreSQL 17")
    }

    @Test func aChainAtItsLimitOrOnAnOldFullStartsAFullOne() {
        let full = Self.backup("20261206T010000Z")
        let ids = ["20261206T020000Z", "20261206T030000Z", "20261206T040000Z"]
        let linked = ids.enumerated().map { i, id in
            Self.backup(id, parent: (i == 0 ? full.id : ids[i - 1], full.id, i + 1))
        }
        let atLimit = plan([full] + linked)
        #expect(atLimit.fullReason?.contains("already has 3 incremental backups") == true, "\(atLimit)")
        #expect(plan([full] + linked.prefix(2)).incremental?.depth == 3)

        let old = Self.backup("20261130T010000Z")
        let onOld = Self.backup("20261206T010000Z", parent: (old.id, old.id, 1))
        let aged = plan([old, onOld])
        #expect(aged.fullReason?.contains("full backup 20261130T010000Z is 7.5 days old") == true, "\(aged)")
    }

    @Test func aBrokenOrFailedChainStartsAFullOne() {
        let full = Self.backup("20261206T010000Z")
        let orphan = Self.backup("20261207T010000Z", parent: ("20261205T010000Z", "20261205T010000Z", 1))
        #expect(plan([full, orphan]).fullReason?.contains("20261205T010000Z, which is not in the repository") == true)
        let failedFull = Self.backup("20261206T010000Z", lastVerified: false)
        let onFailed = Self.backup("20261207T010000Z", parent: (failedFull.id, failedFull.id, 1))
        #expect(plan([failedFull, onFailed]).fullReason?.contains("depends on, failed its last verification") == true)
    }

    @Test func chainIsOldestFirstAndNamesWhatIsMissing() throws {
        let full = Self.backup("20261206T010000Z")
        let first = Self.backup("20261206T020000Z", parent: (full.id, full.id, 1))
        let second = Self.backup("20261206T030000Z", parent: (first.id, full.id, 2))
        let unrelated = Self.backup("20261206T025000Z")
        #expect(
            try BackupChain.of(second, among: [unrelated, second, full, first]).backups.map(\.id) == [
                full.id, first.id, second.id,
            ])
        #expect(try BackupChain.of(full, among: [full]).backups.map(\.id) == [full.id])
        #expect(throws: ChainError.self) { try BackupChain.of(second, among: [second, full]) }
        let otherCluster = Self.backup("20261206T020000Z", system: "42")
        #expect(throws: ChainError.self) { try BackupChain.of(second, among: [second, otherCluster, full]) }
        #expect(
            BackupChain.ancestors(of: second.id, parents: [second.id: first.id, first.id: full.id]) == [
                first.id, full.id,
            ])
    }
}
