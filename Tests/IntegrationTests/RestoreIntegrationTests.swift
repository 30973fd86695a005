import Foundation
import Testing

extension ClusterTests {
    /// `pgbak restore` on the real cluster: replicas re-seeded through Patroni and directly, refusals, a backup whose
    /// WAL is gone, one database, a standalone copy.
    @Suite struct RestoreIntegrationTests {
        /// The configuration Patroni's replica method uses (scripts/cluster/write-pgbak-config.sh).
        let lab = TestConfig(dir: TestCluster.lab + "/pgbak")

        init() throws {
            try TestData.prepare()
        }

        func replica() throws -> TestCluster.Member {
            try #require(try TestCluster.members().first { $0.role != "leader" && $0.state == "streaming" })
        }

        static let checksumSQL =
            "select count(*) || ':' || md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from %@ t"

        func content(_ table: String, database: String = "app2", port: Int? = nil) throws -> String {
            try TestCluster.psql(String(format: Self.checksumSQL, table), database: database, port: port)
        }

        /// Waits until `table` on `port` has the leader's content.
        func waitForSame(_ table: String, port: Int, seconds: Double = 60) throws -> Bool {
            let want = try content(table)
            return TestCluster.poll(seconds: seconds, every: 0.25) { (try? content(table, port: port)) == want }
        }

        func startTime(_ member: TestCluster.Member) throws -> String {
            let port = 8008 + ((member.port ?? 5432) - 5432)
            return try Shell.must(TestCluster.apiGet(port: port, "/patroni") + " | jq -r .postmaster_start_time")
        }

        @Test func reseedThroughPatroniBringsBackDataFromBeforeAndAfterTheBackup() throws {
            try TestCluster.psql(
                "drop table if exists rn_before, rn_after; "
                    + "create table rn_before as select g, md5(g::text) v from generate_series(1, 20000) g",
                database: "app2")
            let taken = try lab.now()
            try #require(taken.status == 0, "\(taken)")
            let id = try #require(try lab.backupIDs().last)
            try TestCluster.psql(
                "create table rn_after as select g, now() t from generate_series(1, 7000) g",
                database: "app2")
            let target = try replica()
            let before = try startTime(target)
            let result = try TestCluster.pgbak(["restore", "--node", target.name, "--config", lab.file])
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.contains("re-seeded \(target.name) from backup \(id) through Patroni"), "\(result)")
            // When restore --node returns, the member runs a newly started PostgreSQL that streams.
            #expect(try startTime(target) != before)
            let port = 8008 + ((target.port ?? 5432) - 5432)
            let own = try Shell.must(
                TestCluster.apiGet(port: port, "/patroni") + #" | jq -r '.state + " " + .replication_state'"#)
            #expect(own.trimmingCharacters(in: .whitespacesAndNewlines) == "running streaming", "\(own)")
            #expect(try waitForSame("rn_before", port: target.port ?? 0))
            #expect(try waitForSame("rn_after", port: target.port ?? 0), "WAL written after the backup must arrive")
            let record = try Shell.must(
                "cat '\(lab.repository)'/requests/*.result.json | jq -s 'map(select(.backup_id == \"\(id)\" and .ok)) | length'"
            )
            #expect(Int(record.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 >= 1)
            // The member's data directory is on this host and the backup has no tablespaces: restore --node wrote
            // the backup beside it while Patroni removed the old one, the replica method renamed it into place, and
            // nothing of the seed is left.
            let prepared = try Shell.must(
                "cat '\(lab.repository)'/requests/*.result.json | jq -s 'map(select(.backup_id == \"\(id)\" and .ok "
                    + "and .prepared_seed == true)) | length'")
            #expect(Int(prepared.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 >= 1, "\(prepared)")
            let leftovers = try Shell.must("ls -a '\(TestCluster.lab)/data' | grep -c pgbak-seed || true")
            #expect(leftovers.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        }

        @Test func directModeFillsAStoppedMembersDataDirectory() throws {
            try TestCluster.psql(
                "drop table if exists dm_before, dm_after; "
                    + "create table dm_before as select g, md5(g::text) v from generate_series(1, 15000) g",
                database: "app2")
            let taken = try lab.now()
            try #require(taken.status == 0, "\(taken)")
            try TestCluster.psql("create table dm_after as select g from generate_series(1, 3000) g", database: "app2")
            let target = try replica()
            let n = (target.port ?? 5432) - 5431
            try Shell.must("'\(TestCluster.scripts)/node.sh' stop \(n)")
            let dataDir = "\(TestCluster.lab)/data/node\(n)"
            let refused = try TestCluster.pgbak(["restore", "--datadir", dataDir, "--config", lab.file])
            #expect(refused.status == 1, "\(refused)")
            #expect(refused.stderr.contains("is not empty"))
            let result = try TestCluster.pgbak(["restore", "--datadir", dataDir, "--wipe", "--config", lab.file])
            #expect(result.status == 0, "\(result)")
            #expect(
                try Shell.must("stat -c %U%a '\(dataDir)'").trimmingCharacters(in: .whitespacesAndNewlines)
                    == "postgres700")
            #expect(FileManager.default.fileExists(atPath: dataDir + "/backup_label"))
            try Shell.must("'\(TestCluster.scripts)/node.sh' start \(n)")
            #expect(try waitForSame("dm_before", port: target.port ?? 0, seconds: 90))
            #expect(try waitForSame("dm_after", port: target.port ?? 0))
        }

