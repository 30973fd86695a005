import Foundation
import Testing

extension ClusterTests {
    /// Incremental base backups (PostgreSQL 17+, `base_backup.incremental`): the chain taken, proven by restoring
    /// its middle backup and comparing rows, re-seeding a replica from its newest, the restore test combining it, and
    /// retention keeping the backups a kept incremental one depends on. On older majors: full, with the reason.
    /// `scripts/matrix.sh` runs this suite on the 17 and 18 clusters.
    @Suite struct IncrementalIntegrationTests {
        static let serverMajor: Int = {
            guard TestCluster.enabled, let text = try? TestCluster.psql("show server_version_num") else { return 0 }
            return (Int(text) ?? 0) / 10000
        }()
        static let checksum = "select count(*) || ':' || md5(string_agg(t::text, '|' order by id)) from incr_t t"

        func config(keepLast: Int) throws -> TestConfig {
            try TestCluster.config(
                "incremental", keepLast: keepLast,
                extra: Self.serverMajor >= 17 ? "" : "\nbase_backup:\n  incremental: true\n")
        }

        func physical(_ config: TestConfig, _ id: String) throws -> [String: Any] {
            try #require(try config.manifest(id)["physical"] as? [String: Any])
        }

        @Test(.enabled(if: serverMajor > 0 && serverMajor < 17))
        func olderMajorsTakeAFullOneAndSayWhy() throws {
            let config = try config(keepLast: 3)
            for _ in 0..<2 {
                let taken = try config.now()
                try #require(taken.status == 0, "\(taken)")
            }
            let id = try #require(try config.backupIDs().last)
            #expect(try physical(config, id)["incremental"] == nil)
            let check = try TestCluster.pgbak(["check", "--config", config.file])
            #expect(check.stdout.contains("takes no incremental backups"), "\(check)")
            #expect(
                (try physical(config, id)["full_reason"] as? String)
                    == "PostgreSQL \(Self.serverMajor) takes no incremental backups (17 and later do)")
        }

        @Test(.enabled(if: serverMajor >= 17))
        func aChainRestoresReseedsAndIsKeptWhole() throws {
            let config = try config(keepLast: 2)
            let check = try TestCluster.pgbak(["check", "--config", config.file, "--json"])
            #expect(
                check.stdout.contains(#""name" : "incremental""#) && check.stdout.contains("summarize_wal is on"),
                "\(check)")
            try TestCluster.psql(
                "drop table if exists incr_t; create table incr_t(id int primary key, v text); "
                    + "insert into incr_t select g, repeat('x', 200) from generate_series(1, 20000) g")
            let first = try config.now()
            try #require(first.status == 0, "\(first)")
            #expect(first.stdout.contains("full base backup: no earlier base backup"), "\(first)")
            let full = try #require(try config.backupIDs().last)

            try TestCluster.psql(
                "update incr_t set v = 'changed' where id <= 100; insert into incr_t values (20001, 'new')")
            let atFirstIncrement = try TestCluster.psql(Self.checksum)
            let second = try config.now()
            try #require(second.status == 0, "\(second)")
            let incr1 = try #require(try config.backupIDs().last)
            #expect(second.stdout.contains("base backup incremental on \(full)"), "\(second)")
            let link1 = try #require(try physical(config, incr1)["incremental"] as? [String: Any])
            #expect(
                link1["parent"] as? String == full && link1["full"] as? String == full && link1["depth"] as? Int == 1)
            #expect(try config.manifest(incr1)["version"] as? Int == 4)
            // The increment holds the changed blocks, not the whole cluster.
            let sizes = try [full, incr1].map { id in
                try Shell.must("du -sb '\(config.repository)/backups/\(id)/physical' | cut -f1")
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            }.map { Int($0) ?? 0 }
            #expect(sizes[1] * 3 < sizes[0], "physical parts: full \(sizes[0]) bytes, incremental \(sizes[1])")

