import Foundation
import PgbakKit
import Testing

/// The local 3-node Patroni cluster started by scripts/cluster/start.sh, and pgbak configurations for it.
enum TestCluster {
    static let lab = ProcessInfo.processInfo.environment["PGBAK_LAB"] ?? "/tmp/pgbak-lab"
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
    static let scripts = repoRoot + "/scripts/cluster"
    static let superuserPassword = "postgres-pass"
    static let apiPorts = [8008, 8009, 8010]
    static let scope = "pgbak-test"

    static var binary: String {
        ProcessInfo.processInfo.environment["PGBAK_BIN"] ?? repoRoot + "/.build/debug/pgbak"
    }

    /// Whether something listens on 127.0.0.1:`port`.
    static func listening(port: Int) -> Bool {
        (try? Shell.bash("ss -Hltn 'sport = :\(port)' | grep -q ."))?.status == 0
    }

    /// The throw-away CA that signed the REST API's certificate (scripts/cluster/gen-configs.sh).
    static var caFile: String { lab + "/tls/ca.crt" }

    /// A shell command that GETs `path` from the REST API on `port` over HTTPS.
    static func apiGet(port: Int, _ path: String) -> String {
        "curl -fs --max-time 2 --cacert '\(caFile)' https://127.0.0.1:\(port)\(path)"
    }

    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// Whether Patroni answers on any node.
    static var isUp: Bool {
        apiPorts.contains { port in
            (try? Shell.bash(apiGet(port: port, "/cluster") + " >/dev/null"))?.status == 0
        }
    }

    /// Integration tests run when the cluster is up, and always under CI (where a missing cluster fails them).
    static let enabled: Bool = {
        if isUp || isCI || ProcessInfo.processInfo.environment["PGBAK_REQUIRE_CLUSTER"] == "1" { return true }
        FileHandle.standardError.write(
            Data(
                """

                *** INTEGRATION TESTS SKIPPED: no Patroni cluster answers on 127.0.0.1:8008-8010.
                *** Start it with: sudo scripts/cluster/start.sh --fresh   (or run scripts/test.sh)

                """.utf8))
        return false
    }()

    struct Member: Decodable {
        var name: String
        var role: String
        var state: String?
        var port: Int?
        var timeline: Int?
    }

    struct ClusterView: Decodable { var members: [Member] }

    static func members() throws -> [Member] {
        for port in apiPorts {
            let r = try Shell.bash(apiGet(port: port, "/cluster"))
            if r.status == 0, let view = try? JSONDecoder().decode(ClusterView.self, from: Data(r.stdout.utf8)) {
                return view.members
            }
        }
        throw ShellFailure(script: "GET /cluster", result: CommandResult(status: 1, stdout: "", stderr: "no answer"))
    }

    static func leader() throws -> Member {
        guard let leader = try members().first(where: { $0.role == "leader" && $0.state == "running" }) else {
            throw ShellFailure(script: "find leader", result: CommandResult(status: 1, stdout: "", stderr: "none"))
        }
        return leader
    }

    /// psql as the superuser against `port` (the leader's when nil); returns trimmed unaligned output.
    @discardableResult
    static func psql(_ sql: String, database: String = "postgres", port: Int? = nil) throws -> String {
        let p = try port ?? leader().port ?? 5432
        let result = try Shell.run(
            "/usr/bin/psql",
            [
                "-h", "127.0.0.1", "-p", String(p), "-U", "postgres", "-d",
                database, "-v", "ON_ERROR_STOP=1", "-qAtX", "-c", sql,
            ],
            environment: ["PGPASSWORD": superuserPassword])
        guard result.status == 0 else { throw ShellFailure(script: sql, result: result) }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Asks `condition` every `interval` seconds until it holds; false when it never does within `seconds`.
    static func poll(seconds: Double, every interval: Double = 0.2, until condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(useconds_t(interval * 1_000_000))
        }
        return false
    }

