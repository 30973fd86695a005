import Foundation
import PgbakKit
import Testing

extension ClusterTests {
    /// The repository in the real multi-server SeaweedFS: backup, verify, restore test, a replica re-seeded through
    /// Patroni reading the bucket itself, one database restored, retention, the WAL archive, the lease, and runs
    /// that die or lose the store half-way.
    @Suite(.enabled(if: TestStore.enabled)) struct S3RepositoryIntegrationTests {
        init() throws {
            try TestData.prepare()
        }

        func content(_ table: String, database: String = "app2", port: Int? = nil) throws -> String {
            try TestCluster.psql(
                String(format: RestoreIntegrationTests.checksumSQL, table), database: database, port: port)
        }

        /// Every local file's size under `dir`, in bytes on disk (holes punched out of a file do not count).
        func diskBytes(_ dir: String) throws -> Int {
            Int(
                try Shell.must("du -s --block-size=1 '\(dir)' | cut -f1").trimmingCharacters(
                    in: .whitespacesAndNewlines))
                ?? -1
        }

        /// Enough data that the base backup's upload spans several parts (a smaller file is one PUT at its end);
        /// dropped again by the returned closure.
        func bulk() throws -> () -> Void {
            try TestCluster.psql(
                "drop table if exists s3_bulk; create table s3_bulk as select g, md5(g::text) || md5((g * 7)::text) v "
                    + "from generate_series(1, 700000) g",
                database: "app2")
            return { _ = try? TestCluster.psql("drop table if exists s3_bulk", database: "app2") }
        }

        @Test func backupVerifyRestoreTestReseedAndDatabaseRestoreFromTheBucket() throws {
            let (s3, client) = try TestStore.config("s3-roundtrip")
            try TestCluster.psql(
                "drop table if exists s3_before, s3_after; "
                    + "create table s3_before as select g, md5(g::text) v from generate_series(1, 30000) g",
                database: "app2")
            let taken = try s3.now()
            try #require(taken.status == 0, "\(taken)")
            let id = try #require(try S3TestConfig.backupIDs(client).last)
            let objects = try client.list(prefix: "backups/\(id)/").objects.map(\.key)
            #expect(objects.contains("backups/\(id)/physical/base.tar.zst"))
            #expect(objects.contains("backups/\(id)/manifest.sha256"))
            #expect(try client.pendingUploads(prefix: "").isEmpty)
            // Nothing of the backup stays on this host: the working directory holds no staging and next to no bytes.
            #expect(try diskBytes(s3.local) < 1 << 20, "the backup must not be kept locally")

            let listed = try TestCluster.pgbak(["list", "--config", s3.file])
            #expect(listed.stdout.contains(id), "\(listed)")
            let verified = try TestCluster.pgbak(["verify", "--restore-test", "--config", s3.file])
            #expect(verified.status == 0, "\(verified)")
            #expect(verified.stdout.contains("restore-test  OK"), "\(verified)")
            #expect(try client.list(prefix: "backups/\(id)/verification/").objects.count >= 1)

            try TestCluster.psql(
                "create table s3_after as select g, now() t from generate_series(1, 5000) g", database: "app2")
            // The members' replica method reads this configuration: it fetches the backup from the bucket itself.
            let target = try TestStore.reseedAReplica(config: s3.file, from: id)
            let results = try client.list(prefix: "requests/").objects.filter { $0.key.hasSuffix(".result.json") }
            let result = try #require(results.first.flatMap { try client.get($0.key) })
            #expect(String(decoding: result, as: UTF8.self).contains("\"backup_id\" : \"\(id)\""))
            for table in ["s3_before", "s3_after"] {
                let want = try content(table)
                #expect(
                    TestCluster.poll(seconds: 60, every: 0.25) { (try? content(table, port: target.port)) == want },
                    "\(table) on the re-seeded \(target.name)")
            }

            try TestCluster.expectDatabaseRestored(
                config: s3.file, as: "app2_from_s3", table: "s3_before", want: try content("s3_before"))
        }

        @Test func retentionRemovesEveryObjectOfAPrunedBackup() throws {
            let (s3, client) = try TestStore.config("s3-retention", keepLast: 1)
            try #require(try s3.now().status == 0)
            let first = try #require(try S3TestConfig.backupIDs(client).first)
            try #require(try s3.now().status == 0)
            let ids = try S3TestConfig.backupIDs(client)
            #expect(ids.count == 1 && ids != [first], "\(ids)")
            #expect(try client.list(prefix: "backups/\(first)/").objects.isEmpty)
        }

