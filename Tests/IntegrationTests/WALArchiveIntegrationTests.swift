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
        static let hashSQL = "select count(*) || ':' || coalesce(md5(string_agg(id::text, ',' order by id)), '') from \(table)"

        static func leaderHash() throws -> String { try TestCluster.psql(hashSQL) }

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
            try TestCluster.psql("drop table if exists \(Self.table); create table \(Self.table) (id int primary key)")
            let backup = try Self.main.now()
            #expect(backup.status == 0, "\(backup)")
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
                ["restore", "--config", Self.main.file, "--datadir", "\(TestCluster.lab)/it/never", "--standalone",
                 "--to-lsn", lsn1, "--dry-run"])
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
                ["restore", "--config", Self.main.file, "--datadir", "\(TestCluster.lab)/it/never", "--standalone",
                 "--to-time", "2000-01-01 00:00:00+00"])
            #expect(early.status != 0)
            #expect(early.stderr.contains("before the oldest usable backup"), "\(early)")
        }

        @Test func aReplicaMayNotArchiveAndTheLeadersArchiveVerifies() throws {
            let replica = try #require(try TestCluster.members().first { $0.role != "leader" })
            let dir = "\(TestCluster.lab)/data/\(replica.name)"
            // The replica's newest segment: not archived, and it is no leader.
            let newest = try Shell.must("ls '\(dir)/pg_wal' | grep -E '^[0-9A-F]{24}$' | sort | tail -1")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let push = try Shell.run(
                "/bin/bash", ["-c", "cd '\(dir)' && exec '\(TestCluster.binary)' wal-push --config '\(Self.main.file)' pg_wal/\(newest)"],
                asPostgres: true)
            #expect(push.status == 1, "\(push)")
            #expect(push.stderr.contains("this member (\(replica.name)) is not the leader"), "\(push)")
            try Self.archiveEverything()
            let verify = try TestCluster.pgbak(["verify", "--config", Self.main.file])
            #expect(verify.stdout.contains("wal archive  OK"), "\(verify)")
        }
    }
}
