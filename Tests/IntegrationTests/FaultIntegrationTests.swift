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

        func verify(_ config: TestConfig, _ id: String) throws -> CommandResult {
            try TestCluster.pgbak(["verify", id, "--config", config.file])
        }

        @Test func sigkillMidBaseBackupLeavesNoChildAndTheNextRunClearsTheLeftovers() throws {
            let config = try TestCluster.config("sigkill", keepLast: 5)
            try Shell.must(
                "sed -i '/^  dump:/,/passfile/ s#    passfile: .*#    password_env: PGBAK_DUMP_PASSWORD#' '\(config.file)'"
            )
            let earlier = try config.now()
            try #require(earlier.status == 0, "\(earlier)")
            let earlierID = try #require(try config.backupIDs().first)
            try config.setMaxRate("1M")

            let run = try TestCluster.startPgbak(["now", "--config", config.file])
            try #require(config.waitForBaseBackup(), "the run never started its base backup")
            usleep(300_000)
            kill(run.pid, SIGKILL)
            _ = run.wait(seconds: 10)

            // No child lives on: no pg_basebackup, no walsender, no temporary slot.
            #expect(
                TestCluster.waitFor(
                    "select count(*) from pg_stat_replication where application_name = 'pgbak'", "0"),
                "a walsender for the killed run lives on")
            #expect(
                TestCluster.waitFor(
                    "select count(*) from pg_replication_slots where slot_name like 'pg_basebackup_%'", "0"))
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
            try config.setMaxRate(nil)
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

        @Test(arguments: Driver.allCases)
        func aSwitchoverDuringTheBaseBackupIsRetriedOnTheNewLeader(driver: Driver) throws {
            try expectRetriedOnTheNewLeader(after: "switchover", name: "switch-during", seconds: 180, driver: driver)
        }

        @Test func aLeaderCrashDuringTheBaseBackupIsRetriedOnTheNewLeader() throws {
            // Patroni and the postmaster killed together; the script waits for a new leader and brings the node back.
            try expectRetriedOnTheNewLeader(after: "crash", name: "crash-during", seconds: 240)
        }

        /// Runs failover.sh `drill` while a slow base backup runs: the run must end with one backup from the new leader.
        func expectRetriedOnTheNewLeader(
            after drill: String, name: String, seconds: Double, driver: Driver = .directory
        ) throws {
            let config = try TestCluster.config(name, driver: driver)
            try config.setMaxRate("6M")
            let before = try TestCluster.leader()
            let run = try TestCluster.startPgbak(["now", "--config", config.file])
            try #require(config.waitForBaseBackup(), "the run never started its base backup")
            try Shell.must("'\(TestCluster.scripts)/failover.sh' \(drill) >/dev/null 2>&1")
            let after = try TestCluster.leader()
            try #require(after.name != before.name)
            let result = try #require(run.wait(seconds: seconds), "pgbak did not finish")
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
            // bench's dump waits behind a lock, so the switchover lands in the middle of the dumps, once the base
            // backup (which runs beside them) is over.
            let blocker = try TestCluster.holdLock(on: "pgbench_branches", in: "bench")
            defer { blocker.release() }
            let run = try TestCluster.startPgbak(["now", "--config", config.file])
            try #require(
                TestCluster.waitFor(
                    """
                    select count(*) > 0 and not exists (select 1 from pg_stat_progress_basebackup)
                    from pg_stat_activity where datname = 'bench' and wait_event_type = 'Lock'
                    """,
                    "t", seconds: 60), "the dump of bench never queued behind the lock after the base backup")
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
            let blocker = try TestCluster.holdLock(on: "t", in: "dropme")
            defer { blocker.release() }
            let run = try TestCluster.startPgbak(["now", "--config", config.file])
            try #require(
                TestCluster.waitFor(
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
            // Room for one backup and the space estimate (the databases' size plus 256 MiB for WAL), whatever the
            // cluster holds, and not much more.
            let databaseMB =
                Int(try TestCluster.psql("select (sum(pg_database_size(datname)) / 1048576)::bigint from pg_database"))
                ?? 0
            try Shell.must(
                """
                mkdir -p '\(config.repository)' && \
                mount -t tmpfs -o size=\(databaseMB + 400)m,mode=0700,uid=$(id -u postgres),gid=$(id -g postgres) \
                  pgbak-it '\(config.repository)'
                """)
            defer { _ = try? Shell.bash("umount -l '\(config.repository)'") }
            let earlier = try config.now()
            try #require(earlier.status == 0, "\(earlier)")
            let earlierID = try #require(try config.backupIDs().first)

            // Fill the filesystem once the base backup is under way.
            try config.setMaxRate("2M")
            let run = try TestCluster.startPgbak(["now", "--config", config.file])
            try #require(config.waitForBaseBackup())
            // The dumps write beside the base backup: fill up whatever is left, then give back 64 KiB (room for the
            // next run's lock and password files).
            let ballast = config.repository + "/ballast"
            try Shell.must(
                "dd if=/dev/zero of='\(ballast)' bs=1M status=none 2>/dev/null; truncate -s -64K '\(ballast)'")
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
            try config.setMaxRate("1M")
            let run = try TestCluster.startPgbak(["now", "--config", config.file])
            try #require(config.waitForBaseBackup())
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
            _ = TestCluster.poll(seconds: 20, every: 0.05) {
                (try? Shell.bash("ls '\(lab.repository)'/run/*/in-use-\(older)"))?.status == 0
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
