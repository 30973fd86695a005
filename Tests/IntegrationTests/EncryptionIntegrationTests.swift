import Foundation
import PgbakKit
import Testing

extension ClusterTests {
    /// Encryption at rest (`repository.encryption.key_file`) on both drivers: what is stored is sealed, what is
    /// restored is the data, and a damaged file, a missing key or a wrong key is caught and named.
    @Suite(.enabled(if: TestStore.enabled)) struct EncryptionIntegrationTests {
        init() throws {
            try TestData.prepare()
        }

        /// A new random key in `dir/name`, readable by postgres only.
        static func newKey(_ dir: String, _ name: String = "repository.key") throws -> String {
            let path = dir + "/" + name
            try Shell.must(
                "head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' > '\(path)' && "
                    + "chown postgres:postgres '\(path)' && chmod 0600 '\(path)'")
            return path
        }

        /// Points `file`'s repository at the key in `key` (nil: removes the key).
        static func useKey(_ key: String?, in file: String) throws {
            try Shell.must("sed -i -e '/^  encryption:/d' -e '/^    key_file:/d' '\(file)'")
            if let key {
                try Shell.must("sed -i 's#^repository:#repository:\\n  encryption:\\n    key_file: \(key)#' '\(file)'")
            }
        }

        /// The first bytes of each stored file start with the seal's magic, none with zstd's.
        static func expectSealed(_ heads: [String: Data]) {
            for (name, head) in heads {
                #expect(head.starts(with: Data("PGBAKENC".utf8)), "\(name) must be stored sealed")
            }
        }

        /// Encrypts `file`'s repository with a new key (in `dir`, returned), fills `table` in app2 and takes a backup.
        static func encryptedBackup(config file: String, dir: String, table: String) throws -> String {
            let key = try newKey(dir)
            try useKey(key, in: file)
            try TestCluster.psql(
                "drop table if exists \(table); create table \(table) as select g, md5(g::text) v "
                    + "from generate_series(1, 20000) g",
                database: "app2")
            let taken = try TestCluster.pgbak(["now", "--config", file])
            try #require(taken.status == 0, "\(taken)")
            return key
        }

        func content(_ table: String, database: String = "app2", port: Int? = nil) throws -> String {
            try TestCluster.psql(
                String(format: RestoreIntegrationTests.checksumSQL, table), database: database, port: port)
        }

        @Test func anEncryptedDirectoryRepositoryRestoresAndCatchesDamageAndWrongKeys() throws {
            let posix = try TestCluster.config("enc-posix")
            let key = try Self.encryptedBackup(config: posix.file, dir: posix.dir, table: "enc_rows")
            let id = try #require(try posix.backupIDs().last)
            let dir = "\(posix.repository)/backups/\(id)"
            let manifest = try posix.manifest(id)
            let encryption = try #require(manifest["encryption"] as? [String: Any])
            #expect(encryption["scheme"] as? String == "aes-256-gcm")
            #expect(!"\(manifest)".contains(try String(contentsOfFile: key, encoding: .utf8)))
            let stored = try Shell.must("cd '\(dir)' && find physical logical -type f | sort")
                .split(separator: "\n").map(String.init)
            #expect(stored.contains("physical/base.tar.zst") && stored.contains("physical/backup_manifest"))
            let listed = (manifest["files"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
            #expect(Set(stored) == Set(listed), "exactly the manifest's files are stored")
            Self.expectSealed(
                Dictionary(
                    uniqueKeysWithValues: try stored.map {
                        (
                            $0,
                            try FileHandle(forReadingFrom: URL(fileURLWithPath: "\(dir)/\($0)")).read(upToCount: 8)
                                ?? Data()
                        )
                    }))

            let verified = try TestCluster.pgbak(["verify", "--restore-test", "--config", posix.file])
            #expect(verified.status == 0, "\(verified)")
            #expect(verified.stdout.contains("restore-test  OK"), "\(verified)")
            let checked = try TestCluster.pgbak(["check", "--config", posix.file])
            #expect(checked.stdout.contains("which opens the newest backup \(id)"), "\(checked)")
            #expect(checked.stdout.contains("repository.encryption.key_file"), "\(checked)")
            try TestCluster.expectDatabaseRestored(
                config: posix.file, as: "app2_enc", table: "enc_rows", want: try content("enc_rows"))

            // A wrong key: refused before the data directory is touched, --force or not.
            let other = try Self.newKey(posix.dir, "other.key")
            try Self.useKey(other, in: posix.file)
            let target = posix.dir + "/restored"
            try Shell.must("install -d -o postgres -g postgres -m 0700 '\(target)'")
            let wrong = try TestCluster.pgbak([
                "restore", "--datadir", target, "--standalone", "--force", "--config", posix.file,
            ])
            #expect(wrong.status != 0, "\(wrong)")
            #expect(wrong.stderr.contains("encrypted with another key"), "\(wrong)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: target).isEmpty)
            // No key: verify does not call the backup good.
            try Self.useKey(nil, in: posix.file)
            let keyless = try TestCluster.pgbak(["verify", "--config", posix.file])
            #expect(keyless.status != 0, "\(keyless)")
            #expect(keyless.stdout.contains("\(id)  default  FAILED"), "\(keyless)")
            #expect((keyless.stdout + keyless.stderr).contains("no key is configured"), "\(keyless)")

            // One byte of ciphertext flipped in the largest dump: verify names the file.
            try Self.useKey(key, in: posix.file)
            let dump = try Shell.must("cd '\(dir)/logical' && ls -S *.dump.zst | head -1")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let path = "\(dir)/logical/\(dump)"
            let byte = try Shell.must("dd if='\(path)' bs=1 skip=200 count=1 2>/dev/null | od -An -tu1")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            try Shell.must(
                "printf \"$(printf '\\\\%03o' $(( \(byte) ^ 1 )))\" | dd of='\(path)' bs=1 seek=200 conv=notrunc 2>/dev/null"
            )
            let damaged = try TestCluster.pgbak(["verify", "--config", posix.file])
            #expect(damaged.status != 0, "\(damaged)")
            #expect(damaged.stdout.contains("\(id)  default  FAILED"), "\(damaged)")
            let said = damaged.stdout + damaged.stderr
            #expect(said.contains("logical/\(dump)") && said.contains("fails authentication"), "\(damaged)")
        }

        @Test func anEncryptedBucketReseedsAMemberThroughPatroniAndSealsTheWAL() throws {
            let (s3, client) = try TestStore.config("enc-s3")
            _ = try Self.encryptedBackup(config: s3.file, dir: s3.dir, table: "enc_s3")
            let id = try #require(try S3TestConfig.backupIDs(client).last)
            let objects = try client.list(prefix: "backups/\(id)/").objects.map(\.key).filter {
                !$0.hasSuffix("/manifest.json") && !$0.hasSuffix("/manifest.sha256")
            }
            #expect(objects.contains("backups/\(id)/physical/base.tar.zst"))
            let manifest = try JSONSerialization.jsonObject(
                with: try client.get("backups/\(id)/manifest.json") ?? Data())
            let listed = ((manifest as? [String: Any])?["files"] as? [[String: Any]] ?? []).compactMap {
                $0["path"] as? String
            }
            #expect(
                Set(objects.filter { !$0.contains("/verification/") }) == Set(listed.map { "backups/\(id)/\($0)" }),
                "exactly the manifest's files are stored")
            Self.expectSealed(
                Dictionary(uniqueKeysWithValues: try objects.map { ($0, try client.get($0, range: 0..<8) ?? Data()) }))

            let verified = try TestCluster.pgbak(["verify", "--restore-test", "--config", s3.file])
            #expect(verified.status == 0, "\(verified)")
            #expect(verified.stdout.contains("restore-test  OK"), "\(verified)")

            // The member's replica method reads the bucket with the same key.
            let target = try TestStore.reseedAReplica(config: s3.file, from: id)
            let want = try content("enc_s3")
            #expect(
                TestCluster.poll(seconds: 60, every: 0.25) { (try? content("enc_s3", port: target.port)) == want },
                "enc_s3 on the re-seeded \(target.name)")

            // WAL: sealed in the bucket, fetched back byte for byte.
            let (segment, path) = try TestCluster.pushFinishedSegment(config: s3.file)
            let walKey = try #require(try client.list(prefix: "wal/").objects.first { $0.key.contains(segment) }?.key)
            Self.expectSealed([walKey: try client.get(walKey, range: 0..<8) ?? Data()])
            let fetchedPath = s3.dir + "/fetched"
            #expect(try TestCluster.pgbak(["wal-fetch", "--config", s3.file, segment, fetchedPath]).status == 0)
            #expect(try Shell.bash("cmp '\(path)' '\(fetchedPath)'").status == 0)
        }

        @Test func repoCopyEncryptsIntoTheBucketAndDecryptsOutOfIt() throws {
            let plain = try TestCluster.config("enc-copy-plain")
            let taken = try plain.now()
            try #require(taken.status == 0, "\(taken)")
            let id = try #require(try plain.backupIDs().last)

            let (s3, client) = try TestStore.config("enc-copy-s3")
            try Self.useKey(try Self.newKey(s3.dir), in: s3.file)
            let copied = try TestCluster.pgbak(["repo-copy", "--to", s3.file, "--backup", id, "--config", plain.file])
            #expect(copied.status == 0, "\(copied)")
            let base = "backups/\(id)/physical/base.tar.zst"
            Self.expectSealed([base: try client.get(base, range: 0..<8) ?? Data()])
            let manifest = String(decoding: try client.get("backups/\(id)/manifest.json") ?? Data(), as: UTF8.self)
            #expect(manifest.contains("\"key_check\""), "\(manifest)")
            #expect(try TestCluster.pgbak(["verify", "--config", s3.file]).stdout.contains("\(id)  default  OK"))

            // And out again into a directory without a key: plaintext, the manifest without encryption.
            let back = try TestCluster.config("enc-copy-back")
            let returned = try TestCluster.pgbak(["repo-copy", "--to", back.file, "--config", s3.file])
            #expect(returned.status == 0, "\(returned)")
            #expect(try back.manifest(id)["encryption"] == nil)
            #expect(
                try FileManager.default.contents(atPath: "\(back.repository)/backups/\(id)/physical/base.tar.zst")
                    == FileManager.default.contents(atPath: "\(plain.repository)/backups/\(id)/physical/base.tar.zst"))
            #expect(try TestCluster.pgbak(["verify", "--config", back.file]).stdout.contains("\(id)  default  OK"))
        }
    }
}