        @Test func aRunKilledMidUploadPublishesNothingAndTheNextRunCleansUp() throws {
            let (s3, client) = try TestStore.config("s3-kill")
            let dropBulk = try bulk()
            defer { dropBulk() }
            try Shell.must("printf 'base_backup:\\n  max_rate: 16M\\n' >> '\(s3.file)'")
            let run = try TestCluster.startPgbak(["now", "--config", s3.file])
            let uploading = TestCluster.poll(seconds: 60, every: 0.1) {
                ((try? client.pendingUploads(prefix: "backups/")) ?? []).contains {
                    $0.key.hasSuffix("base.tar.zst")
                }
            }
            run.stop()
            try #require(uploading, "the base backup's upload never started")
            #expect(try S3TestConfig.backupIDs(client).isEmpty)
            #expect(!(try client.pendingUploads(prefix: "backups/")).isEmpty)
            let listed = try TestCluster.pgbak(["list", "--config", s3.file])
            #expect(listed.status == 0 && !listed.stdout.contains("complete"), "\(listed)")

            // The killed run's lease is still there: the next run waits it out (its TTL) or takes it over.
            try Shell.must("sed -i '/^base_backup:/,/max_rate/d' '\(s3.file)'")
            try client.delete(S3Lease.key)
            let next = try s3.now()
            #expect(next.status == 0, "\(next)")
            #expect(try client.pendingUploads(prefix: "").isEmpty)
            let ids = try S3TestConfig.backupIDs(client)
            #expect(ids.count == 1)
            let prefixes = Set(try client.list(prefix: "backups/").objects.map { $0.key.split(separator: "/")[1] })
            #expect(prefixes == Set(ids.map { Substring($0) }), "only the published backup's objects are left")
        }

        @Test func theS3GatewayStoppedMidUploadFailsTheRunCleanly() throws {
            let (s3, client) = try TestStore.config("s3-gateway")
            let dropBulk = try bulk()
            defer { dropBulk() }
            try Shell.must("printf 'base_backup:\\n  max_rate: 16M\\n' >> '\(s3.file)'")
            let run = try TestCluster.startPgbak(["now", "--config", s3.file])
            defer { _ = try? TestStore.control("start_s3_gateway") }
            let uploading = TestCluster.poll(seconds: 60, every: 0.1) {
                !((try? client.pendingUploads(prefix: "backups/")) ?? []).isEmpty
            }
            try #require(uploading)
            try TestStore.control("weed_stop s3")
            let result = try #require(run.wait(seconds: 240), "pgbak must give up when the store is gone")
            #expect(result.status != 0, "\(result)")
            #expect(result.stderr.contains("127.0.0.1:8333"), "the error names the store: \(result)")
            try TestStore.control("start_s3_gateway")
            #expect(try S3TestConfig.backupIDs(client).isEmpty, "no partial backup is visible")
            try Shell.must("sed -i '/^base_backup:/,/max_rate/d' '\(s3.file)'")
            try? client.delete(S3Lease.key)
            let next = try s3.now()
            #expect(next.status == 0, "\(next)")
            #expect(try S3TestConfig.backupIDs(client).count == 1)
            #expect(try client.pendingUploads(prefix: "").isEmpty)
        }

        @Test func aVolumeServerKilledDuringABackupNeverLeavesAPublishedBackupWithAMissingPart() throws {
            let (s3, client) = try TestStore.config("s3-volume")
            let dropBulk = try bulk()
            defer { dropBulk() }
            try Shell.must("printf 'base_backup:\\n  max_rate: 16M\\n' >> '\(s3.file)'")
            let run = try TestCluster.startPgbak(["now", "--config", s3.file])
            defer { _ = try? TestStore.control("start_volume 2") }
            _ = TestCluster.poll(seconds: 60, every: 0.1) {
                !((try? client.pendingUploads(prefix: "backups/")) ?? []).isEmpty
            }
            try TestStore.control("kill -KILL $(cat \"$S3LAB/run/volume2.pid\")")
            let result = try #require(run.wait(seconds: 300))
            try TestStore.control("rm -f \"$S3LAB/run/volume2.pid\"; start_volume 2")
            let ids = try S3TestConfig.backupIDs(client)
            if result.status == 0 {
                // Completed on the two volume servers left: every part must be there and read back intact.
                #expect(ids.count == 1)
                let verified = try TestCluster.pgbak(["verify", "--config", s3.file])
                #expect(verified.status == 0, "\(verified)")
            } else {
                #expect(ids.isEmpty, "a failed run publishes nothing: \(result)")
            }
        }

