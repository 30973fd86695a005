import Foundation
import Testing

@testable import PgbakKit

@Suite struct RetentionPlannerTests {
    func backups(_ spec: [(String, Bool)]) -> [RetentionCandidate] {
        spec.map { RetentionCandidate(id: $0.0, complete: $0.1) }
    }

    @Test func keepsTheNewestNComplete() {
        let plan = RetentionPlanner.plan(
            backups: backups([("20260101T000000Z", true), ("20260102T000000Z", true), ("20260103T000000Z", true)]),
            policy: RetentionPolicy(keepLast: 2))
        #expect(plan.deletions == ["20260101T000000Z"])
        #expect(Set(plan.kept) == ["20260102T000000Z", "20260103T000000Z"])
    }

    @Test func partialBackupsDoNotCountTowardsN() {
        let plan = RetentionPlanner.plan(
            backups: backups([
                ("20260101T000000Z", true), ("20260102T000000Z", true), ("20260103T000000Z", false),
                ("20260104T000000Z", false),
            ]),
            policy: RetentionPolicy(keepLast: 2))
        #expect(plan.deletions.isEmpty)
    }

    @Test func partialsOlderThanTheOldestKeptCompleteGo() {
        let plan = RetentionPlanner.plan(
            backups: backups([
                ("20260101T000000Z", false), ("20260102T000000Z", true), ("20260103T000000Z", true),
                ("20260104T000000Z", true),
            ]),
            policy: RetentionPolicy(keepLast: 2))
        #expect(Set(plan.deletions) == ["20260101T000000Z", "20260102T000000Z"])
    }

    @Test func protectedBackupsAreNeverDeleted() {
        let plan = RetentionPlanner.plan(
            backups: backups([("20260101T000000Z", true), ("20260102T000000Z", true), ("20260103T000000Z", true)]),
            policy: RetentionPolicy(keepLast: 1), protected: ["20260101T000000Z"])
        #expect(plan.deletions == ["20260102T000000Z"])
    }

    @Test func isIdempotentAndNeverDropsTheNewestComplete() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let count = Int.random(in: 0...30, using: &generator)
            let history = (0..<count).map { i in
                RetentionCandidate(id: String(format: "202601%02dT000000Z", i + 1), complete: Bool.random())
            }
            let policy = RetentionPolicy(keepLast: Int.random(in: 1...5))
            let plan = RetentionPlanner.plan(backups: history, policy: policy)
            let remaining = history.filter { !plan.deletions.contains($0.id) }
            #expect(RetentionPlanner.plan(backups: remaining, policy: policy).deletions.isEmpty)
            if let newest = history.filter(\.complete).map(\.id).max() {
                #expect(!plan.deletions.contains(newest))
            }
            let completeLeft = remaining.filter(\.complete).count
            #expect(completeLeft == min(policy.keepLast, history.filter(\.complete).count))
        }
    }
}

@Suite struct GrandfatherFatherSonTests {
    /// A backup id at `day` days after 2026-01-05 (a Monday), `hour` o'clock.
    static func id(day: Int, hour: Int = 2) -> String {
        BackupID.make(Date(timeIntervalSince1970: 1_767_571_200 + Double(day) * 86400 + Double(hour) * 3600))
    }

    @Test func keepsTheNewestOfEachDayWeekAndMonth() {
        // Nightly backups for 70 days.
        let history = (0..<70).map { RetentionCandidate(id: Self.id(day: $0), complete: true) }
        let plan = RetentionPlanner.plan(
            backups: history,
            policy: RetentionPolicy(keepDaily: 7, keepWeekly: 4, keepMonthly: 3))
        let kept = Set(plan.kept)
        // Days 63...69 by the daily rule; the newest of each of the last 4 ISO weeks (days 69, 62, 55, 48: Sundays);
        // the newest of each of the last 3 months (2026-03-15 = day 69, 2026-02-28 = day 54, 2026-01-31 = day 26).
        #expect(kept == Set([63, 64, 65, 66, 67, 68, 69, 62, 55, 48, 54, 26].map { Self.id(day: $0) }))
        #expect(plan.decisions.first { $0.id == Self.id(day: 26) }?.reason == "monthly 202601")
        #expect(plan.decisions.first { $0.id == Self.id(day: 48) }?.reason.contains("weekly") == true)
    }

    @Test func extraBackupsOnOneDayDoNotPushOlderDaysOut() {
        let nightly = (0..<10).map { RetentionCandidate(id: Self.id(day: $0), complete: true) }
        let policy = RetentionPolicy(keepDaily: 3)
        let before = Set(RetentionPlanner.plan(backups: nightly, policy: policy).kept)
        // Three more on the last day (a failover, by hand).
        let extra = nightly + (3...5).map { RetentionCandidate(id: Self.id(day: 9, hour: 2 + $0), complete: true) }
        let after = Set(RetentionPlanner.plan(backups: extra, policy: policy).kept)
        #expect(before.subtracting([Self.id(day: 9)]).isSubset(of: after))
        #expect(after.contains(Self.id(day: 7)))
        #expect(after.contains(Self.id(day: 9, hour: 7)))
        #expect(!after.contains(Self.id(day: 9)))
    }

