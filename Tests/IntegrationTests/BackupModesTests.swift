import Foundation
import Testing

/// `pgbak now --physical-only`: a complete backup without dumps, which verify accepts and which re-seeds replicas.
extension ClusterTests {
    @Suite struct BackupModesTests {
        init() throws {
            try TestData.prepare()
        }

        @Test(arguments: Driver.allCases) func physicalOnlySkipsTheDumpsAndIsStillComplete(driver: Driver) throws {
            let config = try TestCluster.config("physical-only", driver: driver)
            let result = try TestCluster.pgbak([
                "now", "--physical-only", "--config", config.file, "--log-level", "debug",
            ])
            #expect(result.status == 0, "\(result)")
            let ids = try config.backupIDs()
            try #require(ids.count == 1)
            // pg_wal.tar was compressed while pg_basebackup still fsynced, and no tar is left beside the archives.
            let early = result.stderr.split(separator: "\n").first {
                $0.hasSuffix("compressed while pg_basebackup ended")
            }
            #expect(early?.contains("files=pg_wal.tar ") == true, "\(result)")
            let stored = try config.storedFiles(ids[0], in: "physical")
            #expect(stored == ["backup_manifest", "base.tar.zst", "pg_wal.tar.zst"], "\(stored)")
            // The last line says what the run cost; pg_basebackup was its largest child.
            let last = result.stderr.split(separator: "\n").last.map(String.init) ?? ""
            #expect(last.hasSuffix("resources"), "\(last)")
            func kilobytes(_ key: String) -> Int {
                let field = last.split(separator: " ").first { $0.hasPrefix(key + "=") }
                return field.flatMap { Int($0.dropFirst(key.count + 1)) } ?? 0
            }
            #expect(kilobytes("peak_rss_kb") > 10_000, "\(last)")
            #expect(kilobytes("children_peak_rss_kb") > 10_000, "\(last)")
            let manifest = try config.manifest(ids[0])
            #expect(manifest["status"] as? String == "complete")
            let logical = manifest["logical"] as? [String: Any]
            #expect(logical?["status"] as? String == "skipped")
            #expect((logical?["databases"] as? [Any])?.isEmpty == true)
            let files = (manifest["files"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
            #expect(files.allSatisfy { $0.hasPrefix("physical/") }, "\(files)")
            #expect(files.contains("physical/base.tar.zst"))
            #expect(try config.storedFiles(ids[0], in: "logical").isEmpty)
            let verified = try TestCluster.pgbak(["verify", ids[0], "--config", config.file])
            #expect(verified.status == 0, "\(verified)")
            // It has no dump to restore a database from, and says so.
            let database = try TestCluster.pgbak([
                "restore", "--database", "app2", "--as", "x", "--config", config.file,
            ])
            #expect(database.status == 1)
            #expect(database.stderr.contains("holds a complete dump of database app2"), "\(database)")
        }

        @Test func theDumpsRunWhileTheBaseBackupStreams() throws {
            let config = try TestCluster.config("overlap")
            try config.setMaxRate("8M")
            let run = try TestCluster.startPgbak(["now", "--config", config.file])
            // A dump in staging while pg_basebackup has not yet written backup_manifest, its last file.
            let overlapped = TestCluster.poll(seconds: 60, every: 0.05) {
                guard let id = config.staging().first else { return false }
                let dir = "\(config.repository)/staging/\(id)"
                let dumps = ((try? FileManager.default.contentsOfDirectory(atPath: dir + "/logical")) ?? [])
                    .filter { $0.hasSuffix(".dump.zst") }
                let physical = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/physical")) ?? []
                return !dumps.isEmpty && physical.contains("base.tar.zst")
                    && !physical.contains { $0.hasPrefix("backup_manifest") }
            }
            let result = try #require(run.wait(seconds: 120), "pgbak did not finish")
            #expect(overlapped, "no dump was written while the base backup streamed")
            #expect(result.status == 0, "\(result)")
            let ids = try config.backupIDs()
            try #require(ids.count == 1)
            #expect(try config.manifest(ids[0])["status"] as? String == "complete")
            let verified = try TestCluster.pgbak(["verify", ids[0], "--config", config.file])
            #expect(verified.status == 0, "\(verified)")
        }
    }
}

/// Secrets stay out of logs (even at trace level) and manifests.
extension ClusterTests.BackupModesTests {
    @Test func noSecretReachesTheLogOrTheManifest() throws {
        let config = try TestCluster.config("secrets")
        try config.useDumpPasswordEnv()
        let result = try TestCluster.pgbak(["now", "--log-level", "trace", "--config", config.file])
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.contains("trace") || result.stderr.contains("debug"), "the log must have been verbose")
        let id = try #require(try config.backupIDs().first)
        let manifest = try Shell.must("cat '\(config.repository)/backups/\(id)/manifest.json'")
        for secret in ["postgres-pass", "rep-pass", "patroni-pass"] {
            #expect(!result.stderr.contains(secret), "\(secret) in the log")
            #expect(!result.stdout.contains(secret), "\(secret) on stdout")
            #expect(!manifest.contains(secret), "\(secret) in the manifest")
        }
    }
}
