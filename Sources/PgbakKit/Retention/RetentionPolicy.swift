import Foundation

/// Which complete backups retention keeps: the last N, and grandfather-father-son (the newest backup of each of the
/// last D days, W ISO weeks and M months that have backups), never fewer than `minVerified` verified ones.
public struct RetentionPolicy: Sendable, Equatable {
    /// Keep this many of the newest complete backups (0: rule off).
    public var keepLast: Int
    public var keepDaily: Int
    public var keepWeekly: Int
    public var keepMonthly: Int
    /// The floor: at least this many complete backups whose last verification passed are kept.
    public var minVerified: Int
    /// The policy file it came from, if any.
    public var policyFile: String?

    public init(
        keepLast: Int = 0, keepDaily: Int = 0, keepWeekly: Int = 0, keepMonthly: Int = 0,
        minVerified: Int = 0, policyFile: String? = nil
    ) {
        self.keepLast = keepLast
        self.keepDaily = keepDaily
        self.keepWeekly = keepWeekly
        self.keepMonthly = keepMonthly
        self.minVerified = minVerified
        self.policyFile = policyFile
    }

    /// A one-line description, e.g. `keep_last 2, daily 7, weekly 4, monthly 6, floor 1 verified`.
    public var summary: String {
        var parts: [String] = []
        if keepLast > 0 { parts.append("keep_last \(keepLast)") }
        if keepDaily > 0 { parts.append("daily \(keepDaily)") }
        if keepWeekly > 0 { parts.append("weekly \(keepWeekly)") }
        if keepMonthly > 0 { parts.append("monthly \(keepMonthly)") }
        if minVerified > 0 { parts.append("floor \(minVerified) verified") }
        return parts.joined(separator: ", ")
    }
}

enum RetentionPolicyLoader {
    static let ruleKeys = "keep_last, keep_daily, keep_weekly, keep_monthly"

    /// Reads `retention:` — the rules inline, or `policy: FILE` naming a policy file.
    static func read(_ section: inout YAMLReader, baseDirectory: String) throws -> RetentionPolicy {
        let policy = try section.string("policy")
        let inline = try rules(&section)
        if let policy {
            guard inline == RetentionPolicy() else {
                throw section.error("policy", "set either the rules (\(ruleKeys), min_verified) or policy, not both")
            }
            return try load(path: policy.hasPrefix("/") ? policy : baseDirectory + "/" + policy)
        }
        guard inline.keepLast + inline.keepDaily + inline.keepWeekly + inline.keepMonthly > 0 else {
            throw section.error(
                "keep_last",
                "is required: say how many complete backups to keep (keep_last: 7, or keep_daily/keep_weekly/"
                    + "keep_monthly) or name a policy file (policy: /etc/pgbak/policies/keep-last-7.yml)")
        }
        return inline
    }

    static func rules(_ section: inout YAMLReader) throws -> RetentionPolicy {
        RetentionPolicy(
            keepLast: try section.int("keep_last", range: 0...100_000) ?? 0,
            keepDaily: try section.int("keep_daily", range: 0...100_000) ?? 0,
            keepWeekly: try section.int("keep_weekly", range: 0...10_000) ?? 0,
            keepMonthly: try section.int("keep_monthly", range: 0...10_000) ?? 0,
            minVerified: try section.int("min_verified", range: 0...1000) ?? 0)
    }

    static func load(path: String) throws -> RetentionPolicy {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            throw ConfigError(file: path, keyPath: "", problem: "policy file cannot be read (does it exist?)")
        }
        var root = try YAMLReader.parse(yaml: text, file: path)
        _ = try root.string("description")
        var policy = try rules(&root)
        try root.finish()
        guard policy.keepLast + policy.keepDaily + policy.keepWeekly + policy.keepMonthly > 0 else {
            throw root.error("keep_last", "a policy file needs at least one of \(ruleKeys)")
        }
        policy.policyFile = path
        return policy
    }
}
