import Foundation
import Testing

/// The WAL archive on the real cluster, which archives into the main configuration's repository
/// (archive_command = pgbak wal-push, restore_command = pgbak wal-fetch): point-in-time recovery to every kind of
/// target, compared by content; the failover gap filled from the new leader; a gap that cannot be filled reported.
extension ClusterTests {
    @Suite struct WALArchiveIntegrationTests {
        static let main = TestConfig(dir: TestCluster.lab + "/pgbak")
        static let table = "pgbak_pitr"

        /// Rows of the test table as one checksum, on the leader or on a restored server.
        static let hashSQL =
            "select count(*) || ':' || coalesce(md5(string_agg(id::text, ',' order by id)), '') from \(table)"

        static func leaderHash() throws -> String { try TestCluster.psql(hashSQL) }

        /// The test table created empty, then a backup into the archive's repository.
        static func emptyTableAndBackup() throws {
            try TestCluster.psql("drop table if exists \(table); create table \(table) (id int primary key)")
            let backup = try main.now()
            try #require(backup.status == 0, "\(backup)")
        }

        /// After `emptyTableAndBackup`: 100 rows, a moment (returned with the table's checksum then), more than a
        /// second later 100 more rows, all of it archived. A recovery to the moment must bring back the first 100.
        static func rowsAroundAMoment() throws -> (time: String, hash: String) {
            try TestCluster.psql("insert into \(table) select generate_series(1, 100)")
            let time = try TestCluster.psql("select clock_timestamp()")
            let hash = try leaderHash()
            usleep(1_100_000)
            try TestCluster.psql("insert into \(table) select generate_series(101, 200)")
            try archiveEverything()
            return (time, hash)
        }

        /// Switches to a new WAL segment and waits until the leader has archived everything finished.
        static func archiveEverything(seconds: Double = 60) throws {
            let switched = try TestCluster.psql("select pg_walfile_name(pg_switch_wal())")
            let done = TestCluster.poll(seconds: seconds) {
                (try? TestCluster.psql(
                    "select last_archived_wal >= '\(switched)' and (select count(*) from pg_ls_archive_statusdir() "
                        + "where name like '%.ready') = 0 from pg_stat_archiver")) == "t"
            }
            guard done else {
                throw ShellFailure(
                    script: "archive \(switched)", result: CommandResult(status: 1, stdout: "", stderr: "not archived"))
            }
        }

        /// `pgbak restore --datadir … --standalone <target> --start` into a directory of its own; returns the
        /// restored server's checksum of the test table and stops the server.
        static func restored(_ name: String, port: Int, _ target: [String]) throws -> (hash: String, stdout: String) {
            let dir = "\(TestCluster.lab)/it/pitr-\(name)"
            try Shell.must("rm -rf '\(dir)' && install -d -o postgres -g postgres -m 0700 '\(dir)'")
            let result = try TestCluster.pgbak(
                ["restore", "--config", main.file, "--datadir", dir, "--standalone", "--port", String(port), "--start"]
                    + target)
            guard result.status == 0 else { throw ShellFailure(script: "restore \(target)", result: result) }
            defer {
                _ = try? Shell.run(
                    "/usr/lib/postgresql/15/bin/pg_ctl", ["-D", dir, "stop", "-m", "immediate"], asPostgres: true)
                try? Shell.must("rm -rf '\(dir)'")
            }
            let query = try Shell.run(
                "/usr/bin/psql", ["-h", "/tmp", "-p", String(port), "-U", "postgres", "-qAtX", "-c", hashSQL],
                asPostgres: true)
            guard query.status == 0 else { throw ShellFailure(script: hashSQL, result: query) }
            return (query.stdout.trimmingCharacters(in: .whitespacesAndNewlines), result.stdout)
        }

