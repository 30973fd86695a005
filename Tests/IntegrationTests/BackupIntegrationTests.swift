import Foundation
import Testing

/// `pgbak now`, `list` and `prune` against the real 3-node Patroni cluster.
extension ClusterTests {
    @Suite struct BackupIntegrationTests {
        init() throws {
            try TestData.prepare()
        }

        @Test func backupIsCompleteVerifiableAndRestoresTheSameData() throws {
            let config = try TestCluster.config("full", keepLast: 2)
            let leader = try TestCluster.leader()
            let result = try config.now()
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.contains("complete"))
            let ids = try config.backupIDs()
            try #require(ids.count == 1)
            let dir = "\(config.repository)/backups/\(ids[0])"
            let manifest = try config.manifest(ids[0])

            // The manifest names the member and the cluster the database itself reports.
            let leaderInfo = manifest["leader"] as? [String: Any]
            #expect(leaderInfo?["name"] as? String == leader.name)
            let cluster = manifest["cluster"] as? [String: Any]
            #expect(
                cluster?["system_identifier"] as? String
                    == (try TestCluster.psql("select system_identifier from pg_control_system()")))
            #expect(cluster?["timeline"] as? Int == leader.timeline)
            #expect(manifest["status"] as? String == "complete")

            // Every file is listed with the right size and CRC-32C, and nothing else is there.
            let files = manifest["files"] as? [[String: Any]] ?? []
            for file in files {
                let path = file["path"] as? String ?? ""
                #expect(try CRC32C.hex(ofFile: "\(dir)/\(path)") == file["crc32c"] as? String, "\(path)")
                #expect(file["sha256"] == nil, "\(path)")
                let size = try Shell.must("stat -c %s '\(dir)/\(path)'").trimmingCharacters(in: .whitespacesAndNewlines)
                #expect(Int(size) == file["bytes"] as? Int, "\(path)")
            }
            let onDisk = try Shell.must("cd '\(dir)' && find . -type f | sed 's#^./##' | sort").split(separator: "\n")
                .map(String.init)
            #expect(
                onDisk == (files.compactMap { $0["path"] as? String } + ["manifest.json", "manifest.sha256"]).sorted())
            #expect(!onDisk.contains { $0.hasSuffix(".tar") }, "no uncompressed tar may remain")
            #expect(
                try Shell.must("stat -c %a '\(dir)' '\(dir)/physical/base.tar.zst' '\(dir)/logical/globals.sql.zst'")
                    .split(separator: "\n") == ["700", "600", "600"])

            // Every zstd file decompresses; the physical backup passes pg_verifybackup.
            try Shell.must("cd '\(dir)' && for f in $(find . -name '*.zst'); do zstd -qt \"$f\" || exit 1; done")
            let scratch = "\(TestCluster.lab)/it/full/verify"
            try Shell.must(
                """
                rm -rf '\(scratch)' && mkdir -p '\(scratch)/pg_wal' && tar --zstd -xf '\(dir)/physical/base.tar.zst' -C '\(scratch)' && \
                zstd -qdc '\(dir)/physical/pg_wal.tar.zst' | tar -xf - -C '\(scratch)/pg_wal' && \
                /usr/lib/postgresql/15/bin/pg_verifybackup -q -m '\(dir)/physical/backup_manifest' '\(scratch)' && rm -rf '\(scratch)'
                """)

            // Every dump reads to the end and, restored, holds the same data as the source.
            let databases = (manifest["logical"] as? [String: Any])?["databases"] as? [[String: Any]] ?? []
            #expect(Set(databases.compactMap { $0["name"] as? String }).isSuperset(of: ["bench", "app2", "postgres"]))
            for db in databases {
                let name = db["name"] as? String ?? ""
                let file = "\(dir)/\(db["file"] as? String ?? "")"
                #expect(db["status"] as? String == "complete")
                try Shell.must("zstd -qdc '\(file)' > /tmp/pgbak-it.dump && pg_restore -f /dev/null /tmp/pgbak-it.dump")
                guard name != "postgres" else { continue }
                try TestCluster.psql("drop database if exists \"restored_\(name)\"")
                try TestCluster.psql("create database \"restored_\(name)\"")
                let port = leader.port ?? 5432
                try Shell.must(
                    """
                    pg_restore -h 127.0.0.1 -p \(port) -U postgres --no-owner -d 'restored_\(name)' /tmp/pgbak-it.dump
                    """, environment: ["PGPASSWORD": TestCluster.superuserPassword])
                for table in TestData.tables[name] ?? [] {
                    let sql =
                        "select count(*) || ':' || md5(coalesce(string_agg(t::text, '|' order by t::text), '')) "
                        + "from \(table) t"
                    let source = try TestCluster.psql(sql, database: name)
                    let restored = try TestCluster.psql(sql, database: "restored_\(name)")
                    #expect(source == restored, "\(name).\(table)")
                    #expect(!source.hasPrefix("0:"), "\(name).\(table) must hold rows for the comparison to mean much")
                }
                try TestCluster.psql("drop database \"restored_\(name)\"")
            }

            // The globals hold the extra role (with its password hash: the file is a secret).
            let globals = try Shell.must("zstd -qdc '\(dir)/logical/globals.sql.zst'")
            #expect(globals.contains("CREATE ROLE \(TestData.role);"))
            #expect(globals.contains("SCRAM-SHA-256$"))

            // `list` shows it.
            let list = try TestCluster.pgbak(["list", "--config", config.file, "--json"])
            #expect(list.status == 0, "\(list)")
            let rows = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]] ?? []
            #expect(rows.map { $0["id"] as? String } == [ids[0]])
            #expect(rows.first?["leader"] as? String == leader.name)
        }

        @Test func retentionKeepsTheNewestTwoOfThree() throws {
            let config = try TestCluster.config("retention", keepLast: 2)
            var taken: [String] = []
            for _ in 0..<3 {
                let result = try config.now()
                #expect(result.status == 0, "\(result)")
                taken += try config.backupIDs().filter { !taken.contains($0) }
            }
            #expect(taken.count == 3)
            #expect(try config.backupIDs() == Array(taken.suffix(2)))
            #expect(config.staging().isEmpty)

            let dry = try TestCluster.pgbak(["prune", "--config", config.file, "--dry-run"])
            #expect(dry.status == 0, "\(dry)")
            #expect(dry.stdout.contains("keep"))
            #expect(try config.backupIDs() == Array(taken.suffix(2)))
        }

        @Test func secondRunIsRefusedSecretsStayOffArgvAndSIGTERMCleansUp() throws {
            // A slow base backup (rate-limited) keeps the first run busy.
            let config = try TestCluster.config("concurrent", extra: "base_backup:\n  max_rate: 1M\n")
            // The dump password comes from an environment variable here (elsewhere from a password file).
            try config.useDumpPasswordEnv()
            #expect(try Shell.must("cat '\(config.file)'").contains("password_env: PGBAK_DUMP_PASSWORD"))
            let first = try TestCluster.startPgbak(["now", "--config", config.file])
            try #require(config.waitForBaseBackup(seconds: 20), "the first run never started its base backup")
            usleep(500_000)

            // No password on any command line while the backup runs.
            let cmdlines = try Shell.must("cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '")
            for secret in ["postgres-pass", "rep-pass", "patroni-pass"] {
                #expect(!cmdlines.contains(secret), "\(secret) appears in a command line")
            }
            #expect(cmdlines.contains("pg_basebackup"))

            let second = try config.now()
            #expect(second.status == 3, "\(second)")
            #expect(second.stderr.contains("PID \(first.pid)"), "\(second)")

            kill(first.pid, SIGTERM)
            let ended = try #require(first.wait(seconds: 30), "pgbak did not stop on SIGTERM")
            #expect(ended.status == 143, "\(ended)")
            #expect(config.staging().isEmpty)
            #expect(try config.backupIDs().isEmpty)
            usleep(300_000)
            let leftovers = try Shell.bash("pgrep -f 'pg_basebackup.*\(config.repository)'")
            #expect(leftovers.stdout.isEmpty, "pg_basebackup outlived pgbak: \(leftovers.stdout)")

            // SIGINT (Ctrl-C) the same, with its own exit code.
            let third = try TestCluster.startPgbak(["now", "--config", config.file])
            try #require(config.waitForBaseBackup(seconds: 20))
            usleep(500_000)
            kill(third.pid, SIGINT)
            let interrupted = try #require(third.wait(seconds: 30), "pgbak did not stop on SIGINT")
            #expect(interrupted.status == 130, "\(interrupted)")
            #expect(config.staging().isEmpty)
            // The run's private directory (its password file) is gone; the lock file stays.
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: config.repository + "/run")) ?? []).isEmpty)
            #expect(FileManager.default.fileExists(atPath: config.repository + "/pgbak.lock"))
        }

        @Test func aDumpBlockedByALockMakesAPartialBackup() throws {
            let config = try TestCluster.config("partial", extra: "dumps:\n  lock_wait_timeout_seconds: 1\n")
            // A migration-like session holds ACCESS EXCLUSIVE on a table of app2.
            let blocker = try TestCluster.holdLock(on: "items", in: "app2")
            defer { blocker.release() }
            let result = try config.now()
            #expect(result.status == 2, "\(result)")
            #expect(result.stdout.contains("PARTIAL"))
            #expect(result.stdout.contains("app2"))
            let ids = try config.backupIDs()
            try #require(ids.count == 1)
            let manifest = try config.manifest(ids[0])
            #expect(manifest["status"] as? String == "partial")
            #expect((manifest["physical"] as? [String: Any])?["status"] as? String == "complete")
            let dbs = (manifest["logical"] as? [String: Any])?["databases"] as? [[String: Any]] ?? []
            let app2 = dbs.first { $0["name"] as? String == "app2" }
            #expect(app2?["status"] as? String == "failed")
            #expect((app2?["error"] as? String)?.contains("LOCK TABLE public.items") == true)
            #expect(dbs.first { $0["name"] as? String == "bench" }?["status"] as? String == "complete")
        }

        @Test(arguments: Driver.allCases) func statusAndMetricsFollowBackupsAndVerifications(driver: Driver) throws {
            let config = try TestCluster.config("monitoring", driver: driver)
            let metrics = config.dir + "/metrics"
            try Shell.must(
                "install -d -o postgres -g postgres -m 0755 '\(metrics)' && "
                    + "printf 'metrics:\\n  textfile_dir: \(metrics)\\n' >> '\(config.file)'")
            let empty = try TestCluster.pgbak(["status", "--config", config.file])
            #expect(empty.status == 2, "\(empty)")
            #expect(empty.stdout.hasPrefix("CRITICAL"))
            let statusMetrics = metrics + "/pgbak-\(TestCluster.scope)-status.prom"
            let critical = try String(contentsOfFile: statusMetrics, encoding: .utf8)
            #expect(critical.contains("pgbak_last_run_success{scope=\"\(TestCluster.scope)\",command=\"status\"} 0"))
            let taken = try config.now()
            try #require(taken.status == 0, "\(taken)")
            let unverified = try TestCluster.pgbak(["status", "--config", config.file])
            #expect(unverified.status == 1, "\(unverified)")
            #expect(unverified.stdout.contains("no backup has passed a verification yet"))
            let now = try String(contentsOfFile: metrics + "/pgbak-\(TestCluster.scope)-now.prom", encoding: .utf8)
            #expect(now.contains("pgbak_last_run_success{scope=\"\(TestCluster.scope)\",command=\"now\"} 1"))
            #expect(now.contains("status=\"complete\"} 1"))
            let verified = try TestCluster.pgbak(["verify", "--config", config.file])
            #expect(verified.status == 0, "\(verified)")
            let ok = try TestCluster.pgbak(["status", "--json", "--config", config.file])
            #expect(ok.status == 0, "\(ok)")
            let json = try JSONSerialization.jsonObject(with: Data(ok.stdout.utf8)) as? [String: Any]
            #expect(json?["level"] as? String == "ok")
            #expect(json?["complete_backups"] as? Int == 1)
            let fine = try String(contentsOfFile: statusMetrics, encoding: .utf8)
            #expect(fine.contains("pgbak_last_run_success{scope=\"\(TestCluster.scope)\",command=\"status\"} 1"))
            #expect(fine.contains("status=\"complete\"} 1"))
            let verify = try String(
                contentsOfFile: metrics + "/pgbak-\(TestCluster.scope)-verify.prom", encoding: .utf8)
            #expect(verify.contains("pgbak_last_verify_ok{scope=\"\(TestCluster.scope)\",command=\"verify\"} 1"))
        }

        @Test func aDeadAndAHungPatroniURLAreSkippedWithinTheTimeout() throws {
            // 127.0.0.1:18997 refuses; 127.0.0.1:18998 accepts connections and never answers.
            try #require(!TestCluster.listening(port: 18998), "port 18998 is taken; a stale test server?")
            let hung = try Shell.start(
                "/usr/bin/python3",
                [
                    "-c",
                    """
                    import socket, time
                    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind(("127.0.0.1", 18998)); s.listen(16); time.sleep(120)
                    """,
                ])
            defer { hung.stop() }
            usleep(300_000)
            let config = try TestCluster.config("hungurl")
            try Shell.must(
                """
                sed -i 's#^  urls:#  urls:\\n    - http://127.0.0.1:18997\\n    - http://127.0.0.1:18998#' '\(config.file)'
                """)
            let t0 = Date()
            let result = try config.now()
            #expect(result.status == 0, "\(result)")
            // Two bad URLs at timeout_seconds 2 each, then the backup itself.
            #expect(Date().timeIntervalSince(t0) < 30)
            #expect(try config.backupIDs().count == 1)
        }

        @Test func aLeaderThatIsInRecoveryIsNeverBackedUpAsThePrimary() throws {
            // A stale Patroni view: it names a replica as the leader.
            // A member whose database itself says it is in recovery (not trusting any Patroni view here).
            let replica = try #require(
                try TestCluster.members().first {
                    $0.port != nil && (try? TestCluster.psql("select pg_is_in_recovery()", port: $0.port)) == "t"
                })
            let body =
                #"{"members": [{"name": "\#(replica.name)", "role": "leader", "state": "running", "host": "127.0.0.1", "port": \#(replica.port ?? 0), "timeline": \#(replica.timeline ?? 1)}], "scope": "\#(TestCluster.scope)"}"#
            try #require(!TestCluster.listening(port: 18996), "port 18996 is taken; a stale test server?")
            let fake = try Shell.start(
                "/usr/bin/python3",
                [
                    "-c",
                    """
                    import http.server, sys
                    body = sys.argv[1].encode()
                    class H(http.server.BaseHTTPRequestHandler):
                        def do_GET(self):
                            self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
                            self.wfile.write(body)
                        def log_message(self, *a): pass
                    http.server.HTTPServer(("127.0.0.1", 18996), H).serve_forever()
                    """, body,
                ])
            defer { fake.stop() }
            usleep(500_000)
            let config = try TestCluster.config("staleleader")
            try Shell.must("sed -i 's#https://127.0.0.1:80[0-9]*#http://127.0.0.1:18996#' '\(config.file)'")
            let result = try config.now()
            #expect(result.status == 1, "\(result)")
            #expect(result.stderr.contains("in recovery"), "\(result)")
            #expect(try config.backupIDs().isEmpty)
            #expect(config.staging().isEmpty)
        }

        @Test func aWrongPasswordNamesTheCredentialAndWhereItIsConfigured() throws {
            let config = try TestCluster.config("wrongpassword")
            try config.useDumpPasswordEnv("PGBAK_WRONG")
            let result = try TestCluster.pgbak(["now", "--config", config.file], environment: ["PGBAK_WRONG": "nope"])
            #expect(result.status == 1, "\(result)")
            #expect(result.stderr.contains("postgres.dump"), "\(result)")
            #expect(result.stderr.contains(config.file))
            #expect(result.stderr.contains("password authentication failed"))
            #expect(!result.stderr.contains("nope"))
            #expect(try config.backupIDs().isEmpty)

            // The replication login: pg_basebackup's failure is explained with the key to check.
            let repl = try TestCluster.config("wrongreplication")
            try Shell.must(
                "printf '127.0.0.1:*:*:replicator:wrong\\n' > '\(repl.dir)/bad.pgpass' && chown postgres: '\(repl.dir)/bad.pgpass' "
                    + "&& chmod 600 '\(repl.dir)/bad.pgpass' && sed -i '0,/passfile: .*/s##passfile: \(repl.dir)/bad.pgpass#' '\(repl.file)'"
            )
            let failed = try repl.now()
            #expect(failed.status == 1, "\(failed)")
            #expect(failed.stderr.contains("postgres.replication"), "\(failed)")
            #expect(failed.stderr.contains("password authentication failed"))
            #expect(try repl.backupIDs().isEmpty)
            #expect(repl.staging().isEmpty)

            // pg_hba.conf admits replication connections only for replicator: the rejection names the login.
            let hba = try TestCluster.config("hbarejected")
            try Shell.must("sed -i '/^  replication:/,/user:/ s#    user: .*#    user: postgres#' '\(hba.file)'")
            let rejected = try hba.now()
            #expect(rejected.status == 1, "\(rejected)")
            #expect(rejected.stderr.contains("no pg_hba.conf entry"), "\(rejected)")
            #expect(rejected.stderr.contains("postgres.replication"), "\(rejected)")
            #expect(try hba.backupIDs().isEmpty)
            #expect(hba.staging().isEmpty)
        }

        @Test func aHostWhoseMemberDoesNotLeadSkipsQuietly() throws {
            let replica = try #require(try TestCluster.members().first { $0.role != "leader" })
            let config = try TestCluster.config("guard", extra: "this_host:\n  member: \(replica.name)\n")
            let result = try config.now()
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.contains("is not the leader"))
            #expect(try config.backupIDs().isEmpty)

            try Shell.must("printf '  when_not_leader: fail\\n' >> '\(config.file)'")
            let strict = try config.now()
            #expect(strict.status == 1, "\(strict)")
            #expect(try config.backupIDs().isEmpty)
        }

        @Test func badConfigurationAndUsageExitWithTheirCodes() throws {
            let config = try TestCluster.config("badconfig", extra: "dumps:\n  lock_wait: 3\n")
            let result = try config.now()
            #expect(result.status == 78, "\(result)")
            #expect(result.stderr.contains(config.file))
            #expect(result.stderr.contains("dumps.lock_wait"))
            #expect(try config.backupIDs().isEmpty)

            let usage = try TestCluster.pgbak(["now", "--no-such-flag"])
            #expect(usage.status == 64, "\(usage)")

            let missing = try TestCluster.pgbak(["list", "--config", "/nonexistent/pgbak.yml"])
            #expect(missing.status == 78)
            #expect(missing.stderr.contains("/nonexistent/pgbak.yml"))
        }

        @Test func wrongUserOrOwnerIsAClearErrorAndNothingIsCreated() throws {
            let config = try TestCluster.config("owner")
            let asRoot = try TestCluster.pgbak(["now", "--config", config.file], asPostgres: false)
            #expect(asRoot.status == 1, "\(asRoot)")
            #expect(asRoot.stderr.contains("runs as 'root'"))
            #expect(asRoot.stderr.contains("sudo -u postgres"))

            try Shell.must("mkdir -p '\(config.repository)' && chown root:root '\(config.repository)'")
            let wrongOwner = try config.now()
            #expect(wrongOwner.status == 1, "\(wrongOwner)")
            #expect(wrongOwner.stderr.contains("owned by 'root'"))
            #expect(try config.backupIDs().isEmpty)
        }

        @Test func noReachablePatroniIsAClearErrorAndNothingIsCreated() throws {
            let config = try TestCluster.config("nopatroni")
            try Shell.must("sed -i 's#https://127.0.0.1:80[0-9]*#http://127.0.0.1:1#' '\(config.file)'")
            let result = try config.now()
            #expect(result.status == 1, "\(result)")
            #expect(result.stderr.contains("no Patroni REST URL answered"))
            #expect(result.stderr.contains("connection refused"))
            #expect(try config.backupIDs().isEmpty)
            #expect(config.staging().isEmpty)
        }

        @Test func afterASwitchoverTheNextRunBacksUpTheNewLeader() throws {
            let config = try TestCluster.config("switchover")
            let before = try TestCluster.leader()
            let first = try config.now()
            try #require(first.status == 0, "\(first)")
            try Shell.must("'\(TestCluster.scripts)/failover.sh' switchover >/dev/null 2>&1")
            let after = try TestCluster.leader()
            try #require(after.name != before.name)
            // The next run starts its base backup against the earlier backup's leader while it asks Patroni, finds
            // another leader, and drops that start: the backup comes from the new leader and nothing else is left.
            let result = try TestCluster.pgbak(["now", "--config", config.file, "--log-level", "debug"])
            #expect(result.status == 0, "\(result)")
            #expect(result.stderr.contains("base backup started before the leader is confirmed"), "\(result)")
            #expect(result.stderr.contains("from=\(before.name)"), "\(result)")
            let ids = try config.backupIDs()
            try #require(ids.count == 2)
            let manifest = try config.manifest(ids[1])
            #expect((manifest["leader"] as? [String: Any])?["name"] as? String == after.name)
            let timeline = (manifest["cluster"] as? [String: Any])?["timeline"] as? Int ?? 0
            #expect(timeline > (before.timeline ?? 0))
            #expect(timeline == after.timeline)
            #expect(config.staging().isEmpty)
        }
    }
}

