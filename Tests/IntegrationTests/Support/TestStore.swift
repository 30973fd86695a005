import Foundation
import PgbakKit
import Testing

/// The local multi-server SeaweedFS started by scripts/s3/start.sh, and S3 settings for it.
enum TestStore {
    static let endpoint = "http://127.0.0.1:8333"
    static let bucket = "pgbak"
    static var keys: String { TestCluster.lab + "/s3/keys" }
    static let scripts = TestCluster.repoRoot + "/scripts/s3"

    /// Settings for a prefix of this test's own, so that tests never see each other's objects.
    static func settings(prefix: String = "it/\(UUID().uuidString.prefix(8))", bucket: String = bucket)
        -> S3Settings
    {
        S3Settings(
            endpoint: endpoint, bucket: bucket, prefix: prefix,
            accessKey: .file(keys + "/access_key"), secretKey: .file(keys + "/secret_key"))
    }

    /// A configuration for the test cluster whose repository is the bucket below a prefix of its own (returned with
    /// it), its local working directory under `$LAB/it/<name>`.
    static func config(_ name: String, keepLast: Int = 7) throws -> (config: S3TestConfig, client: S3Client) {
        let prefix = "it-\(name)-\(UUID().uuidString.prefix(6))"
        let dir = "\(TestCluster.lab)/it/\(name)"
        try Shell.must(
            """
            bash '\(scripts)/write-pgbak-config.sh' >/dev/null && \
            rm -rf '\(dir)' && install -d -o postgres -g postgres -m 0700 '\(dir)' && \
            sed -e 's#^  path: .*#  path: \(dir)/local#' -e 's#^    prefix: .*#    prefix: \(prefix)#' \
              -e 's#^  keep_last: .*#  keep_last: \(keepLast)#' '\(TestCluster.lab)/pgbak/pgbak-s3.yml' > '\(dir)/pgbak.yml' && \
            chown postgres:postgres '\(dir)/pgbak.yml' && chmod 0600 '\(dir)/pgbak.yml'
            """)
        return (S3TestConfig(dir: dir), try S3Client(settings: settings(prefix: prefix)))
    }

    /// Whether the S3 gateway listens; under CI or with PGBAK_REQUIRE_CLUSTER a missing store fails the tests.
    static let enabled: Bool = TestCluster.enabled && (TestCluster.listening(port: 8333) || requireStore())

    private static func requireStore() -> Bool {
        FileHandle.standardError.write(Data("\n*** the S3 store is not running: scripts/s3/start.sh --fresh\n".utf8))
        return TestCluster.isCI || ProcessInfo.processInfo.environment["PGBAK_REQUIRE_CLUSTER"] == "1"
    }

    /// Runs one of the store's scripts' functions, e.g. `weed_stop volume2`.
    @discardableResult
    static func control(_ command: String) throws -> CommandResult {
        try Shell.bash(
            ". '\(TestCluster.scripts)/env.sh'; . '\(TestCluster.scripts)/lib.sh'; . '\(scripts)/env.sh'; "
                + ". '\(scripts)/lib.sh'; \(command)")
    }
}

extension TestStore {
    /// Re-seeds a streaming replica through Patroni from backup `id`, the members' replica method reading `file` (a
    /// repository in the bucket) for the while; expects the run to say so. Returns the member.
    static func reseedAReplica(config file: String, from id: String) throws -> TestCluster.Member {
        let target = try #require(
            try TestCluster.members().first { $0.role != "leader" && $0.state == "streaming" })
        let member = TestCluster.lab + "/pgbak/member.yml"
        try Shell.must("cp -p '\(file)' '\(member)'")
        defer { _ = try? Shell.must("cp -p '\(TestCluster.lab)/pgbak/pgbak.yml' '\(member)'") }
        let reseeded = try TestCluster.pgbak(["restore", "--node", target.name, "--config", file])
        #expect(reseeded.status == 0, "\(reseeded)")
        #expect(
            reseeded.stdout.contains("re-seeded \(target.name) from backup \(id) through Patroni"), "\(reseeded)")
        return target
    }
}

extension TestCluster {
    /// Closes a WAL segment on the leader (a switch) and pushes it with `wal-push` into `file`'s repository; returns
    /// its name and its path in the leader's pg_wal.
    static func pushFinishedSegment(config file: String) throws -> (segment: String, path: String) {
        let leader = try #require(try members().first { $0.role == "leader" })
        try psql("create table if not exists wal_nudge(x int); insert into wal_nudge values (1)")
        let segment = try psql("select pg_walfile_name(pg_switch_wal())").trimmingCharacters(
            in: .whitespacesAndNewlines)
        let path = lab + "/data/" + leader.name + "/pg_wal/" + segment
        let pushed = try pgbak(["wal-push", "--config", file, path])
        #expect(pushed.status == 0, "\(pushed)")
        return (segment, path)
    }

    /// `restore --database app2 --as NAME` from `file`'s repository; `table` in the copy must match `want` (the restore
    /// suite's checksum query's answer). The copy is dropped again.
    static func expectDatabaseRestored(config file: String, as name: String, table: String, want: String) throws {
        let restored = try pgbak(["restore", "--database", "app2", "--as", name, "--config", file])
        #expect(restored.status == 0, "\(restored)")
        #expect(
            try psql(String(format: ClusterTests.RestoreIntegrationTests.checksumSQL, table), database: name) == want)
        try psql("drop database if exists \(name) with (force)")
    }
}

/// One test's configuration with its repository in the bucket.
struct S3TestConfig {
    var dir: String
    var file: String { dir + "/pgbak.yml" }
    var local: String { dir + "/local" }

    func now() throws -> CommandResult { try TestCluster.pgbak(["now", "--config", file]) }

    /// Published backups: the ids that have a manifest object.
    static func backupIDs(_ client: S3Client) throws -> [String] {
        try client.list(prefix: "backups/").objects.filter { $0.key.hasSuffix("/manifest.json") }
            .map { String($0.key.split(separator: "/")[1]) }.sorted()
    }
}
