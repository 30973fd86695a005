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