    @Test func theVerifiedFloorHoldsEvenWhenRulesWouldDropIt() {
        var history = (0..<10).map { RetentionCandidate(id: Self.id(day: $0), complete: true) }
        history[2].verified = true
        let plan = RetentionPlanner.plan(backups: history, policy: RetentionPolicy(keepLast: 2, minVerified: 1))
        #expect(plan.kept.contains(Self.id(day: 2)))
        #expect(plan.decisions.first { $0.id == Self.id(day: 2) }?.reason == "floor of 1 verified")
        #expect(plan.kept.count == 3)
    }

    /// Random histories: several backups some days, none on others, partial and verified at random, some in use.
    @Test func propertiesOverGeneratedHistories() {
        var rng = SeededGenerator(seed: 20_261_129)
        for _ in 0..<2000 {
            var history: [RetentionCandidate] = []
            for day in 0..<Int.random(in: 0...120, using: &rng) where Int.random(in: 0...3, using: &rng) > 0 {
                for hour in 0..<Int.random(in: 1...3, using: &rng) {
                    history.append(
                        RetentionCandidate(
                            id: Self.id(day: day, hour: hour),
                            complete: Int.random(in: 0...5, using: &rng) > 0,
                            verified: Bool.random(using: &rng)))
                }
            }
            for i in history.indices where !history[i].complete { history[i].verified = false }
            let policy = RetentionPolicy(
                keepLast: Int.random(in: 0...3, using: &rng),
                keepDaily: Int.random(in: 0...7, using: &rng),
                keepWeekly: Int.random(in: 0...4, using: &rng),
                keepMonthly: Int.random(in: 0...3, using: &rng),
                minVerified: Int.random(in: 0...3, using: &rng))
            let inUse = Set(history.filter { _ in Int.random(in: 0...9, using: &rng) == 0 }.map(\.id))
            let plan = RetentionPlanner.plan(backups: history, policy: policy, protected: inUse)
            let deleted = Set(plan.deletions)
            #expect(deleted.isDisjoint(with: inUse))
            if let newest = history.filter(\.complete).map(\.id).max() { #expect(!deleted.contains(newest)) }
            let verifiedLeft = history.filter { $0.verified && !deleted.contains($0.id) }.count
            #expect(verifiedLeft >= min(policy.minVerified, history.filter(\.verified).count))
            let remaining = history.filter { !deleted.contains($0.id) }
            #expect(
                RetentionPlanner.plan(backups: remaining, policy: policy, protected: inUse).deletions.isEmpty,
                "planning again must delete nothing more")
        }
    }
}

/// A small deterministic generator, so a failing history can be reproduced.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct RetentionChainTests {
    @Test func aKeptIncrementalKeepsEveryBackupItDependsOn() {
        // full1 ← incr (kept by keep_last 1); full0 is kept by nothing.
        let candidates = [
            RetentionCandidate(id: "20260101T000000Z", complete: true),
            RetentionCandidate(id: "20260102T000000Z", complete: true),
            RetentionCandidate(id: "20260103T000000Z", complete: true, parent: "20260102T000000Z"),
            RetentionCandidate(id: "20260104T000000Z", complete: true, parent: "20260103T000000Z"),
        ]
        let plan = RetentionPlanner.plan(backups: candidates, policy: RetentionPolicy(keepLast: 1))
        #expect(plan.deletions == ["20260101T000000Z"])
        let reasons = Dictionary(uniqueKeysWithValues: plan.decisions.map { ($0.id, $0.reason) })
        #expect(reasons["20260102T000000Z"] == "incremental backup 20260104T000000Z depends on it")
        #expect(reasons["20260103T000000Z"] == "incremental backup 20260104T000000Z depends on it")
    }

    @Test func anIncrementalInUseKeepsItsChainAndADroppedOneDoesNot() {
        let candidates = [
            RetentionCandidate(id: "20260101T000000Z", complete: true),
            RetentionCandidate(id: "20260102T000000Z", complete: true, parent: "20260101T000000Z"),
            RetentionCandidate(id: "20260103T000000Z", complete: true),
            RetentionCandidate(id: "20260104T000000Z", complete: true, parent: "20260103T000000Z"),
        ]
        let dropped = RetentionPlanner.plan(backups: candidates, policy: RetentionPolicy(keepLast: 1))
        #expect(Set(dropped.deletions) == ["20260101T000000Z", "20260102T000000Z"])
        let inUse = RetentionPlanner.plan(
            backups: candidates, policy: RetentionPolicy(keepLast: 1), protected: ["20260102T000000Z"])
        #expect(dropped.deletions.count == 2 && inUse.deletions.isEmpty)
    }
}
