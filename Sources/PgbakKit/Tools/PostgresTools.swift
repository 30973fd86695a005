import Foundation

/// A PostgreSQL client tool that is missing or too old for the server.
public struct ToolError: LocalizedError, Sendable {
    public var problem: String
    public var errorDescription: String? { problem }
}

/// The PostgreSQL client programs pgbak runs, from one bin directory whose major version is at least the server's.
public struct PostgresTools: Sendable {
    public var binDir: String
    public var majorVersion: Int
    /// `pg_basebackup --version` as printed, e.g. `pg_basebackup (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`.
    public var versionText: String

    /// The client version without the program name, e.g. `PostgreSQL 15.18 (Debian 15.18-0+deb12u1)`.
    public var clientVersion: String {
        guard let r = versionText.range(of: "(PostgreSQL) ") else { return versionText }
        return "PostgreSQL " + versionText[r.upperBound...]
    }

    public func path(_ tool: String) -> String { binDir + "/" + tool }

    /// `configured` (postgres.bin_dir) if set, else the newest `/usr/lib/postgresql/N/bin` with N ≥ the server's.
    public static func locate(configured: String?, serverMajor: Int, configFile: String) async throws -> PostgresTools {
        var seen: [String] = []
        for dir in candidates(configured: configured) {
            guard let tools = try await probe(dir) else { continue }
            seen.append("\(dir) (\(tools.majorVersion))")
            if tools.majorVersion >= serverMajor { return tools }
        }
        let found = seen.isEmpty ? "none found" : "found " + seen.joined(separator: ", ")
        throw ToolError(
            problem: "no pg_basebackup of major version \(serverMajor) or newer (\(found)): install "
                + "postgresql-client-\(serverMajor) or set postgres.bin_dir in \(configFile)")
    }

    /// The server programs of exactly `major` (a data directory runs only under its own major version), for a restore
    /// test, a standalone copy or a recovery: each of `serverBinDirs` (postgres.server_bin_dirs), then `configured`
    /// (postgres.bin_dir), then `/usr/lib/postgresql/<major>/bin`; the first whose `postgres --version` is of that
    /// major.
    public static func server(
        major: Int, serverBinDirs: [String], configured: String?, configFile: String
    ) async throws -> PostgresTools {
        var seen: [String] = []
        for dir in serverBinDirs + [configured, "/usr/lib/postgresql/\(major)/bin"].compactMap({ $0 }) {
            guard FileManager.default.isExecutableFile(atPath: dir + "/postgres") else { continue }
            let text = try await ChildProcess.capture(
                ChildCommand(executable: dir + "/postgres", arguments: ["--version"])
            ).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let found = majorVersion(of: text) else { continue }
            if found == major { return PostgresTools(binDir: dir, majorVersion: found, versionText: text) }
            seen.append("\(dir) (\(found))")
        }
        throw ToolError(
            problem: "the backup is of PostgreSQL \(major), whose server programs (postgres, pg_ctl) are not installed"
                + (seen.isEmpty ? "" : " (found \(seen.joined(separator: ", ")))")
                + ": install postgresql-\(major), or list its bin directory in postgres.server_bin_dirs in \(configFile)"
        )
    }

    /// Whether this bin directory has `tool`.
    public func has(_ tool: String) -> Bool { FileManager.default.isExecutableFile(atPath: path(tool)) }

    /// The tools `locate` tries first (postgres.bin_dir, else the newest installed major version), found before the
    /// server's version is known so that a backup need not wait for `pg_basebackup --version`; nil if none is there.
    public static func newest(configured: String?) async -> PostgresTools? {
        guard let dir = candidates(configured: configured).first else { return nil }
        return (try? await probe(dir)) ?? nil
    }

    /// Where `locate` looks, in order: postgres.bin_dir alone, else every installed major version, newest first.
    static func candidates(configured: String?) -> [String] {
        if let configured { return [configured] }
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .compactMap(Int.init).sorted(by: >)
        return versions.map { "/usr/lib/postgresql/\($0)/bin" } + ["/usr/bin"]
    }

    /// The tools in `dir` with their version, from `pg_basebackup --version`; nil when there is none. Asked once per
    /// directory and process: a backup started early asks while the leader is being confirmed, which asks too.
    static func probe(_ dir: String) async throws -> PostgresTools? {
        try await probes.answer(for: dir) { try await ask(dir) }
    }

    private static let probes = OnceEach<PostgresTools?>()

    private static func ask(_ dir: String) async throws -> PostgresTools? {
        guard FileManager.default.isExecutableFile(atPath: dir + "/pg_basebackup") else { return nil }
        let text = try await ChildProcess.capture(
            ChildCommand(executable: dir + "/pg_basebackup", arguments: ["--version"])
        ).trimmingCharacters(in: .whitespacesAndNewlines)
        return majorVersion(of: text).map { PostgresTools(binDir: dir, majorVersion: $0, versionText: text) }
    }

    /// `pg_basebackup (PostgreSQL) 15.18 (Debian ...)` → 15.
    static func majorVersion(of text: String) -> Int? {
        guard let r = text.range(of: #"\) [0-9]+"#, options: .regularExpression) else { return nil }
        return Int(text[r].dropFirst(2))
    }
}

/// Builds libpq connection strings for child tools (no password: that goes through PGPASSFILE).
public struct ConnectionTarget: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var connectTimeout: Int

    public func conninfo(database: String? = nil, replication: Bool = false) -> String {
        var parts = [
            "host=\(PGConnection.quoteConnValue(host))", "port=\(port)",
            "user=\(PGConnection.quoteConnValue(user))", "connect_timeout=\(connectTimeout)",
            "application_name=pgbak",
        ]
        if let database { parts.append("dbname=\(PGConnection.quoteConnValue(database))") }
        if replication { parts.append("replication=true") }
        return parts.joined(separator: " ")
    }

    /// libpq parameters for pgbak's own connection.
    public func parameters(database: String) -> [String: String] {
        [
            "host": host, "port": String(port), "user": user, "dbname": database,
            "connect_timeout": String(connectTimeout), "application_name": "pgbak",
        ]
    }
}

/// One answer per key, computed at most once per process however many callers ask at the same time.
final class OnceEach<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var tasks: [String: Task<Value, any Error>] = [:]

    func answer(for key: String, _ compute: @escaping @Sendable () async throws -> Value) async throws -> Value {
        let task = lock.withLock {
            if let running = tasks[key] { return running }
            let started = Task { try await compute() }
            tasks[key] = started
            return started
        }
        return try await task.value
    }
}