        @Test func pointInTimeRecoveryToATimeAnLSNAnXidAndARestorePoint() throws {
            try Self.emptyTableAndBackup()
            try TestCluster.psql("insert into \(Self.table) select generate_series(1, 100)")
            let lsn1 = try TestCluster.psql("select pg_current_wal_lsn()")
            let time1 = try TestCluster.psql("select clock_timestamp()")
            let hash1 = try Self.leaderHash()
            usleep(1_100_000)
            let xid2 = try TestCluster.psql(
                "begin; insert into \(Self.table) select generate_series(101, 200); select txid_current(); commit;")
            let hash2 = try Self.leaderHash()
            try TestCluster.psql("select pg_create_restore_point('pgbak_it_point')")
            try TestCluster.psql("insert into \(Self.table) select generate_series(201, 300)")
            let hash3 = try Self.leaderHash()
            try Self.archiveEverything()
            #expect(hash1.hasPrefix("100:") && hash2.hasPrefix("200:") && hash3.hasPrefix("300:"))

            let dryRun = try TestCluster.pgbak(
                [
                    "restore", "--config", Self.main.file, "--datadir", "\(TestCluster.lab)/it/never", "--standalone",
                    "--to-lsn", lsn1, "--dry-run",
                ])
            #expect(dryRun.status == 0, "\(dryRun)")
            #expect(dryRun.stdout.contains("plan: backup "))
            #expect(!FileManager.default.fileExists(atPath: "\(TestCluster.lab)/it/never"))

            #expect(try Self.restored("time", port: 5591, ["--to-time", time1]).hash == hash1)
            #expect(try Self.restored("lsn", port: 5592, ["--to-lsn", lsn1]).hash == hash1)
            #expect(try Self.restored("xid", port: 5593, ["--to-xid", xid2]).hash == hash2)
            #expect(try Self.restored("name", port: 5594, ["--to-name", "pgbak_it_point"]).hash == hash2)
            let latest = try Self.restored("latest", port: 5595, ["--to-latest"])
            #expect(latest.hash == hash3)
            #expect(latest.stdout.contains("recovered"))

            // A moment before every kept backup cannot be recovered, and nothing is written.
            let early = try TestCluster.pgbak(
                [
                    "restore", "--config", Self.main.file, "--datadir", "\(TestCluster.lab)/it/never", "--standalone",
                    "--to-time", "2000-01-01 00:00:00+00",
                ])
            #expect(early.status != 0)
            #expect(early.stderr.contains("before the oldest usable backup"), "\(early)")
        }

        @Test func aReplicaMayNotArchiveAndTheLeadersArchiveVerifies() throws {
            let replica = try #require(try TestCluster.members().first { $0.role != "leader" })
            let dir = "\(TestCluster.lab)/data/\(replica.name)"
            // The segment the replica is receiving into: the leader has not finished it, so it is not archived (an
            // identical copy would be success), and the replica is no leader.
            let received = try TestCluster.psql("select pg_last_wal_receive_lsn()", port: replica.port)
                .split(separator: "/").compactMap { UInt32($0, radix: 16) }
            try #require(received.count == 2, "\(received)")
            let newest = String(
                format: "%08X%08X%08X", UInt32(replica.timeline ?? 1), received[0], received[1] >> 24)
            let push = try Shell.run(
                "/bin/bash",
                [
                    "-c",
                    "cd '\(dir)' && exec '\(TestCluster.binary)' wal-push --config '\(Self.main.file)' pg_wal/\(newest)",
                ],
                asPostgres: true)
            #expect(push.status == 1, "\(push)")
            #expect(push.stderr.contains("this member (\(replica.name)) is not the leader"), "\(push)")
            try Self.archiveEverything()
            let verify = try TestCluster.pgbak(["verify", "--config", Self.main.file])
            #expect(verify.stdout.contains("wal archive  OK"), "\(verify)")
        }