        @Test func refusalsTouchNothing() throws {
            let taken = try lab.now()
            try #require(taken.status == 0, "\(taken)")
            let leader = try TestCluster.leader()
            let target = try replica()
            let before = try startTime(target)

            let atLeader = try TestCluster.pgbak(["restore", "--node", leader.name, "--config", lab.file])
            #expect(atLeader.status == 1)
            #expect(atLeader.stderr.contains("is the current leader"), "\(atLeader)")
            let unknown = try TestCluster.pgbak(["restore", "--node", "node9", "--config", lab.file])
            #expect(unknown.status == 1)
            #expect(unknown.stderr.contains("is not a member"), "\(unknown)")

            // A backup of another cluster: the same files under another system identifier.
            let id = try #require(try lab.backupIDs().last)
            let foreign = "19991231T235959Z"  // never the id of a backup taken now
            let dir = "\(lab.repository)/backups"
            try Shell.must(
                """
                rm -rf '\(dir)/\(foreign)' && cp -a '\(dir)/\(id)' '\(dir)/\(foreign)' && cd '\(dir)/\(foreign)' && \
                rm -rf verification && python3 - <<'PY'
                import json, hashlib
                m = json.load(open('manifest.json')); m['backup_id'] = '\(foreign)'
                m['cluster']['system_identifier'] = '1234567890123456789'
                open('manifest.json', 'w').write(json.dumps(m, indent=2, sort_keys=True))
                open('manifest.sha256', 'w').write(hashlib.sha256(open('manifest.json', 'rb').read()).hexdigest() + '\\n')
                PY
                chown -R postgres:postgres '\(dir)/\(foreign)'
                """)
            defer { _ = try? Shell.bash("rm -rf '\(dir)/\(foreign)'") }
            let other = try TestCluster.pgbak([
                "restore", "--node", target.name, "--backup", foreign, "--config", lab.file,
            ])
            #expect(other.status == 1)
            #expect(other.stderr.contains("another cluster"), "\(other)")
            #expect(try startTime(target) == before, "the replica must not have been restarted")
            #expect(try TestCluster.members().first { $0.name == target.name }?.state == "streaming")

            // The replica method, asked for that backup (as if the cluster had changed since restore --node chose
            // it), writes it while the leader is asked, then refuses and leaves the data directory empty.
            let requests = "\(lab.repository)/requests"
            let scratch = "\(lab.dir)/method-target"
            try Shell.must(
                """
                rm -rf '\(scratch)' && install -d -o postgres -g postgres -m 0700 '\(requests)' && \
                printf '{"backup_id": "\(foreign)", "member": "\(target.name)", "request_id": "refusal-test", \
                "requested_at": "%s"}' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > '\(requests)/\(target.name).request.json' && \
                chown postgres:postgres '\(requests)/\(target.name).request.json' && \
                chmod 0600 '\(requests)/\(target.name).request.json'
                """)
            defer { _ = try? Shell.bash("rm -rf '\(scratch)' '\(requests)/\(target.name).request.json'") }
            let method = try TestCluster.pgbak([
                "replica-method", "--config", lab.file, "--scope", TestCluster.scope, "--datadir", scratch,
                "--role", "replica", "--member", target.name,
            ])
            #expect(method.status != 0, "\(method)")
            #expect(method.stderr.contains("another cluster"), "\(method)")
            let left = (try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? []
            #expect(left.isEmpty, "the refused backup's files must be removed again: \(left)")
        }

        /// The leader recycles the WAL after a backup. With a segment missing from the WAL archive the backup is
        /// refused (and Patroni, reinitializing on its own, falls back to basebackup); with the archive whole, the
        /// member is re-seeded from it and catches up through restore_command (pgbak wal-fetch).
        @Test func aBackupWhoseWALTheLeaderRecycledNeedsTheArchive() throws {
            let taken = try lab.now()
            try #require(taken.status == 0, "\(taken)")
            let old = try #require(try lab.backupIDs().last)
            let patronictl = "/opt/pgbak-patroni/bin/patronictl -c '\(TestCluster.lab)/conf/node1.yml'"
            try Shell.must("\(patronictl) edit-config --force -p wal_keep_size=0 -p min_wal_size=32MB >/dev/null")
            defer {
                _ = try? Shell.bash(
                    "\(patronictl) edit-config --force -p wal_keep_size=256MB -p min_wal_size=80MB >/dev/null")
            }
            sleep(4)
            // Move the leader's WAL well past the backup: switch segments and checkpoint until the stop segment is gone.
            let stop = try Shell.must("jq -r .physical.stop_lsn '\(lab.repository)/backups/\(old)/manifest.json'")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let stopFile = try TestCluster.psql("select pg_walfile_name('\(stop)')")
            var gone = false
            for _ in 0..<12 where !gone {
                try TestCluster.psql(
                    "create table if not exists churn(x int); insert into churn select generate_series(1,1000); "
                        + "select pg_switch_wal(); checkpoint;")
                let oldest = try TestCluster.psql("select min(name) from pg_ls_waldir() where name ~ '^[0-9A-F]{24}$'")
                gone = oldest.suffix(16) > stopFile.suffix(16)
            }
            try #require(gone, "could not make the leader recycle the backup's WAL")
            try WALArchiveIntegrationTests.archiveEverything()
            // The archive loses the backup's stop segment: nothing can bridge the backup to the leader's WAL.
            let missing = try Shell.must("find '\(lab.repository)/wal' -name '\(stopFile)-*.zst'")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            try #require(!missing.isEmpty && !missing.contains("\n"), "\(stopFile) not archived once: \(missing)")
            try Shell.must("mv '\(missing)' '\(missing).aside'")
            var restored = false
            defer { if !restored { _ = try? Shell.must("mv '\(missing).aside' '\(missing)'") } }
            let target = try replica()
            let before = try startTime(target)
            let refused = try TestCluster.pgbak([
                "restore", "--node", target.name, "--backup", old, "--config", lab.file,
            ])
            #expect(refused.status == 1, "\(refused)")
            #expect(refused.stderr.contains("the WAL archive lacks \(stopFile)"), "\(refused)")
            #expect(try startTime(target) == before, "nothing may be touched before the refusal")

            // Patroni reinitializing on its own: the entry point finds no usable backup and fails fast, Patroni falls back.
            let t0 = Date()
            try Shell.must("\(patronictl) reinit \(TestCluster.scope) \(target.name) --force --wait >/dev/null 2>&1")
            #expect(Date().timeIntervalSince(t0) < 120)
            let failed = try Shell.must(
                """
                cd '\(lab.repository)/requests' && for f in unrequested-*.result.json; do jq -c 'select(.ok == false)' "$f"; done
                """)
            #expect(failed.contains("no longer holds the WAL"), "\(failed)")
            let n = (target.port ?? 5432) - 5431
            let log = try Shell.must(
                "grep 'replica has been created using' '\(TestCluster.lab)/run/patroni.node\(n).log' | tail -1")
            #expect(log.contains("basebackup"))

            // The archive whole again: the same old backup re-seeds the member, which replays the archive and streams.
            try Shell.must("mv '\(missing).aside' '\(missing)'")
            restored = true
            let reseeded = try TestCluster.pgbak([
                "restore", "--node", target.name, "--backup", old, "--config", lab.file,
            ])
            #expect(reseeded.status == 0, "\(reseeded)")
            #expect(reseeded.stdout.contains("re-seeded \(target.name) from backup \(old)"), "\(reseeded)")
            let fetched = try Shell.must(
                "grep -c 'restored log file \"\(stopFile)\" from archive' '\(TestCluster.lab)/run/patroni.node\(n).log' || true"
            )
            #expect((Int(fetched.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 0, "\(stopFile) not fetched")
            let rows = try TestCluster.psql("select count(*) from churn")
            #expect(
                TestCluster.poll(seconds: 30) {
                    (try? TestCluster.psql("select count(*) from churn", port: target.port)) == rows
                }, "the re-seeded member does not hold the leader's rows")
        }