/// The data the integration tests back up and compare.
enum TestData {
    static let role = "pgbak_test_role"
    static let tables = [
        "bench": ["pgbench_accounts", "pgbench_branches", "pgbench_tellers"],
        "app2": ["items", "events"],
    ]
    nonisolated(unsafe) static var prepared = false

    static func prepare() throws {
        guard !prepared else { return }
        do {
            try TestCluster.psql("drop database if exists bench with (force)")
            try TestCluster.psql("drop database if exists app2 with (force)")
            try TestCluster.psql("create database bench")
            try TestCluster.psql("create database app2")
            let port = try TestCluster.leader().port ?? 5432
            try Shell.must(
                "pgbench -h 127.0.0.1 -p \(port) -U postgres -i -s 2 -q bench >/dev/null 2>&1",
                environment: ["PGPASSWORD": TestCluster.superuserPassword])
            try TestCluster.psql(
                """
                create table items (id uuid primary key default gen_random_uuid(), name text not null,
                  price numeric(12,2), tags text[], attrs jsonb, created timestamptz default now());
                insert into items (name, price, tags, attrs)
                  select 'item ' || g, g * 1.25, array['t' || (g % 7)], jsonb_build_object('n', g, 'odd', g % 2 = 1)
                  from generate_series(1, 5000) g;
                create table events (id bigserial primary key, item uuid references items, happened timestamptz,
                  payload bytea);
                insert into events (item, happened, payload)
                  select id, now() - random() * interval '30 days', decode(md5(name), 'hex') from items;
                """, database: "app2")
            try TestCluster.psql("drop role if exists \(role); create role \(role) login password 'role-secret'")
        }
        prepared = true
    }
}