        /// A switchover while pgbench writes: the archive stays continuous across the switch, with the new timeline's
        /// history, one copy of every file, and a recovery to its end holds what the new leader holds.
        @Test func aSwitchoverUnderLoadKeepsTheArchiveWhole() throws {
            try Self.emptyTableAndBackup()
            let oldTimeline = try TestCluster.leader().timeline ?? 0
            let script = "\(TestCluster.lab)/it/load.sql"
            try Shell.must(
                "install -d '\(TestCluster.lab)/it' && printf '%s\\n' '\\set id random(1, 1000000000)' "
                    + "'insert into \(Self.table) values (:id) on conflict do nothing;' > '\(script)'")
            let load = try Shell.start(
                "/usr/lib/postgresql/15/bin/pgbench",
                [
                    "-h", "127.0.0.1", "-p", String(try TestCluster.leader().port ?? 5432), "-U", "postgres", "-n",
                    "-c", "2", "-T", "20", "-f", script, "postgres",
                ], environment: ["PGPASSWORD": TestCluster.superuserPassword])
            sleep(4)
            try Shell.must("'\(TestCluster.scripts)/failover.sh' switchover >/dev/null 2>&1")
            load.process.waitUntilExit()
            let newTimeline = try TestCluster.leader().timeline ?? 0
            #expect(newTimeline > oldTimeline)
            try TestCluster.psql("insert into \(Self.table) values (0) on conflict do nothing")
            try Self.archiveEverything()
            let hash = try Self.leaderHash()
            let rows = Int(hash.prefix { $0 != ":" }) ?? 0
            #expect(rows > 100, "the load wrote only \(rows) rows")

            let verify = try TestCluster.pgbak(["verify", "--config", Self.main.file])
            #expect(verify.stdout.contains("wal archive  OK"), "\(verify)")
            let history = String(format: "%08X.history", newTimeline)
            let archived = try Shell.must(
                "cd '\(Self.main.repository)/wal' && find . -name '*.zst' | sed 's#.*/##; s#-[0-9a-f]*\\.zst$##' | sort"
            )
            .split(separator: "\n").map(String.init)
            #expect(archived.contains(history), "\(history) not archived")
            #expect(Set(archived).count == archived.count, "a WAL file archived twice with different content")
            #expect(try Self.restored("switchover", port: 5597, ["--to-latest"]).hash == hash)
        }

