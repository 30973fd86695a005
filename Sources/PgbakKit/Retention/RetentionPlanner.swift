/// One backup as retention sees it.
public struct RetentionCandidate: Sendable, Equatable {
    public var id: String
    public var complete: Bool

    public init(id: String, complete: Bool) {
        self.id = id
        self.complete = complete
    }
}

/// What retention keeps and deletes, and why.
public struct RetentionPlan: Sendable, Equatable {
    public struct Decision: Sendable, Equatable {
        public var id: String
        public var keep: Bool
        public var reason: String
    }

    public var decisions: [Decision]

    public var deletions: [String] { decisions.filter { !$0.keep }.map(\.id) }
    public var kept: [String] { decisions.filter(\.keep).map(\.id) }
}

/// Pure retention planning: keep the newest N complete backups; partial backups older than the oldest kept
/// complete one go too; never the `protected` backups (the one just taken, those in use).
public enum RetentionPlanner {
    public static func plan(
        backups: [RetentionCandidate], policy: RetentionPolicy,
        protected: Set<String> = []
    ) -> RetentionPlan {
        let newestFirst = backups.sorted { $0.id > $1.id }
        let keptComplete = Array(newestFirst.filter(\.complete).prefix(max(policy.keepLast, 1)))
        let keptIDs = Set(keptComplete.map(\.id))
        let oldestKept = keptComplete.last?.id
        let decisions = newestFirst.map { backup -> RetentionPlan.Decision in
            if protected.contains(backup.id) {
                return .init(id: backup.id, keep: true, reason: "in use")
            }
            if keptIDs.contains(backup.id) {
                return .init(id: backup.id, keep: true, reason: "among the newest \(policy.keepLast) complete")
            }
            if !backup.complete {
                if let oldestKept, backup.id < oldestKept {
                    return .init(id: backup.id, keep: false, reason: "partial, older than every kept complete backup")
                }
                return .init(id: backup.id, keep: true, reason: "partial, newer than the oldest kept complete backup")
            }
            return .init(id: backup.id, keep: false, reason: "complete, beyond keep_last \(policy.keepLast)")
        }
        return RetentionPlan(decisions: decisions)
    }
}
