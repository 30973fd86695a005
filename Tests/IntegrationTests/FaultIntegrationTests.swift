import Foundation
import Testing

/// Faults on the real cluster: pgbak killed, the leader switched over or crashed mid-backup, the repository's
/// filesystem full, runs racing each other. Each test checks the exit code, the message, that nothing incomplete is
/// reported complete, that earlier backups still verify, and that the next run leaves nothing in staging.
extension ClusterTests {
    @Suite struct FaultIntegrationTests {
        init() throws {
            try TestData.prepare()
        }

        /// Waits until a run of `config` has started its base backup.
        func waitForBaseBackup(_ config: TestConfig, seconds: Double = 30) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if let id = config.staging().first,
                    FileManager.default.fileExists(atPath: "\(config.repository)/staging/\(id)/physical/base.tar.zst")
                {
                    return true
                }
                usleep(100_000)
            }
            return false
        }

        func verify(_ config: TestConfig, _ id: String) throws -> CommandResult {
            try TestCluster.pgbak(["verify", id, "--config", config.file])
        }

        func setMaxRate(_ config: TestConfig, _ rate: String?) throws {
            try Shell.must("sed -i '/^base_backup:/,/max_rate/d' '\(config.file)'")
            if let rate { try Shell.must("printf 'base_backup:\\n  max_rate: \(rate)\\n' >> '\(config.file)'") }
        }

        /// Polls `sql` on the leader until it prints `want`.
        func waitFor(_ sql: String, _ want: String, database: String = "postgres", seconds: Double = 15) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if (try? TestCluster.psql(sql, database: database)) == want { return true }
                usleep(200_000)
            }
            return false
        }

        @Test func sigkillMidBaseBackupLeavesNoChildAndTheNextRunClearsTheLeftovers() throws {
            let config = try TestCluster.config("sigkill", keepLast: 5)
            try Shell.must(
                "sed -i '/^  dump:/,/passfile/ s#    passfile: .*#    password_env: PGBAK_DUMP_PASSWORD#' '\(config.file)'"
            )
            let earlier = try config.now()
            try #require(earlier.status == 0, "\(earlier)")
            let earlierID = try #require(try config.backupIDs().first)
            try setMaxRate(config, "1M")

            let run = try TestCluster.startPgbak(["now", "--config", config.file])
            try #require(waitForBaseBackup(config), "the run never started its base backup")
            usleep(300_000)
            kill(run.pid, SIGKILL)
            _ = run.wait(seconds: 10)

            // No child lives on: no pg_basebackup, no walsender, no temporary slot.
            #expect(
                waitFor(
                    "select count(*) from pg_stat_replication where application_name = 'pgbak'", "0"),
                "a walsender for the killed run lives on")
            #expect(waitFor("select count(*) from pg_replication_slots where slot_name like 'pg_basebackup_%'", "0"))
            let children = try Shell.bash("pgrep -f 'pg_basebackup.*\(config.repository)|pg_dump.*pgbak'")
            #expect(children.stdout.isEmpty, "children outlived pgbak: \(children.stdout)")
            // What the killed run left: its staging directory, its private run directory (a password file).
            #expect(config.staging().count == 1)
            #expect(FileManager.default.fileExists(atPath: "\(config.repository)/run/\(run.pid)"))

            // A staging directory some process still writes into is kept; the dead run's is removed.
            let held = "\(config.repository)/staging/19991231T235900Z"
            try Shell.must("install -d -o postgres -m 0700 '\(held)'")
            let holder = try Shell.start(
                "/bin/bash", ["-c", "exec 3>'\(held)/base.tar.zst'; sleep 60"], asPostgres: true)
            defer { holder.stop() }
            usleep(300_000)
            try setMaxRate(config, nil)
            let next = try config.now()
            #expect(next.status == 0, "\(next)")
            #expect(config.staging() == ["19991231T235900Z"], "only the held directory may remain")
            #expect(!FileManager.default.fileExists(atPath: "\(config.repository)/run/\(run.pid)"))
            holder.stop()
            let after = try config.now()
            #expect(after.status == 0, "\(after)")
            #expect(config.staging().isEmpty)
            #expect(try config.backupIDs().count == 3)
            #expect(try verify(config, earlierID).status == 0)
        }

        @Test func aSwitchoverDuringTheBaseBackupIsRetriedOnTheNewLeader() throws {
            let config = try TestCluster.config("switch-during")
            try setMaxRate(config, "6M")
            let before = try TestCluster.leader()
            let run = try TestCluster.startPgbak(["now", "--config", config.file])
            try #require(waitForBaseBackup(config), "the run never started its base backup")
            try Shell.must("'\(TestCluster.scripts)/failover.sh' switchover >/dev/null 2>&1")
            let after = try TestCluster.leader()
            try #require(after.name != before.name)
            let result = try #require(run.wait(seconds: 180), "pgbak did not finish")
            #expect(result.status == 0, "\(result)")
            #expect(result.stderr.contains("the leader changed during the backup"), "\(result)")
            try expectOneBackupFrom(after, config: config)
        }

        @Test func aLeaderCrashDuringTheBaseBackupIsRetriedOnTheNewLeader() throws {
            let config = try TestCluster.config("crash-during")
            try setMaxRate(config, "6M")
            let before = try TestCluster.leader()
            let run = try TestCluster.startPgbak(["now", "--config", config.file])
            try #require(waitForBaseBackup(config), "the run never started its base backup")
            // Patroni and the postmaster killed together; the script waits for a new leader and brings the node back.
            try Shell.must("'\(TestCluster.scripts)/failover.sh' crash >/dev/null 2>&1")
            let after = try TestCluster.leader()
            try #require(after.name != before.name)
            let result = try #require(run.wait(seconds: 240), "pgbak did not finish")
            #expect(result.status == 0, "\(result)")
            #expect(result.stderr.contains("the leader changed during the backup"), "\(result)")
            try expectOneBackupFrom(after, config: config)
        }

        /// One complete backup, named after `leader`, on its timeline, whose WAL is on that timeline, that verifies.
        func expectOneBackupFrom(_ leader: TestCluster.Member, config: TestConfig) throws {
            #expect(config.staging().isEmpty)
            let ids = try config.backupIDs()
            try #require(ids.count == 1, "\(ids)")
            let manifest = try config.manifest(ids[0])
            #expect(manifest["status"] as? String == "complete")
            #expect((manifest["leader"] as? [String: Any])?["name"] as? String == leader.name)
            let timeline = (manifest["cluster"] as? [String: Any])?["timeline"] as? Int
            #expect(timeline == leader.timeline)
            let physical = manifest["physical"] as? [String: Any]
            #expect(physical?["start_timeline"] as? Int == timeline)
            #expect(physical?["stop_timeline"] as? Int == timeline)
            let verified = try verify(config, ids[0])
            #expect(verified.status == 0, "\(verified)")
        }

        @Test func aSwitchoverDuringTheDumpsWithoutRetriesKeepsWhatCameBeforeAndSaysSo() throws {
            let config = try TestCluster.config(
                "switch-dumps",
                extra: "leader_change:\n  retries: 0\ndumps:\n  lock_wait_timeout_seconds: 60\n")
            let leader = try TestCluster.leader()
            // bench's dump waits behind a lock, so the switchover lands in the middle of the dumps.
            let blocker = try Shell.start(
                "/usr/bin/psql",
                [
                    "-h", "127.0.0.1", "-p", String(leader.port ?? 5432), "-U", "postgres", "-d", "bench", "-qAtX",
                    "-c", "begin; lock table pgbench_branches in access exclusive mode; select pg_sleep(60);",
                ], environment: ["PGPASSWORD": TestCluster.superuserPassword, "PGAPPNAME": "pgbak_blocker"])
            defer { blocker.stop() }
            try #require(
                waitFor(
                    "select count(*) from pg_locks l join pg_class c on c.oid = l.relation "
                        + "where c.relname = 'pgbench_branches' and l.mode = 'AccessExclusiveLock' and l.granted", "1",
                    database: "bench"))
            let run = try TestCluster.startPgbak(["now", "--config", config.file])
            try #require(
                waitFor(
                    "select count(*) > 0 from pg_stat_activity where datname = 'bench' and wait_event_type = 'Lock'",
                    "t", seconds: 60), "the dump of bench never queued behind the lock")
            try Shell.must("'\(TestCluster.scripts)/failover.sh' switchover >/dev/null 2>&1")
            let result = try #require(run.wait(seconds: 120), "pgbak did not finish")
            #expect(result.status == 2, "\(result)")
            #expect(result.stdout.contains("PARTIAL"), "\(result)")
            #expect(result.stdout.contains("not dumped: bench"), "\(result)")
            let ids = try config.backupIDs()
            try #require(ids.count == 1)
            let manifest = try config.manifest(ids[0])
            #expect(manifest["status"] as? String == "partial")
            #expect((manifest["physical"] as? [String: Any])?["status"] as? String == "complete")
            #expect((manifest["leader"] as? [String: Any])?["name"] as? String == leader.name)
            let dbs = (manifest["logical"] as? [String: Any])?["databases"] as? [[String: Any]] ?? []
            let status = Dictionary(dbs.map { ($0["name"] as? String ?? "", $0["status"] as? String ?? "") }) { a, _ in
                a
            }
            #expect(status["app2"] == "complete", "dumped before the switchover")
            #expect(status["bench"] == "skipped")
            #expect(status["postgres"] == "skipped")
            let files = (manifest["files"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
            #expect(files.filter { $0.hasSuffix(".dump.zst") }.count == 1, "only app2's dump is kept: \(files)")
            #expect(config.staging().isEmpty)
            #expect(try verify(config, ids[0]).status == 0)
        }

        @Test func aDatabaseDroppedMidRunIsRecordedAsDropped() throws {
            try TestCluster.psql("drop database if exists dropme with (force)")
            try TestCluster.psql("create database dropme")
            try TestCluster.psql("create table t as select g from generate_series(1, 100) g", database: "dropme")
            let config = try TestCluster.config("dropped", extra: "dumps:\n  lock_wait_timeout_seconds: 60\n")
            let leader = try TestCluster.leader()
            let blocker = try Shell.start(
                "/usr/bin/psql",
                [
                    "-h", "127.0.0.1", "-p", String(leader.port ?? 5432), "-U", "postgres", "-d", "dropme", "-qAtX",
                    "-c", "begin; lock table t in access exclusive mode; select pg_sleep(60);",
                ], environment: ["PGPASSWORD": TestCluster.superuserPassword])
            defer { blocker.stop() }
            try #require(
                waitFor(
                    "select count(*) from pg_locks where mode = 'AccessExclusiveLock' and granted "
                        + "and relation = 't'::regclass", "1", database: "dropme"))
            let run = try TestCluster.startPgbak(["now", "--config", config.file])
            try #require(
                waitFor(
                    "select count(*) > 0 from pg_stat_activity where datname = 'dropme' and wait_event_type = 'Lock'",
                    "t", seconds: 60))
            try TestCluster.psql("drop database dropme with (force)")
            let result = try #require(run.wait(seconds: 60))
            #expect(result.status == 0, "\(result)")
            let ids = try config.backupIDs()
            try #require(ids.count == 1)
            let manifest = try config.manifest(ids[0])
            let dbs = (manifest["logical"] as? [String: Any])?["databases"] as? [[String: Any]] ?? []
            let dropme = dbs.first { $0["name"] as? String == "dropme" }
            #expect(dropme?["status"] as? String == "dropped")
            #expect(dropme?["file"] == nil)
            #expect(dbs.first { $0["name"] as? String == "postgres" }?["status"] as? String == "complete")
            #expect(try verify(config, ids[0]).status == 0)
        }

        @Test func aFullFilesystemFailsCleanlyAndEarlierBackupsStay() throws {
            let config = try TestCluster.config("fullfs", keepLast: 1)
            try Shell.must(
                """
                mkdir -p '\(config.repository)' && \
                mount -t tmpfs -o size=400m,mode=0700,uid=$(id -u postgres),gid=$(id -g postgres) pgbak-it '\(config.repository)'
                """)
            defer { _ = try? Shell.bash("umount -l '\(config.repository)'") }
            let earlier = try config.now()
            try #require(earlier.status == 0, "\(earlier)")
            let earlierID = try #require(try config.backupIDs().first)

            // Fill the filesystem once the base backup is under way.
            try setMaxRate(config, "2M")
            let run = try TestCluster.startPgbak(["now", "--config", config.file])
            try #require(waitForBaseBackup(config))
            try Shell.must(
                "fallocate -l $(( $(stat -f -c '%a * %S' '\(config.repository)') - 65536 )) '\(config.repository)/ballast'"
            )
            let result = try #require(run.wait(seconds: 120))
            #expect(result.status == 1, "\(result)")
            #expect(result.stderr.contains("No space left on device"), "\(result)")
            #expect(config.staging().isEmpty, "staging must be removed")
            #expect(try config.backupIDs() == [earlierID], "retention must not run and nothing new may appear")

            // With the filesystem still full, the next run refuses before creating anything.
            let refused = try config.now()
            #expect(refused.status == 1, "\(refused)")
            #expect(refused.stderr.contains("free, but the next backup needs about"), "\(refused)")
            #expect(config.staging().isEmpty)
            try Shell.must("rm -f '\(config.repository)/ballast'")
            #expect(try verify(config, earlierID).status == 0)
        }

        @Test func pruneWaitsForNowAndNeverRemovesABackupARestoreUses() throws {
            // `prune` while `now` runs: refused with the holder named, nothing removed.
            let config = try TestCluster.config("race", keepLast: 1)
            #expect(try config.now().status == 0)
            try setMaxRate(config, "1M")
            let run = try TestCluster.startPgbak(["now", "--config", config.file])
            try #require(waitForBaseBackup(config))
            let prune = try TestCluster.pgbak(["prune", "--config", config.file])
            #expect(prune.status == 3, "\(prune)")
            #expect(prune.stderr.contains("PID \(run.pid)"))
            run.stop()
            #expect(try config.backupIDs().count == 1)

            // `prune` while `restore --node` uses the older backup: it is kept until the restore ends.
            let lab = TestConfig(dir: TestCluster.lab + "/pgbak")
            #expect(try lab.now().status == 0)
            let older = try #require(try lab.backupIDs().last)
            #expect(try lab.now().status == 0)
            let pruneLab = try TestCluster.config("race-lab", keepLast: 1)
            try Shell.must("sed -i 's#^  path: .*#  path: \(lab.repository)#' '\(pruneLab.file)'")
            let replica = try #require(try TestCluster.members().first { $0.role != "leader" })
            let restore = try TestCluster.startPgbak([
                "restore", "--node", replica.name, "--backup", older, "--config", lab.file,
            ])
            defer { restore.stop() }
            let inUse = Date().addingTimeInterval(20)
            while Date() < inUse,
                (try? Shell.bash("ls '\(lab.repository)'/run/*/in-use-\(older)"))?.status != 0
            {
                usleep(50_000)
            }
            let during = try TestCluster.pgbak(["prune", "--config", pruneLab.file])
            #expect(during.status == 0, "\(during)")
            #expect(try lab.backupIDs().contains(older), "a backup in use was removed: \(during)")
            #expect(during.stdout.contains("keep   \(older)"), "\(during)")
            let restored = try #require(restore.wait(seconds: 120))
            #expect(restored.status == 0, "\(restored)")
            let afterwards = try TestCluster.pgbak(["prune", "--config", pruneLab.file])
            #expect(afterwards.status == 0)
            #expect(try !lab.backupIDs().contains(older), "once the restore ended, retention may remove it")
        }
    }
}