    /// Polls `sql` on the leader until it prints `want`; false when it never does within `seconds`.
    static func waitFor(_ sql: String, _ want: String, database: String = "postgres", seconds: Double = 15) -> Bool {
        poll(seconds: seconds) { (try? psql(sql, database: database)) == want }
    }

    /// A migration-like session holding ACCESS EXCLUSIVE on `table` of `database` on the leader, once granted.
    static func holdLock(on table: String, in database: String) throws -> LockHolder {
        let session = try Shell.start(
            "/usr/bin/psql",
            [
                "-h", "127.0.0.1", "-p", String(try leader().port ?? 5432), "-U", "postgres", "-d", database, "-qAtX",
                "-c", "begin; lock table \(table) in access exclusive mode; select pg_sleep(60);",
            ], environment: ["PGPASSWORD": superuserPassword, "PGAPPNAME": LockHolder.applicationName])
        let holder = LockHolder(session: session)
        guard
            waitFor(
                "select count(*) from pg_locks l join pg_class c on c.oid = l.relation "
                    + "where c.relname = '\(table)' and l.mode = 'AccessExclusiveLock' and l.granted", "1",
                database: database)
        else {
            holder.release()
            throw ShellFailure(
                script: "lock \(table)", result: CommandResult(status: 1, stdout: "", stderr: "never granted"))
        }
        return holder
    }

    /// Runs the built pgbak binary as the postgres OS user.
    static func pgbak(
        _ arguments: [String], asPostgres: Bool = true,
        environment: [String: String] = [:]
    ) throws -> CommandResult {
        try Shell.run(
            binary, arguments, environment: testEnvironment.merging(environment) { $1 },
            asPostgres: asPostgres)
    }

    static func startPgbak(_ arguments: [String]) throws -> RunningCommand {
        try Shell.start(binary, arguments, environment: testEnvironment, asPostgres: true)
    }

    static let testEnvironment = ["PGBAK_DUMP_PASSWORD": superuserPassword]

    /// Starts the server `restore --standalone` wrote into `dir`/data (log in `dir`/log) with the running cluster's
    /// own pg_ctl, as postgres; returns what stops it.
    static func startStandalone(in dir: String) throws -> () -> Void {
        let bin = try psql("select setting from pg_config where name = 'BINDIR'")
        let pgctl = "setpriv --reuid=postgres --regid=postgres --init-groups \(bin)/pg_ctl"
        // The daemon must not inherit the test harness's descriptors (see close_inherited_fds).
        try Shell.must(
            ". '\(scripts)/lib.sh'; close_inherited_fds; \(pgctl) -D '\(dir)/data' -l '\(dir)/log' -w -t 120 start >/dev/null"
        )
        return { _ = try? Shell.bash("\(pgctl) -D '\(dir)/data' -m fast -w stop >/dev/null") }
    }

    /// A fresh configuration and empty repository under `$LAB/it/<name>`; `extra` is appended to the YAML.
    static func config(_ name: String, keepLast: Int = 7, extra: String = "") throws -> TestConfig {
        let dir = "\(lab)/it/\(name)"
        try Shell.must(
            """
            rm -rf '\(dir)' && install -d -o postgres -g postgres -m 0700 '\(dir)' && \
            sed -e 's#^  path: .*#  path: \(dir)/repo#' -e 's#^  keep_last: .*#  keep_last: \(keepLast)#' \
              '\(lab)/pgbak/pgbak.yml' > '\(dir)/pgbak.yml' && printf '%s' '\(extra)' >> '\(dir)/pgbak.yml' && \
            chown postgres:postgres '\(dir)/pgbak.yml' && chmod 0600 '\(dir)/pgbak.yml'
            """)
        return TestConfig(dir: dir)
    }
}

/// Where a test's repository lives, for suites that run on both drivers.
enum Driver: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case directory, bucket
    var testDescription: String { rawValue }
}

