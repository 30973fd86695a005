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
