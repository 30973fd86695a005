import Foundation

/// One backup as retention sees it.
public struct RetentionCandidate: Sendable, Equatable {
    public var id: String
    public var complete: Bool
    /// Its last verification passed.
    public var verified: Bool
    /// For an incremental backup: the backup it was taken against.
    public var parent: String?

    public init(id: String, complete: Bool, verified: Bool = false, parent: String? = nil) {
        self.id = id
        self.complete = complete
        self.verified = verified
        self.parent = parent
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

/// Pure retention planning. Complete backups are kept by any rule that wants them: the newest one always, the last
/// N, the newest of each of the last D days / W ISO weeks / M months that have backups (extra backups on one day
/// never use up more than that day's slot), and the newest `minVerified` verified ones. Partial backups older than
/// every kept complete backup go; newer ones stay. `protected` backups (just taken, in use) are never deleted. A
/// backup an incremental one that stays depends on (its parent, the parent's parent, … its full backup) stays too.
public enum RetentionPlanner {
    public static func plan(
        backups: [RetentionCandidate], policy: RetentionPolicy,
        protected: Set<String> = []
    ) -> RetentionPlan {
        let newestFirst = backups.sorted { $0.id > $1.id }
        let complete = newestFirst.filter(\.complete)
        var reasons: [String: [String]] = [:]
        func keep(_ id: String, _ why: String) { reasons[id, default: []].append(why) }

        if let newest = complete.first { keep(newest.id, "newest complete") }
        for backup in complete.prefix(policy.keepLast) { keep(backup.id, "keep_last \(policy.keepLast)") }
        for (rule, count, period) in [
            ("daily", policy.keepDaily, Period.day), ("weekly", policy.keepWeekly, .isoWeek),
            ("monthly", policy.keepMonthly, .month),
        ] where count > 0 {
            var seen: Set<String> = []
            for backup in complete {
                guard let key = period.key(of: backup.id), !seen.contains(key) else { continue }
                guard seen.count < count else { break }
                seen.insert(key)
                keep(backup.id, "\(rule) \(key)")
            }
        }
        for backup in complete.filter(\.verified).prefix(policy.minVerified) {
            keep(backup.id, "floor of \(policy.minVerified) verified")
        }
        let oldestKept = complete.last { reasons[$0.id] != nil }?.id

        let planned = newestFirst.map { backup -> RetentionPlan.Decision in
            if protected.contains(backup.id) {
                return .init(id: backup.id, keep: true, reason: "in use")
            }
            if let why = reasons[backup.id] {
                return .init(id: backup.id, keep: true, reason: why.joined(separator: "; "))
            }
            if !backup.complete {
                if let oldestKept, backup.id < oldestKept {
                    return .init(id: backup.id, keep: false, reason: "partial, older than every kept complete backup")
                }
                return .init(id: backup.id, keep: true, reason: "partial, newer than the oldest kept complete backup")
            }
            return .init(id: backup.id, keep: false, reason: "complete, kept by no rule (\(policy.summary))")
        }
        return RetentionPlan(decisions: keepingChains(planned, of: backups))
    }

    /// `decisions` with every backup a kept incremental backup depends on kept, naming the newest that needs it.
    static func keepingChains(
        _ decisions: [RetentionPlan.Decision], of backups: [RetentionCandidate]
    ) -> [RetentionPlan.Decision] {
        let parents = Dictionary(
            backups.compactMap { b in b.parent.map { (b.id, $0) } }, uniquingKeysWith: { a, _ in a })
        var neededBy: [String: String] = [:]
        // Newest first: an ancestor is named after the newest kept backup that needs it.
        for decision in decisions where decision.keep {
            for ancestor in BackupChain.ancestors(of: decision.id, parents: parents) where neededBy[ancestor] == nil {
                neededBy[ancestor] = decision.id
            }
        }
        return decisions.map { decision in
            guard !decision.keep, let child = neededBy[decision.id] else { return decision }
            return .init(id: decision.id, keep: true, reason: "incremental backup \(child) depends on it")
        }
    }

    /// Calendar periods of backup ids (UTC).
    enum Period {
        case day, isoWeek, month

        static let isoCalendar: Calendar = {
            var calendar = Calendar(identifier: .iso8601)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            return calendar
        }()

        func key(of id: String) -> String? {
            guard let date = BackupID.date(of: id) else { return nil }
            switch self {
            case .day:
                return String(id.prefix(8))
            case .month:
                return String(id.prefix(6))
            case .isoWeek:
                let c = Self.isoCalendar.dateComponents([.yearForWeekOfYear, .weekOfYear], from: date)
                return String(format: "%04d-W%02d", c.yearForWeekOfYear ?? 0, c.weekOfYear ?? 0)
            }
        }
    }
}