extension TestCluster {
    /// A fresh configuration whose repository is a directory or a prefix of the test store's bucket.
    static func config(_ name: String, keepLast: Int = 7, extra: String = "", driver: Driver) throws -> TestConfig {
        guard driver == .bucket else { return try config(name, keepLast: keepLast, extra: extra) }
        try #require(TestStore.enabled, "the S3 store must run (scripts/s3/start.sh)")
        let (s3, client) = try TestStore.config(name, keepLast: keepLast)
        try Shell.must("printf '%s' '\(extra)' >> '\(s3.file)'")
        return TestConfig(dir: s3.dir, bucket: client)
    }
}

/// One test's configuration file and repository: a directory, or a bucket (`bucket`) with this host's working
/// directory.
struct TestConfig {
    var dir: String
    var bucket: S3Client? = nil
    var file: String { dir + "/pgbak.yml" }
    /// The repository's directory; for a bucket, the working directory (where pg_basebackup writes, and staging).
    var repository: String { dir + (bucket == nil ? "/repo" : "/local") }

    func backupIDs() throws -> [String] {
        if let bucket { return try S3TestConfig.backupIDs(bucket) }
        return ((try? FileManager.default.contentsOfDirectory(atPath: repository + "/backups")) ?? []).sorted()
    }

    /// Backups in progress or left behind: staging directories, and in a bucket also prefixes without a manifest.
    func staging() -> [String] {
        let local = (try? FileManager.default.contentsOfDirectory(atPath: repository + "/staging")) ?? []
        guard let bucket, let objects = try? bucket.list(prefix: "backups/").objects else { return local }
        let ids = Set(objects.map { String($0.key.split(separator: "/")[1]) })
        let published = (try? backupIDs()) ?? []
        return local + ids.subtracting(published).sorted()
    }

    func manifest(_ id: String) throws -> [String: Any] {
        let data =
            try bucket.map { try $0.get("backups/\(id)/manifest.json") ?? Data() }
            ?? Data(contentsOf: URL(fileURLWithPath: "\(repository)/backups/\(id)/manifest.json"))
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

    /// The files stored for backup `id` below `folder` (e.g. `physical`), by name, sorted.
    func storedFiles(_ id: String, in folder: String) throws -> [String] {
        if let bucket {
            let prefix = "backups/\(id)/\(folder)/"
            return try bucket.list(prefix: prefix).objects.map { String($0.key.dropFirst(prefix.count)) }.sorted()
        }
        return ((try? FileManager.default.contentsOfDirectory(atPath: "\(repository)/backups/\(id)/\(folder)")) ?? [])
            .sorted()
    }

    func now() throws -> CommandResult { try TestCluster.pgbak(["now", "--config", file]) }

    /// The dump login reads its password from the environment variable `variable` instead of a password file.
    func useDumpPasswordEnv(_ variable: String = "PGBAK_DUMP_PASSWORD") throws {
        try Shell.must("sed -i '/^  dump:/,/passfile/ s#    passfile: .*#    password_env: \(variable)#' '\(file)'")
    }

    /// Limits the base backup's rate (slow runs to interrupt), or lifts the limit (nil).
    func setMaxRate(_ rate: String?) throws {
        try Shell.must("sed -i '/^base_backup:/,/max_rate/d' '\(file)'")
        if let rate { try Shell.must("printf 'base_backup:\\n  max_rate: \(rate)\\n' >> '\(file)'") }
    }

    /// Waits until a run has started writing its base backup into staging.
    func waitForBaseBackup(seconds: Double = 30) -> Bool {
        TestCluster.poll(seconds: seconds, every: 0.1) {
            guard let id = staging().first else { return false }
            return FileManager.default.fileExists(atPath: "\(repository)/staging/\(id)/physical/base.tar.zst")
        }
    }
}

/// The session `TestCluster.holdLock` started.
struct LockHolder {
    static let applicationName = "pgbak_blocker"
    var session: RunningCommand

    /// Ends the session and its backend (which would otherwise hold the lock until its pg_sleep ends).
    func release() {
        session.stop()
        _ = try? TestCluster.psql(
            "select pg_terminate_backend(pid) from pg_stat_activity where application_name = '\(Self.applicationName)'")
    }
}
