import Foundation

/// Which complete backups retention keeps.
public struct RetentionPolicy: Sendable, Equatable {
    /// Keep this many of the newest complete backups.
    public var keepLast: Int
    /// The policy file it came from, if any.
    public var policyFile: String?

    public init(keepLast: Int, policyFile: String? = nil) {
        self.keepLast = keepLast
        self.policyFile = policyFile
    }
}

enum RetentionPolicyLoader {
    /// Reads `retention:` — either `keep_last: N` inline or `policy: FILE` naming a policy file.
    static func read(_ section: inout YAMLReader, baseDirectory: String) throws -> RetentionPolicy {
        let inline = try section.int("keep_last", range: 1...100_000)
        let policy = try section.string("policy")
        switch (inline, policy) {
        case (.some, .some):
            throw section.error("policy", "set either keep_last or policy, not both")
        case (.some(let n), .none):
            return RetentionPolicy(keepLast: n)
        case (.none, .some(let file)):
            let path = file.hasPrefix("/") ? file : baseDirectory + "/" + file
            return try load(path: path)
        case (.none, .none):
            throw section.error(
                "keep_last",
                "is required: say how many complete backups to keep (keep_last: 7) "
                    + "or name a policy file (policy: /etc/pgbak/policies/keep-last-7.yml)")
        }
    }

    static func load(path: String) throws -> RetentionPolicy {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            throw ConfigError(file: path, keyPath: "", problem: "policy file cannot be read (does it exist?)")
        }
        var root = try YAMLReader.parse(yaml: text, file: path)
        guard let n = try root.int("keep_last", range: 1...100_000) else {
            throw root.error("keep_last", "is required in a policy file")
        }
        _ = try root.string("description")
        try root.finish()
        return RetentionPolicy(keepLast: n, policyFile: path)
    }
}
