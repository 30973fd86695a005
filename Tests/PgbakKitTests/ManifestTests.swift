import Foundation
import Testing

@testable import PgbakKit

@Suite struct ManifestTests {
    static func sample(status: Manifest.PartStatus = .complete) -> Manifest {
        Manifest(
            format: Manifest.formatName, version: Manifest.currentVersion, backupID: "20261129T021500Z",
            pgbakVersion: pgbakVersion, status: status, startedAt: Date(timeIntervalSince1970: 1_795_000_000),
            finishedAt: Date(timeIntervalSince1970: 1_795_000_042),
            cluster: .init(
                scope: "prod", systemIdentifier: "7713706775396651014", timeline: 3,
                serverVersion: "15.18", serverVersionNum: 150018, databaseBytes: 1 << 30),
            leader: .init(name: "node1", host: "10.0.0.1", port: 5432, patroniVersion: "4.1.5"),
            physical: .init(
                status: .complete, label: "pgbak 20261129T021500Z", startLSN: "0/2000028",
                stopLSN: "0/2000100", startTimeline: 3, stopTimeline: 3, toolVersion: "PostgreSQL 15.18",
                files: ["physical/base.tar.zst"], seconds: 2.5),
            logical: .init(
                status: status == .complete ? .complete : .partial, toolVersion: "PostgreSQL 15.18",
                globalsFile: "logical/globals.sql.zst",
                databases: [
                    .init(
                        name: "app", oid: 16384, owner: "app", encoding: "UTF8", collate: "C",
                        ctype: "C", collationVersion: nil, sizeBytes: 100,
                        file: "logical/16384.dump.zst", status: .complete, error: nil,
                        tables: [TableCount(schema: "public", name: "t", rows: 3, note: nil)],
                        settings: [DatabaseSetting(role: nil, setting: "work_mem=64MB")],
                        grants: nil)
                ],
                seconds: 1),
            files: [
                FileRecord(
                    path: "physical/base.tar.zst", bytes: 10, checksum: .init(algorithm: .crc32c, hex: "e3069283"))
            ])
    }

    @Test func roundTrips() throws {
        let manifest = Self.sample()
        let data = try manifest.encoded()
        #expect(try Manifest.decode(data, source: "m") == manifest)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"system_identifier\" : \"7713706775396651014\""))
        #expect(text.contains("\"physical/base.tar.zst\""))
        #expect(text.contains("\"crc32c\" : \"e3069283\"") && !text.contains("sha256"))
    }