            try TestCluster.psql("delete from incr_t where id between 500 and 600")
            let third = try config.now()
            try #require(third.status == 0, "\(third)")
            let incr2 = try #require(try config.backupIDs().last)
            let link2 = try #require(try physical(config, incr2)["incremental"] as? [String: Any])
            #expect(
                link2["parent"] as? String == incr1 && link2["full"] as? String == full && link2["depth"] as? Int == 2)
            let atSecondIncrement = try TestCluster.psql(Self.checksum)
            try TestCluster.psql("insert into incr_t values (30000, 'after every backup')")

            // keep_last 2 keeps both increments, and with them the full backup they are built on.
            #expect(try config.backupIDs() == [full, incr1, incr2])
            let dryRun = try TestCluster.pgbak(["prune", "--dry-run", "--config", config.file])
            #expect(dryRun.stdout.contains("keep   \(full)  (incremental backup \(incr2) depends on it)"), "\(dryRun)")

            let verified = try TestCluster.pgbak(["verify", "--restore-test", incr2, "--config", config.file])
            try #require(verified.status == 0, "\(verified)")
            #expect(verified.stdout.contains("materialize and combine a chain of 3 backups"), "\(verified)")
            // 18's pg_verifybackup reads the stored tar archives themselves.
            #expect(verified.stdout.contains("pg_verifybackup (tar format)") == (Self.serverMajor >= 18), "\(verified)")

            // The middle of the chain, restored standalone: exactly the rows of its moment.
            let dir = "\(TestCluster.lab)/it/incremental-standalone"
            try Shell.must("rm -rf '\(dir)' && install -d -o postgres -g postgres -m 0700 '\(dir)'")
            let restored = try TestCluster.pgbak([
                "restore", "--datadir", dir + "/data", "--standalone", "--port", "5497", "--backup", incr1,
                "--config", config.file,
            ])
            try #require(restored.status == 0, "\(restored)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/.data.pgbak-chain"))
            let stop = try TestCluster.startStandalone(in: dir)
            defer { stop() }
            #expect(try TestCluster.psql(Self.checksum, port: 5497) == atFirstIncrement)
            #expect(atFirstIncrement != atSecondIncrement)

            // A replica re-seeded through Patroni from the newest increment (combined on the member).
            let member = try TestStore.reseedAReplica(config: config.file, from: incr2)
            #expect(TestCluster.waitFor(Self.checksum, try TestCluster.psql(Self.checksum), seconds: 30))
            #expect(try TestCluster.members().first { $0.name == member.name }?.state == "streaming")

            // A damaged backup of the chain stops a restore of the newest before it touches anything.
            try Shell.must("truncate -s -1 '\(config.repository)/backups/\(full)/logical/globals.sql.zst'")
            let target = "\(TestCluster.lab)/it/incremental-refused"
            try Shell.must("rm -rf '\(target)' && install -d -o postgres -g postgres -m 0700 '\(target)'")
            let refused = try TestCluster.pgbak([
                "restore", "--datadir", target + "/data", "--standalone", "--backup", incr2, "--config", config.file,
            ])
            #expect(refused.status != 0, "\(refused)")
            #expect(refused.stderr.contains("backup \(full), which it depends on:"), "\(refused)")
            #expect(try Shell.must("ls -A '\(target)'").isEmpty)
            // A database comes back from the dumps of the incremental backup alone: the chain is not read.
            let database = try TestCluster.pgbak([
                "restore", "--database", "postgres", "--as", "incr_copy", "--backup", incr2, "--config", config.file,
            ])
            #expect(database.status == 0, "\(database)")
            #expect(try TestCluster.psql(Self.checksum, database: "incr_copy") == atSecondIncrement)
            try TestCluster.psql("drop database if exists incr_copy with (force)")

            // A forced full one starts a new chain; once its first increment is kept, the old chain goes whole.
            let forced = try TestCluster.pgbak(["now", "--full", "--config", config.file])
            try #require(forced.status == 0, "\(forced)")
            #expect(forced.stdout.contains("full base backup: a full backup was asked for (--full)"), "\(forced)")
            let full2 = try #require(try config.backupIDs().last)
            #expect(try config.backupIDs() == [full, incr1, incr2, full2])
            let onNew = try config.now()
            try #require(onNew.status == 0, "\(onNew)")
            let incr3 = try #require(try config.backupIDs().last)
            #expect(onNew.stdout.contains("base backup incremental on \(full2)"), "\(onNew)")
            #expect(try config.backupIDs() == [full2, incr3])
            try TestCluster.psql("drop table incr_t")
        }
    }
}
