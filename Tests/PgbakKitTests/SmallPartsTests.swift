import Foundation
import Testing

@testable import PgbakKit

@Suite struct SmallPartsTests {
    @Test func backupIDsAreSortableAndUnique() {
        let date = Date(timeIntervalSince1970: 1_795_918_500)  // 2026-11-29T02:15:00Z
        #expect(BackupID.make(date) == "20261129T021500Z")
        let next = BackupID.next(after: date, taken: ["20261129T021500Z", "20261129T021501Z"])
        #expect(next.id == "20261129T021502Z")
        #expect(BackupID.isValid(next.id))
        #expect(!BackupID.isValid("../etc"))
        #expect(BackupID.date(of: "20261129T021500Z") == date)
    }

    @Test func spaceEstimate() {
        #expect(
            SpaceEstimate.requiredBytes(databaseBytes: 1000, lastBackupBytes: nil, lastDatabaseBytes: nil)
                == 1000 + SpaceEstimate.walHeadroom)
        // The databases doubled since the last backup: twice its size plus a quarter.
        #expect(
            SpaceEstimate.requiredBytes(databaseBytes: 2000, lastBackupBytes: 400, lastDatabaseBytes: 1000)
                == 1000 + SpaceEstimate.walHeadroom)
        // Shrinking databases never lower the estimate below the last backup's size.
        #expect(
            SpaceEstimate.requiredBytes(databaseBytes: 10, lastBackupBytes: 400, lastDatabaseBytes: 1000)
                == 500 + SpaceEstimate.walHeadroom)
    }

    @Test func databaseSelection() {
        func db(_ name: String) -> DatabaseInfo {
            DatabaseInfo(
                oid: 1, name: name, owner: "o", encoding: "UTF8", collate: "C", ctype: "C",
                collationVersion: nil, sizeBytes: 1)
        }
        let all = [db("a"), db("b"), db("c")]
        #expect(DatabaseInfo.select(all, include: [], exclude: ["b"]).map(\.name) == ["a", "c"])
        #expect(DatabaseInfo.select(all, include: ["a", "b"], exclude: ["b"]).map(\.name) == ["a"])
    }

    @Test func toolVersionParsing() {
        #expect(PostgresTools.majorVersion(of: "pg_basebackup (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)") == 15)
        #expect(PostgresTools.majorVersion(of: "pg_basebackup (PostgreSQL) 9.6.24") == 9)
        #expect(PostgresTools.majorVersion(of: "garbage") == nil)
    }

    @Test func connectionStringsQuoteValues() {
        let target = ConnectionTarget(host: "10.0.0.1", port: 5432, user: "o'neil", connectTimeout: 5)
        let info = target.conninfo(database: #"we\ird db"#)
        #expect(info.contains(#"user='o\'neil'"#))
        #expect(info.contains(#"dbname='we\\ird db'"#))
        #expect(!target.conninfo(replication: true).contains("dbname"))
    }

    /// pg_basebackup of `major` against a host `h`, zstd level 3 with 2 workers.
    func pgBaseBackup(major: Int) -> PgBaseBackup {
        PgBaseBackup(
            tools: PostgresTools(binDir: "/b", majorVersion: major, versionText: ""),
            target: ConnectionTarget(host: "h", port: 5432, user: "r", connectTimeout: 5), environment: [:],
            checkpoint: .fast, maxRate: nil, zstdLevel: 3, zstdThreads: 2, label: "l")
    }

    @Test func pgBaseBackup13And14CompressNothingThemselves() {
        let backup = pgBaseBackup(major: 13)
        #expect(backup.arguments(directory: "/d", progress: false).contains("--compress=client-zstd:level=3,workers=2"))
        #expect(
            !backup.arguments(directory: "/d", progress: false, clientZstd: false).contains {
                $0.hasPrefix("--compress")
            })
        #expect(backup.arguments(directory: "/d", progress: false, clientZstd: false).contains("--format=tar"))
    }

    @Test func incrementalBaseBackupsNameTheParentsManifestAndKnowTheServersRefusals() {
        var backup = pgBaseBackup(major: 17)
        #expect(!backup.arguments(directory: "/d", progress: false).contains { $0.hasPrefix("--incremental") })
        backup.incrementalManifest = "/run/parent.backup_manifest"
        #expect(
            backup.arguments(directory: "/d", progress: false).contains("--incremental=/run/parent.backup_manifest"))
        let off = """
            pg_basebackup: initiating base backup, waiting for checkpoint to complete
            pg_basebackup: error: could not initiate base backup: ERROR:  incremental backups cannot be taken unless \
            WAL summarization is enabled
            pg_basebackup: removing data directory "inc2"
            """
        #expect(
            PgBaseBackup.incrementalRefusal(off)
                == "incremental backups cannot be taken unless WAL summarization is enabled")
        let other =
            "pg_basebackup: error: could not upload manifest: ERROR:  system identifier in backup manifest is 1, "
            + "but database system identifier is 2"
        #expect(PgBaseBackup.incrementalRefusal(other)?.hasPrefix("system identifier in backup manifest") == true)
        #expect(PgBaseBackup.incrementalRefusal("pg_basebackup: error: connection to server failed") == nil)
    }

    @Test func manifestVersionIsTheLowestThatDescribesTheBackup() {
        #expect(Manifest.version(encrypted: false, incremental: false) == 2)
        #expect(Manifest.version(encrypted: true, incremental: false) == 3)
        #expect(Manifest.version(encrypted: false, incremental: true) == 4)
        #expect(Manifest.readableVersions.contains(4))
    }

    @Test func passfileLinesEscapeSeparators() {
        #expect(PasswordResolver.passfileLine(user: "u", password: #"a:b\c"#) == #"*:*:*:u:a\:b\\c"# + "\n")
    }

    @Test func zstdRoundTripAndTruncationIsDetected() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pgbak-zstd-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var input = [UInt8]()
        for i in 0..<3_000_000 { input.append(UInt8(truncatingIfNeeded: i &* 2_654_435_761 >> 13)) }
        let writer = try ZstdWriter(
            sink: try FileSink(path: dir + "/x.zst"), relativePath: "x.zst", level: 3, threads: 2)
        for start in stride(from: 0, to: input.count, by: 100_000) {
            try input[start..<min(start + 100_000, input.count)].withUnsafeBytes { try writer.write($0) }
        }
        let record = try writer.finish()
        let onDisk = try FileDigest.record(path: dir + "/x.zst", relativePath: "x.zst")
        #expect(record == onDisk)
        var output = [UInt8]()
        let size = try ZstdReader.decompress(path: dir + "/x.zst") { output.append(contentsOf: $0) }
        #expect(size == Int64(input.count))
        #expect(output == input)

        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/x.zst"))
        try data.prefix(data.count - 7).write(to: URL(fileURLWithPath: dir + "/short.zst"))
        #expect(throws: CompressionError.self) { try ZstdReader.decompress(path: dir + "/short.zst") }
        var flipped = data
        flipped[data.count / 2] ^= 0x40
        try flipped.write(to: URL(fileURLWithPath: dir + "/flip.zst"))
        #expect(throws: CompressionError.self) { try ZstdReader.decompress(path: dir + "/flip.zst") }
    }

    /// A frame that ends exactly as the decoder's output buffer (1 MiB) fills up is whole: the call made to drain
    /// the buffer answers for the next frame and once read as "the last frame ends early" (seen on an incremental
    /// base backup of exactly 6 MiB).
    @Test(arguments: [1, 2, 6])
    func zstdFileOfWholeMebibytesReadsToItsEnd(mebibytes: Int) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "pgbak-zstd-mib-\(getpid())-\(mebibytes)"
        ).path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/\(mebibytes).zst"
        let input = [UInt8](repeating: 0, count: mebibytes << 20)
        let writer = try ZstdWriter(sink: try FileSink(path: path), relativePath: "x.zst", level: 3, threads: 0)
        try input.withUnsafeBytes { try writer.write($0) }
        _ = try writer.finish()
        #expect(try ZstdReader.decompress(path: path) == Int64(mebibytes << 20))
    }

    @Test func exitCodesAreStable() {
        #expect(ExitStatus.of(ConfigError(file: "f", keyPath: "k", problem: "p")) == .config)
        #expect(ExitStatus.of(RepositoryLocked(lockFile: "l", holderPID: 1)) == .locked)
        #expect(ExitStatus.of(BackupError(problem: "x")) == .failure)
        #expect(
            RepositoryLocked(lockFile: "/r/pgbak.lock", holderPID: 4242).errorDescription?.contains("PID 4242")
                == true)
    }
}

@Suite struct GlobalArgumentsTests {
    let names: Set<String> = ["now", "list", "restore"]

    @Test func globalOptionsBeforeTheSubcommandMoveAfterIt() {
        #expect(
            GlobalArguments.reordered(["--config", "/etc/pgbak/a.yml", "now"], subcommands: names)
                == ["now", "--config", "/etc/pgbak/a.yml"])
        #expect(
            GlobalArguments.reordered(["-c", "a.yml", "--quiet", "restore", "--node", "node3"], subcommands: names)
                == ["restore", "--config", "a.yml", "--quiet", "--node", "node3"])
        #expect(
            GlobalArguments.reordered(["--log-level=debug", "list", "--json"], subcommands: names)
                == ["list", "--log-level=debug", "--json"])
    }

    @Test func anythingElseIsLeftForTheParser() {
        for arguments in [
            ["now", "--config", "a.yml"], ["--version"], ["--help", "now"], ["--config", "a.yml"],
            ["--bogus", "now"], ["--config"],
        ] {
            #expect(GlobalArguments.reordered(arguments, subcommands: names) == arguments, "\(arguments)")
        }
    }
}
