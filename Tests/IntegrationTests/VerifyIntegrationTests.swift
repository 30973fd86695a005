import Foundation
import PgbakKit
import Testing

/// `pgbak verify` on a real backup and on copies of it, each damaged one way.
extension ClusterTests {
    @Suite struct VerifyIntegrationTests {
        init() throws {
            try TestData.prepare()
        }

        /// Copies backup `id` to a new id (manifest and its checksum adjusted), applies `damage` inside the copy's
        /// directory, and returns the new id. In a bucket, the backup is copied into a local directory, damaged there
        /// and uploaded under the new id (the manifest last).
        func damagedCopy(
            _ config: TestConfig, of id: String, suffix: Int, damage: String,
            rechecksum: [String] = []
        ) throws -> String {
            guard let bucket = config.bucket else {
                return try damagedCopy(
                    in: config.repository + "/backups", of: id, suffix: suffix, damage: damage, rechecksum: rechecksum)
            }
            let local = config.dir + "/damaged"
            if !FileManager.default.fileExists(atPath: "\(local)/\(id)") {
                for object in try bucket.list(prefix: "backups/\(id)/").objects {
                    let path = local + "/" + object.key.dropFirst("backups/".count)
                    try FileManager.default.createDirectory(
                        atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                    try #require(try bucket.get(object.key)).write(to: URL(fileURLWithPath: path))
                }
            }
            let newID = try damagedCopy(in: local, of: id, suffix: suffix, damage: damage, rechecksum: rechecksum)
            let files = try Shell.must("cd '\(local)/\(newID)' && find . -type f | sed 's#^./##' | sort")
                .split(separator: "\n").map(String.init)
            let last = [Manifest.checksumFileName, Manifest.fileName]
            for file in files.filter({ !last.contains($0) }) + last.filter(files.contains) {
                let data = try #require(FileManager.default.contents(atPath: "\(local)/\(newID)/\(file)"))
                _ = try bucket.put("backups/\(newID)/\(file)", data: data)
            }
            return newID
        }

        /// `damagedCopy` inside `root`, a directory holding backups.
        func damagedCopy(
            in root: String, of id: String, suffix: Int, damage: String, rechecksum: [String]
        ) throws -> String {
            // A damage starting with "after:" is applied once the manifest and its checksum are consistent again.
            let after = damage.hasPrefix("after:") ? String(damage.dropFirst(6)) : "true"
            let damage = damage.hasPrefix("after:") ? "true" : damage
            // Ids from another year: a copy can never take the id of the backup it was copied from.
            let newID = "19991231T2359" + String(format: "%02dZ", suffix)
            let from = "\(root)/\(id)"
            let to = "\(root)/\(newID)"
            try Shell.must("rm -rf '\(to)' && cp -a '\(from)' '\(to)' && rm -rf '\(to)/verification'")
            try Shell.must("cd '\(to)' && \(damage)")
            // Re-record sizes and CRC-32C of the named files, as an attacker or a buggy tool would, so that only the
            // deeper checks can see the damage; then fix the manifest's own checksum.
            let rerecorded = try rechecksum.map { "'\($0)=\(try CRC32C.hex(ofFile: to + "/" + $0))'" }
            try Shell.must(
                """
                cd '\(to)' && python3 - \(rerecorded.joined(separator: " ")) <<'PY'
                import hashlib, json, os, sys
                m = json.load(open('manifest.json'))
                m['backup_id'] = os.path.basename(os.getcwd())
                crcs = dict(a.split('=', 1) for a in sys.argv[1:])
                for f in m['files']:
                    if f['path'] in crcs:
                        f['bytes'] = os.path.getsize(f['path']); f['crc32c'] = crcs[f['path']]
                open('manifest.json', 'w').write(json.dumps(m, indent=2, sort_keys=True))
                open('manifest.sha256', 'w').write(hashlib.sha256(open('manifest.json', 'rb').read()).hexdigest() + '\\n')
                PY
                \(after) && chown -R postgres:postgres '\(to)'
                """)
            return newID
        }

        /// Corrupts one 8 KiB page of a user table inside base.tar and re-records every checksum that could see it
        /// (backup_manifest's CRC-32C and its own checksum, the manifest's size and CRC-32C), so that only a restore
        /// test can tell.
        static let corruptPageEverywhere = #"""
            zstd -qd --rm physical/base.tar.zst && python3 - "$RELFILE" <<'PY'
            import tarfile, io, json, hashlib, sys
            def crc32c(data, table=[]):
                if not table:
                    for i in range(256):
                        c = i
                        for _ in range(8): c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
                        table.append(c)
                crc = 0xFFFFFFFF
                for b in data: crc = (crc >> 8) ^ table[(crc ^ b) & 0xFF]
                return (~crc) & 0xFFFFFFFF
            target = sys.argv[1]
            src = tarfile.open('physical/base.tar'); dst = tarfile.open('physical/new.tar', 'w', format=tarfile.USTAR_FORMAT)
            changed = None
            for m in src.getmembers():
                data = src.extractfile(m).read() if m.isfile() else None
                if m.name == target:
                    data = bytearray(data); data[8192 + 300:8192 + 340] = b'\xde\xad\xbe\xef' * 10; data = bytes(data); changed = data
                dst.addfile(m, io.BytesIO(data) if data is not None else None)
            dst.close()
            assert changed is not None, 'relation file not found: ' + target
            text = open('physical/backup_manifest').read()
            man = json.loads(text)
            for f in man['Files']:
                if f.get('Path') == target:
                    f['Checksum'] = crc32c(changed).to_bytes(4, 'little').hex()
            head = text[:text.index('"Files": [')]
            lines = [json.dumps(f, separators=(', ', ': ')) for f in man['Files']]
            body = head + '"Files": [\n' + ',\n'.join(lines) + '\n],\n"WAL-Ranges": [\n' + ',\n'.join(
                json.dumps(w, separators=(', ', ': ')) for w in man['WAL-Ranges']) + '\n],\n'
            open('physical/backup_manifest', 'w').write(body + '"Manifest-Checksum": "' + hashlib.sha256(body.encode()).hexdigest() + '"}\n')
            PY
            mv physical/new.tar physical/base.tar && zstd -q --rm physical/base.tar
            """#

        func verify(_ config: TestConfig, _ id: String) throws -> CommandResult {
            try TestCluster.pgbak(["verify", id, "--config", config.file])
        }

        @Test(arguments: Driver.allCases) func aGoodBackupPassesAndEachKindOfDamageIsNamed(driver: Driver) throws {
            let config = try TestCluster.config("verify", driver: driver)
            let taken = try config.now()
            try #require(taken.status == 0, "\(taken)")
            let id = try #require(try config.backupIDs().first)
            let good = try verify(config, id)
            #expect(good.status == 0, "\(good)")
            #expect(good.stdout.contains("\(id)  default  OK"))

            let manifest = try config.manifest(id)
            let dumps = ((manifest["logical"] as? [String: Any])?["databases"] as? [[String: Any]] ?? [])
            let benchDump = try #require(dumps.first { $0["name"] as? String == "bench" }?["file"] as? String)

            let cases: [(name: String, damage: String, rechecksum: [String], expect: [String])] = [
                (
                    "flipped byte in the base archive",
                    "printf '\\x5a' | dd of=physical/base.tar.zst bs=1 seek=$(( $(stat -c %s physical/base.tar.zst) / 2 )) conv=notrunc status=none",
                    [], ["physical/base.tar.zst", "CRC-32C differs"]
                ),
                (
                    "truncated dump, sizes re-recorded",
                    "truncate -s $(( $(stat -c %s \(benchDump)) / 2 )) \(benchDump)", [benchDump],
                    [benchDump, "truncated"]
                ),
                ("truncated dump", "truncate -s 1000 \(benchDump)", [], [benchDump, "bytes on disk"]),
                (
                    "dump archive cut short inside, recompressed and re-recorded",
                    "zstd -qdc \(benchDump) | head -c -300 | zstd -q -o \(benchDump).new && mv \(benchDump).new \(benchDump)",
                    [benchDump], [benchDump, "truncated"]
                ),
                ("missing file", "rm logical/globals.sql.zst", [], ["logical/globals.sql.zst", "missing"]),
                ("extra file", "echo x > physical/notes.txt", [], ["physical/notes.txt", "not listed"]),
                (
                    "edited manifest", "after:sed -i 's/\"port\": 54/\"port\": 64/' manifest.json", [],
                    ["manifest.json", "edited or corrupt"]
                ),
                (
                    "a relation file inside the base archive differs from backup_manifest",
                    """
                    zstd -qd --rm physical/base.tar.zst && python3 - <<'PY'
                    import tarfile, io
                    src = tarfile.open('physical/base.tar'); dst = tarfile.open('physical/new.tar', 'w', format=tarfile.USTAR_FORMAT)
                    done = False
                    for m in src.getmembers():
                        data = src.extractfile(m).read() if m.isfile() else None
                        if not done and m.isfile() and m.name.startswith('base/') and m.size >= 8192:
                            data = bytearray(data); data[4000] ^= 0xFF; data = bytes(data); done = True
                        dst.addfile(m, io.BytesIO(data) if data is not None else None)
                    dst.close()
                    PY
                    mv physical/new.tar physical/base.tar && zstd -q --rm physical/base.tar
                    """, ["physical/base.tar.zst"], ["differs from backup_manifest"]
                ),
            ]
            for (index, c) in cases.enumerated() {
                let damaged = try damagedCopy(
                    config, of: id, suffix: 10 + index, damage: c.damage,
                    rechecksum: c.rechecksum)
                let result = try verify(config, damaged)
                #expect(result.status == 1, "\(c.name): \(result)")
                for text in c.expect {
                    #expect(result.stdout.contains(text), "\(c.name): expected '\(text)' in\n\(result)")
                }
                #expect(result.stdout.contains(damaged), "\(c.name): the report names the backup")
            }

            // The outcomes are recorded next to each backup and show in `list`; the good backup still passes.
            let list = try TestCluster.pgbak(["list", "--config", config.file, "--json"])
            let rows = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]] ?? []
            let verdicts = Dictionary(
                uniqueKeysWithValues: rows.map {
                    ($0["id"] as? String ?? "", ($0["last_verification"] as? [String: Any])?["ok"] as? Bool)
                })
            #expect(verdicts[id] == true)
            #expect(verdicts.filter { $0.key != id }.values.allSatisfy { $0 == false })
            #expect(verdicts.count == cases.count + 1)
            let again = try verify(config, id)
            #expect(again.status == 0, "\(again)")
            #expect(try config.storedFiles(id, in: "verification").count == 2)
        }

        @Test func restoreRefusesADamagedBackupBeforeTouchingAnythingUnlessForced() throws {
            let config = try TestCluster.config("gate")
            let taken = try config.now()
            try #require(taken.status == 0, "\(taken)")
            let id = try #require(try config.backupIDs().first)
            let dumps = ((try config.manifest(id)["logical"] as? [String: Any])?["databases"] as? [[String: Any]]) ?? []
            func dumpFile(_ name: String) throws -> String {
                try #require(dumps.first { $0["name"] as? String == name }?["file"] as? String)
            }

            // A truncated file (seen without reading it): refused before the target is touched; --force goes on.
            let truncated = try damagedCopy(
                config, of: id, suffix: 40, damage: "truncate -s 1000 \(try dumpFile("bench"))")
            let target = "\(config.dir)/standalone"
            try Shell.must(
                "install -d -o postgres -m 0700 '\(target)' && touch '\(target)/marker' && chown postgres '\(target)/marker'"
            )
            let arguments = [
                "restore", "--datadir", target, "--standalone", "--port", "5497", "--wipe", "--backup", truncated,
                "--config", config.file,
            ]
            let refused = try TestCluster.pgbak(arguments)
            #expect(refused.status == 1, "\(refused)")
            #expect(refused.stderr.contains("backup \(truncated) is damaged; nothing was touched"), "\(refused)")
            #expect(refused.stderr.contains("bytes on disk"))
            #expect(refused.stderr.contains("--force"))
            #expect(FileManager.default.fileExists(atPath: target + "/marker"), "the target was touched")
            let forced = try TestCluster.pgbak(arguments + ["--force"])
            #expect(forced.status == 0, "\(forced)")
            #expect(forced.stderr.contains("restoring a damaged backup"), "\(forced)")
            #expect(FileManager.default.fileExists(atPath: target + "/PG_VERSION"))

            // A flipped byte (same size): the dump's CRC-32C is checked before pg_restore touches the leader.
            let benchDump = try dumpFile("bench")
            let flipped = try damagedCopy(
                config, of: id, suffix: 41,
                damage:
                    "printf '\\x5a' | dd of=\(benchDump) bs=1 seek=$(( $(stat -c %s \(benchDump)) / 2 )) conv=notrunc status=none"
            )
            try TestCluster.psql("drop database if exists gate_bench")
            let read = try TestCluster.pgbak([
                "restore", "--database", "bench", "--as", "gate_bench", "--backup", flipped, "--config", config.file,
            ])
            #expect(read.status == 1, "\(read)")
            // zstd's frame checksum or the CRC-32C, whichever sees it first.
            #expect(read.stderr.contains("\(flipped)/\(benchDump)"), "\(read)")
            #expect(read.stderr.contains("corrupt") || read.stderr.contains("CRC-32C"), "\(read)")
            #expect(try TestCluster.psql("select count(*) from pg_database where datname = 'gate_bench'") == "0")

            // Once verify has recorded the damage, the whole backup is refused, even for an intact database...
            #expect(try verify(config, flipped).status == 1)
            try TestCluster.psql("drop database if exists gate_app2")
            let app2 = [
                "restore", "--database", "app2", "--as", "gate_app2", "--backup", flipped, "--config", config.file,
            ]
            let known = try TestCluster.pgbak(app2)
            #expect(known.status == 1, "\(known)")
            #expect(known.stderr.contains("its last verification"), "\(known)")
            #expect(try TestCluster.psql("select count(*) from pg_database where datname = 'gate_app2'") == "0")
            // ...unless forced: app2's own dump is intact and comes back with the same rows.
            let forcedApp2 = try TestCluster.pgbak(app2 + ["--force"])
            #expect(forcedApp2.status == 0, "\(forcedApp2)")
            let sql = "select count(*) || ':' || md5(string_agg(t::text, '|' order by t::text)) from items t"
            #expect(try TestCluster.psql(sql, database: "gate_app2") == (try TestCluster.psql(sql, database: "app2")))
            try TestCluster.psql("drop database gate_app2")
        }

        @Test func restoreTestPassesUnderWritesAndCatchesWhatOnlyARestoreCanSee() throws {
            let config = try TestCluster.config("restoretest")
            let leader = try TestCluster.leader()
            // pgbench writes into bench for the whole backup.
            let load = try Shell.start(
                "/usr/bin/pgbench",
                [
                    "-h", "127.0.0.1", "-p", String(leader.port ?? 5432), "-U", "postgres", "-c", "2", "-T", "8", "-n",
                    "bench",
                ], environment: ["PGPASSWORD": TestCluster.superuserPassword])
            usleep(500_000)
            let taken = try config.now()
            _ = load.wait(seconds: 20)
            try #require(taken.status == 0, "\(taken)")
            let id = try #require(try config.backupIDs().first)
            let good = try TestCluster.pgbak(["verify", id, "--restore-test", "--config", config.file])
            #expect(good.status == 0, "\(good)")
            for step in [
                "materialize", "pg_verifybackup", "start to consistency", "pg_amcheck", "restore dump of bench",
            ] {
                #expect(good.stdout.contains(step), "\(step) missing from \(good.stdout)")
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: config.repository + "/scratch").isEmpty)

            let relfile = try TestCluster.psql("select pg_relation_filepath('items')", database: "app2")
            let damaged = try damagedCopy(
                config, of: id, suffix: 30,
                damage: "RELFILE='\(relfile)'; " + Self.corruptPageEverywhere,
                rechecksum: ["physical/base.tar.zst", "physical/backup_manifest"])
            let standard = try verify(config, damaged)
            #expect(standard.status == 0, "only a restore test can see this damage: \(standard)")
            let deep = try TestCluster.pgbak(["verify", damaged, "--restore-test", "--config", config.file])
            #expect(deep.status == 1, "\(deep)")
            #expect(deep.stdout.contains("pg_amcheck"), "\(deep)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: config.repository + "/scratch").isEmpty)
            let leftover = try Shell.bash("pgrep -f 'postgres -D \(config.repository)/scratch'")
            #expect(leftover.stdout.isEmpty, "the scratch server outlived the restore test")
        }
    }
}