        @Test func oneDatabaseComesBackWithItsContentOwnerAndSettings() throws {
            try TestCluster.psql("drop database if exists shop with (force)")
            try TestCluster.psql("drop database if exists shop_copy with (force)")
            try TestCluster.psql("drop role if exists shop_owner; create role shop_owner login password 'shop-secret'")
            try TestCluster.psql("create database shop owner shop_owner")
            try TestCluster.psql("alter database shop set work_mem = '12MB'")
            try TestCluster.psql(
                """
                create table orders (id bigserial primary key, customer text, total numeric(10,2), placed timestamptz);
                insert into orders (customer, total, placed)
                  select 'c' || (g % 97), g * 0.5, now() - g * interval '1 minute' from generate_series(1, 20000) g;
                create index on orders (customer);
                alter table orders owner to shop_owner;
                """, database: "shop")
            let original = try content("orders", database: "shop")
            let taken = try lab.now()
            try #require(taken.status == 0, "\(taken)")

            let exists = try TestCluster.pgbak(["restore", "--database", "shop", "--config", lab.file])
            #expect(exists.status == 1)
            #expect(exists.stderr.contains("exists"), "\(exists)")

            let copy = try TestCluster.pgbak([
                "restore", "--database", "shop", "--as", "shop_copy", "--config", lab.file,
            ])
            #expect(copy.status == 0, "\(copy)")
            #expect(try content("orders", database: "shop_copy") == original)

            try TestCluster.psql("drop database shop with (force)")
            try TestCluster.psql("drop database shop_copy with (force)")
            try TestCluster.psql("drop role shop_owner")
            let noRole = try TestCluster.pgbak(["restore", "--database", "shop", "--config", lab.file])
            #expect(noRole.status == 1)
            #expect(noRole.stderr.contains("--globals"), "\(noRole)")
            #expect(try TestCluster.psql("select count(*) from pg_database where datname like 'shop%'") == "0")

            let back = try TestCluster.pgbak(["restore", "--database", "shop", "--globals", "--config", lab.file])
            #expect(back.status == 0, "\(back)")
            #expect(back.stdout.contains("created roles shop_owner"))
            #expect(try content("orders", database: "shop") == original)
            #expect(
                try TestCluster.psql("select pg_get_userbyid(datdba) from pg_database where datname = 'shop'")
                    == "shop_owner")
            #expect(try TestCluster.psql("show work_mem", database: "shop") == "12MB")
            #expect(
                try TestCluster.psql("select count(*) from pg_indexes where tablename = 'orders'", database: "shop")
                    == "2")
        }

        @Test func aStandaloneCopyStartsOnItsOwnPortWithoutArchiving() throws {
            try TestCluster.psql(
                "drop table if exists sa_check; create table sa_check as select g from generate_series(1, 4242) g",
                database: "app2")
            let taken = try lab.now()
            try #require(taken.status == 0, "\(taken)")
            let dir = "\(TestCluster.lab)/it/standalone"
            try Shell.must("rm -rf '\(dir)' && install -d -o postgres -g postgres -m 0700 '\(dir)'")
            let result = try TestCluster.pgbak([
                "restore", "--datadir", dir + "/data", "--standalone", "--port", "5499",
                "--config", lab.file,
            ])
            #expect(result.status == 0, "\(result)")
            let stop = try TestCluster.startStandalone(in: dir)
            defer { stop() }
            #expect(try TestCluster.psql("select count(*) from sa_check", database: "app2", port: 5499) == "4242")
            #expect(try TestCluster.psql("show archive_mode", port: 5499) == "off")
            #expect(try TestCluster.psql("select pg_is_in_recovery()", port: 5499) == "f")
            #expect(try TestCluster.psql("select count(*) from pg_stat_wal_receiver", port: 5499) == "0")
        }
    }
}
