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