        @Test func aLeaseHeldOnAnotherHostRefusesTheRunAndNamesTheHolder() throws {
            let (s3, client) = try TestStore.config("s3-lease")
            let other = LeaseRecord(token: "other-host", host: "db-elsewhere", pid: 4242, scope: "x", ttlSeconds: 600)
            _ = try client.put(S3Lease.key, data: try JSONEncoder().encode(other), ifNoneMatch: true)
            let refused = try s3.now()
            #expect(refused.status == 3, "\(refused)")
            #expect(refused.stderr.contains("host db-elsewhere, PID 4242"), "\(refused)")
            #expect(try S3TestConfig.backupIDs(client).isEmpty)
            let still = try #require(try client.fetch(S3Lease.key))
            #expect(
                try JSONDecoder().decode(LeaseRecord.self, from: still.data) == other, "the holder's lease is untouched"
            )
        }

        @Test func wrongSecretAndMissingBucketAreClearErrors() throws {
            let (s3, _) = try TestStore.config("s3-errors")
            let wrongKey = s3.dir + "/wrong-secret"
            try Shell.must(
                "printf 'not-the-key' > '\(wrongKey)' && chown postgres '\(wrongKey)' && chmod 600 '\(wrongKey)' && "
                    + "sed -i 's#^    secret_key_file: .*#    secret_key_file: \(wrongKey)#' '\(s3.file)'")
            let wrong = try s3.now()
            #expect(wrong.status != 0)
            #expect(wrong.stderr.contains("the secret key is wrong"), "\(wrong)")
            #expect(!wrong.stderr.contains("not-the-key"))
            let checked = try TestCluster.pgbak(["check", "--config", s3.file])
            let line = checked.stdout.split(separator: "\n").first { $0.hasPrefix("repository ") } ?? ""
            #expect(line.contains("FAIL") && line.contains("the secret key is wrong"), "\(checked)")
            #expect(!checked.stdout.contains("placement repository"), "the backups are not on this host's disks")

            try Shell.must(
                "sed -i -e 's#^    secret_key_file: .*#    secret_key_file: \(TestStore.keys)/secret_key#' "
                    + "-e 's#^    bucket: .*#    bucket: no-such-bucket#' '\(s3.file)'")
            let missing = try s3.now()
            #expect(missing.status != 0)
            #expect(missing.stderr.contains("bucket 'no-such-bucket' does not exist"), "\(missing)")
        }

        @Test func repoCopyMovesBackupsAndWALIntoTheBucketCheckingEveryFile() throws {
            let posix = try TestCluster.config("copy-posix")
            let taken = try posix.now()
            try #require(taken.status == 0, "\(taken)")
            let id = try #require(try posix.backupIDs().last)
            let (segment, walPath) = try TestCluster.pushFinishedSegment(config: posix.file)

            let (s3, client) = try TestStore.config("copy-s3")
            let copied = try TestCluster.pgbak(["repo-copy", "--to", s3.file, "--config", posix.file])
            #expect(copied.status == 0, "\(copied)")
            #expect(copied.stdout.contains("copied \(id)"), "\(copied)")
            #expect(try S3TestConfig.backupIDs(client) == [id])
            // (Its WAL archive holds only the one segment pushed above: verify reports that gap; the backup is OK.)
            let verified = try TestCluster.pgbak(["verify", "--config", s3.file])
            #expect(verified.stdout.contains("\(id)  default  OK"), "\(verified)")
            let fetched = s3.dir + "/fetched"
            #expect(try TestCluster.pgbak(["wal-fetch", "--config", s3.file, segment, fetched]).status == 0)
            #expect(try Shell.bash("cmp '\(walPath)' '\(fetched)'").status == 0)
            let again = try TestCluster.pgbak(["repo-copy", "--to", s3.file, "--config", posix.file])
            #expect(again.stdout.contains("skipped \(id)"), "\(again)")

            // And back out of the bucket into a directory: the manifest byte for byte, the backup intact.
            let back = try TestCluster.config("copy-back")
            let returned = try TestCluster.pgbak(["repo-copy", "--to", back.file, "--config", s3.file])
            #expect(returned.status == 0, "\(returned)")
            #expect(try back.backupIDs() == [id])
            #expect(
                try Data(contentsOf: URL(fileURLWithPath: "\(back.repository)/backups/\(id)/manifest.json"))
                    == Data(contentsOf: URL(fileURLWithPath: "\(posix.repository)/backups/\(id)/manifest.json")))
            #expect(try TestCluster.pgbak(["verify", "--config", back.file]).stdout.contains("\(id)  default  OK"))

            // A damaged source file stops the copy of its backup: nothing of it appears in the target.
            let dump = try Shell.must("cd '\(posix.repository)/backups/\(id)/logical' && ls -S *.dump.zst | head -1")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let damaged = "\(posix.repository)/backups/\(id)/logical/\(dump)"
            try Shell.must("cp '\(damaged)' '\(damaged).orig'")
            try Shell.must("printf 'X' | dd of='\(damaged)' bs=1 seek=1000 conv=notrunc 2>/dev/null")
            try #require(try Shell.bash("cmp -s '\(damaged)' '\(damaged).orig'").status == 1, "the byte must change")
            try Shell.must("rm '\(damaged).orig'")
            let (damagedTarget, damagedClient) = try TestStore.config("copy-damaged")
            let refused = try TestCluster.pgbak(["repo-copy", "--to", damagedTarget.file, "--config", posix.file])
            #expect(refused.status != 0, "\(refused)")
            #expect(refused.stderr.contains("logical/\(dump)") && refused.stderr.contains("damaged"), "\(refused)")
            #expect(try S3TestConfig.backupIDs(damagedClient).isEmpty)
            #expect(try damagedClient.pendingUploads(prefix: "").isEmpty)
        }

        @Test func pointInTimeRecoveryFromTheBucket() throws {
            typealias WAL = WALArchiveIntegrationTests
            try WAL.emptyTableAndBackup()
            let lab = TestConfig(dir: TestCluster.lab + "/pgbak")
            let id = try #require(try lab.backupIDs().last)
            let (time1, hash1) = try WAL.rowsAroundAMoment()

            // The backup and the whole WAL archive into the bucket; the recovery reads both from there only.
            let (s3, client) = try TestStore.config("s3-pitr")
            let copied = try TestCluster.pgbak(["repo-copy", "--to", s3.file, "--backup", id, "--config", lab.file])
            try #require(copied.status == 0, "\(copied)")
            #expect(try S3TestConfig.backupIDs(client) == [id])
            let dir = s3.dir + "/pitr"
            try Shell.must("install -d -o postgres -g postgres -m 0700 '\(dir)'")
            let restored = try TestCluster.pgbak([
                "restore", "--config", s3.file, "--datadir", dir, "--standalone", "--port", "5596", "--start",
                "--to-time", time1,
            ])
            defer {
                _ = try? Shell.run(
                    "/usr/lib/postgresql/15/bin/pg_ctl", ["-D", dir, "stop", "-m", "immediate"], asPostgres: true)
            }
            try #require(restored.status == 0, "\(restored)")
            #expect(try Shell.must("grep '^restore_command' '\(dir)/postgresql.conf'").contains(s3.file))
            let hash = try Shell.run(
                "/usr/bin/psql", ["-h", "/tmp", "-p", "5596", "-U", "postgres", "-qAtX", "-c", WAL.hashSQL],
                asPostgres: true)
            #expect(hash.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == hash1, "\(hash)")
        }

        @Test func aClockBeyondSigV4sWindowIsAClearError() throws {
            let (s3, client) = try TestStore.config("s3-clock")
            let skewed = try Shell.run(
                "/usr/bin/faketime", ["-f", "+2h", TestCluster.binary, "now", "--config", s3.file],
                environment: TestCluster.testEnvironment, asPostgres: true)
            #expect(skewed.status != 0, "\(skewed)")
            #expect(skewed.stderr.contains("clock differs from the store's by more than 15 minutes"), "\(skewed)")
            #expect(try S3TestConfig.backupIDs(client).isEmpty)
        }

        @Test func walPushedToTheBucketIsFetchedBackByteForByte() throws {
            let (s3, client) = try TestStore.config("s3-wal")
            // A finished segment: the one a switch just closed.
            let (segment, path) = try TestCluster.pushFinishedSegment(config: s3.file)
            #expect(try client.list(prefix: "wal/").objects.contains { $0.key.contains(segment) })
            let target = s3.dir + "/fetched"
            let fetched = try TestCluster.pgbak(["wal-fetch", "--config", s3.file, segment, target])
            #expect(fetched.status == 0, "\(fetched)")
            let same = try Shell.bash("cmp '\(path)' '\(target)'")
            #expect(same.status == 0, "\(same)")
        }
    }
}