        /// Archiving blocked (the archive read-only) while the leader writes, the leader killed: the new leader fills
        /// the old timeline's missing segments from its pg_wal, PITR to just before the kill returns what it had
        /// replayed; a segment that exists nowhere any more is reported as a gap by verify, check and status.
        @Test func theFailoverGapIsFilledAndAnUnfillableGapIsReported() throws {
            try Self.emptyTableAndBackup()
            try Self.archiveEverything()
            let wal = Self.main.repository + "/wal"
            try Shell.must("chmod -R a-w '\(wal)'")
            var blocked = true
            defer { if blocked { try? Shell.must("chmod -R u+w '\(wal)'") } }
            for batch in 0..<3 {
                try TestCluster.psql(
                    "insert into \(Self.table) select generate_series(\(batch * 1000 + 1), \(batch * 1000 + 1000))")
                try TestCluster.psql("select pg_switch_wal()")
            }
            try TestCluster.psql("insert into \(Self.table) select generate_series(5001, 5100)")
            let hashBeforeKill = try Self.leaderHash()
            let beforeKill = try TestCluster.psql("select clock_timestamp()")
            #expect(
                TestCluster.poll(seconds: 15) {
                    (try? TestCluster.psql("select failed_count > 0 from pg_stat_archiver")) == "t"
                })
            let check = try TestCluster.pgbak(["check", "--config", Self.main.file])
            #expect(check.status != 0)
            #expect(check.stdout.contains("archive_command fails"), "\(check)")
            #expect(check.stdout.contains("pg_wal holds"), "\(check)")
            let blockedStatus = try TestCluster.pgbak(["status", "--config", Self.main.file])
            #expect(blockedStatus.status == 2, "\(blockedStatus)")
            #expect(blockedStatus.stdout.contains("archive_command fails"), "\(blockedStatus)")
            // Both replicas have replayed everything: the WAL the archive lacks lives on in their pg_wal.
            #expect(
                TestCluster.poll(seconds: 30) {
                    (try? TestCluster.psql(
                        "select count(*) from pg_stat_replication where replay_lsn >= pg_current_wal_lsn()")) == "2"
                })
            let timelineBeforeKill = try #require(try TestCluster.leader().timeline)
            let killed =
                try Shell.must("'\(TestCluster.scripts)/failover.sh' kill 2>&1")
                .split(separator: "\n").last.map(String.init) ?? ""
            #expect(killed.hasPrefix("node"), "\(killed)")
            let restart =
                "'\(TestCluster.scripts)/node.sh' start \(killed.dropFirst(4)) >/dev/null 2>&1 && "
                + "'\(TestCluster.scripts)/failover.sh' healthy 180 >/dev/null 2>&1"
            var down = true
            defer { if down { _ = try? Shell.must(restart) } }
            // The new leader recycles the old timeline's segments it had streamed (a checkpoint, then they go, as
            // they would with a smaller wal_keep_size): the segments the archive lacks are left in the other
            // replica's pg_wal only.
            let newLeader = try TestCluster.leader()
            try TestCluster.psql("checkpoint")
            let recycled = try Shell.must(
                "find '\(TestCluster.lab)/data/\(newLeader.name)/pg_wal' -maxdepth 1 -regextype posix-extended "
                    + "-regex '.*/\(String(format: "%08X", UInt32(timelineBeforeKill)))[0-9A-F]{16}' -print -delete | wc -l"
            )
            #expect((Int(recycled.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) >= 3, "\(recycled)")
            try Shell.must("chmod -R u+w '\(wal)'")
            blocked = false
            // The new leader archives its history file, fills the gap from the other replica's pg_wal (pg_receivewal)
            // and goes on.
            var verify = CommandResult(status: 1, stdout: "", stderr: "")
            #expect(
                TestCluster.poll(seconds: 90, every: 1) {
                    _ = try? Self.archiveEverything(seconds: 5)
                    verify = (try? TestCluster.pgbak(["verify", "--config", Self.main.file])) ?? verify
                    return verify.stdout.contains("wal archive  OK")
                }, "\(verify)")
            // Recovery to a time stops at the first commit after it: the new leader commits one elsewhere.
            try TestCluster.psql(
                "create table if not exists pgbak_pitr_later (t timestamptz); insert into pgbak_pitr_later values (now())"
            )
            try Self.archiveEverything()
            let restored = try Self.restored("failover", port: 5596, ["--to-time", beforeKill])
            #expect(restored.hash == hashBeforeKill)
            #expect(restored.hash.hasPrefix("3100:"))

            // The old leader comes back (Patroni pushes its .ready files before rewinding it): whatever it pushes is
            // identical to what the archive holds, and nothing past the switch point gets in.
            try Shell.must(restart)
            down = false
            try Self.archiveEverything()
            // Patroni archived the old leader's finished files before rewinding it, with absolute paths in pg_wal
            // from its own working directory: wal-push found the data directory and checked them.
            let oldLeaderLog = "\(TestCluster.lab)/run/patroni.\(killed).log"
            let tried = try Shell.must("grep -c 'INFO: Trying to archive' '\(oldLeaderLog)' || true")
            let refused = try Shell.must("grep -c 'cannot read the system identifier' '\(oldLeaderLog)' || true")
            #expect(refused.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "\(tried) tried, \(refused)")
            let names = try Shell.must(
                "cd '\(wal)' && find . -name '*.zst' | sed 's#.*/##; s#-[0-9a-f]*\\.zst$##' | sort"
            ).split(separator: "\n")
            #expect(Set(names).count == names.count, "a WAL file archived twice with different content")
            let after = try TestCluster.pgbak(["verify", "--config", Self.main.file])
            #expect(after.stdout.contains("wal archive  OK"), "\(after)")

            // A segment of the old timeline that no member has any more: a gap, with its range.
            let oldTimeline = try Shell.must(
                "ls '\(wal)' | grep -E '^[0-9A-F]{8}$' | sort | tail -2 | head -1"
            ).trimmingCharacters(in: .whitespacesAndNewlines)
            let victim = try Shell.must(
                "find '\(wal)/\(oldTimeline)' -name '\(oldTimeline)*' ! -name '*.partial-*' ! -name '*.backup-*' | sort | tail -2 | head -1"
            ).trimmingCharacters(in: .whitespacesAndNewlines)
            let name = String((victim as NSString).lastPathComponent.prefix(24))
            try Shell.must("mv '\(victim)' '\(TestCluster.lab)/it/victim.zst'")
            defer { try? Shell.must("mv '\(TestCluster.lab)/it/victim.zst' '\(victim)'") }
            let gapVerify = try TestCluster.pgbak(["verify", "--config", Self.main.file])
            #expect(gapVerify.status == 1)
            #expect(gapVerify.stdout.contains("WAL archive gap \(name)"), "\(gapVerify)")
            let gapCheck = try TestCluster.pgbak(["check", "--config", Self.main.file])
            #expect(gapCheck.status != 0)
            #expect(gapCheck.stdout.contains("WAL archive gap \(name)"), "\(gapCheck)")
            let gapStatus = try TestCluster.pgbak(["status", "--config", Self.main.file])
            #expect(gapStatus.status == 2)
            #expect(gapStatus.stdout.contains("CRITICAL") && gapStatus.stdout.contains(name), "\(gapStatus)")
        }

        /// The whole cluster lost (every data directory and the DCS gone): Patroni bootstraps a new one with pgbak's
        /// bootstrap method from a backup recovered to a target time, the other members become replicas of it, and
        /// every member holds the data of that moment.
        @Test func aLostClusterComesBackFromABackupToATargetTime() throws {
            try Self.emptyTableAndBackup()
            let (target, hashAtTarget) = try Self.rowsAroundAMoment()
            let timelineBefore = try TestCluster.leader().timeline ?? 0

            let lab = TestCluster.lab
            try Shell.must(
                "'\(TestCluster.scripts)/stop.sh' >/dev/null 2>&1; rm -rf '\(lab)/data' '\(lab)/etcd-data' '\(lab)/ts'")
            let started = try Shell.bash(
                "'\(TestCluster.scripts)/start.sh' 2>&1", environment: ["PGBAK_BOOTSTRAP_TO_TIME": target])
            // Whatever happened, the next test gets a cluster that initdb can start when this one did not come up.
            if started.status != 0 {
                _ = try? Shell.bash(
                    "'\(TestCluster.scripts)/stop.sh' >/dev/null 2>&1; '\(TestCluster.scripts)/start.sh' --fresh >/dev/null 2>&1"
                )
            }
            try #require(started.status == 0, "\(started)")
            let log = try Shell.must(
                "grep -h 'pgbak bootstrap-method: filled' '\(lab)/run/'patroni.node*.log | tail -1")
            #expect(log.contains("recovers it to time"), "\(log)")
            let leader = try TestCluster.leader()
            #expect((leader.timeline ?? 0) > timelineBefore)
            #expect(try Self.leaderHash() == hashAtTarget)
            for member in try TestCluster.members() where member.role != "leader" {
                #expect(
                    TestCluster.poll(seconds: 30) {
                        (try? TestCluster.psql(Self.hashSQL, port: member.port)) == hashAtTarget
                    }, "\(member.name) does not hold the data of \(target)")
            }
            // The new cluster archives its own timeline into the same archive, beside the old one's.
            try TestCluster.psql("insert into \(Self.table) values (1000)")
            try Self.archiveEverything()
            let verify = try TestCluster.pgbak(["verify", "--config", Self.main.file])
            #expect(verify.stdout.contains("wal archive  OK"), "\(verify)")
        }
    }
}