    /// A manifest as written by pgbak 0.1.0, version 1 (trimmed to one database, table and file): every multi-word key in
    /// the spelling repositories already hold.
    static let writtenBefore = #"""
        {"backup_id": "20261130T035046Z", "cluster": {"database_bytes": 73307548, "scope": "pgbak-test",
        "server_version": "15.18 (Debian 15.18-0+deb12u1)", "server_version_num": 150018,
        "system_identifier": "7713806105376654934", "timeline": 5}, "files": [{"bytes": 185940,
        "path": "logical/24715.dump.zst", "sha256": "9eb5f4d03ec3c32d082986fdff26b1d889f2868fdf32743b8e88e6a6fc6a4dd5"}],
        "finished_at": "2026-11-30T03:50:46Z", "format": "pgbak-manifest", "leader": {"host": "127.0.0.1",
        "name": "node1", "patroni_version": "4.1.5", "port": 5432}, "logical": {"databases": [{"collate": "C.UTF-8",
        "collation_version": "2.36", "ctype": "C.UTF-8", "encoding": "UTF8", "file": "logical/24715.dump.zst",
        "grants": [{"grantable": false, "grantee": "app", "privilege": "CONNECT"}], "name": "shop", "oid": 24715,
        "owner": "shop_owner", "settings": [{"setting": "work_mem=12MB"}], "size_bytes": 9559399,
        "status": "complete", "tables": [{"name": "orders", "rows": 20000, "schema": "public"}]}],
        "globals_file": "logical/globals.sql.zst", "seconds": 0.58, "status": "complete",
        "tool_version": "PostgreSQL 15.18"}, "pgbak_version": "0.1.0", "physical": {"files":
        ["physical/base.tar.zst"], "label": "pgbak 20261130T035046Z", "seconds": 0.35, "start_lsn": "0/48000028",
        "start_timeline": 5, "status": "complete", "stop_lsn": "0/48000100", "stop_timeline": 5,
        "tool_version": "PostgreSQL 15.18"}, "started_at": "2026-11-30T03:50:46Z", "status": "complete",
        "version": 1}
        """#

    @Test func readsWhatEarlierVersionsWrote() throws {
        let m = try Manifest.decode(Data(Self.writtenBefore.utf8), source: "m")
        #expect(m.backupID == "20261130T035046Z" && m.pgbakVersion == "0.1.0")
        #expect(m.cluster.systemIdentifier == "7713806105376654934" && m.cluster.serverVersionNum == 150018)
        #expect(m.cluster.databaseBytes == 73_307_548 && m.leader.patroniVersion == "4.1.5")
        #expect(m.physical.startLSN == "0/48000028" && m.physical.stopLSN == "0/48000100")
        #expect(m.physical.startTimeline == 5 && m.physical.stopTimeline == 5)
        #expect(m.physical.toolVersion == "PostgreSQL 15.18" && m.logical.globalsFile == "logical/globals.sql.zst")
        let db = try #require(m.logical.databases.first)
        #expect(db.collationVersion == "2.36" && db.sizeBytes == 9_559_399)
        #expect(db.tables == [TableCount(schema: "public", name: "orders", rows: 20000, note: nil)])
        #expect(db.settings == [DatabaseSetting(role: nil, setting: "work_mem=12MB")])
        #expect(db.grants == [DatabaseGrant(grantee: "app", privilege: "CONNECT", grantable: false)])
        // Version 1 recorded SHA-256; it is kept, and checked as such.
        let file = try #require(m.files.first)
        #expect(file.checksum.algorithm == .sha256 && file.bytes == 185_940)
        #expect(file.checksum.hex == "9eb5f4d03ec3c32d082986fdff26b1d889f2868fdf32743b8e88e6a6fc6a4dd5")
        // Written again, it reads back the same.
        #expect(try Manifest.decode(try m.encoded(), source: "m") == m)
    }

    @Test func listingDetailLeavesOutOnlyPerDatabaseDetail() throws {
        let full = Self.sample()
        let listed = try Manifest.decode(try full.encoded(), source: "m", detail: .listing)
        let db = try #require(listed.logical.databases.first)
        #expect(db.tables == nil && db.settings == nil && db.grants == nil)
        var expected = full
        expected.logical.databases[0].tables = nil
        expected.logical.databases[0].settings = nil
        expected.logical.databases[0].grants = nil
        #expect(listed == expected)
        #expect(BackupSummary(listed) == BackupSummary(full))
    }

    @Test func unknownVersionAndFormatAreRefused() throws {
        var other = Self.sample()
        other.version = 99
        #expect(throws: ManifestError.self) { try Manifest.decode(try other.encoded(), source: "m") }
        other.version = Manifest.currentVersion
        other.format = "something-else"
        #expect(throws: ManifestError.self) { try Manifest.decode(try other.encoded(), source: "m") }
        #expect(throws: ManifestError.self) { try Manifest.decode(Data("[1,2]".utf8), source: "m") }
    }

    @Test func totalsAndSummary() {
        let summary = BackupSummary(Self.sample())
        #expect(summary.physicalBytes == 10)
        #expect(summary.logicalBytes == 0)
        #expect(summary.databases == ["app"])
        #expect(Listing.table([summary]).contains("20261129T021500Z"))
    }

    @Test func walRangesFromPostgresBackupManifest() throws {
        let json = """
            {"PostgreSQL-Backup-Manifest-Version": 1, "Files": [],
             "WAL-Ranges": [{ "Timeline": 2, "Start-LSN": "0/5000000", "End-LSN": "0/5000138" },
                            { "Timeline": 1, "Start-LSN": "0/4000028", "End-LSN": "0/5000000" }]}
            """
        let range = try WALRange.parse(backupManifest: Data(json.utf8))
        #expect(range == WALRange(startLSN: "0/4000028", stopLSN: "0/5000138", startTimeline: 1, stopTimeline: 2))
    }

    /// A file named like the key comes first: the ranges cannot be cut out there, and the whole manifest is read.
    @Test func walRangesAfterAFileNamedLikeTheKey() throws {
        let json = """
            {"PostgreSQL-Backup-Manifest-Version": 1,
             "Files": [{ "Path": "WAL-Ranges", "Size": 3 }, { "Path": "a]b", "Size": 1 }],
             "WAL-Ranges": [{ "Timeline": 3, "Start-LSN": "0/6000028", "End-LSN": "0/6000100" }]}
            """
        let range = try WALRange.parse(backupManifest: Data(json.utf8))
        #expect(range == WALRange(startLSN: "0/6000028", stopLSN: "0/6000100", startTimeline: 3, stopTimeline: 3))
        #expect(throws: (any Error).self) { try WALRange.parse(backupManifest: Data(#"{"Files": []}"#.utf8)) }
    }
}
