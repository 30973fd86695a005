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
            files: [FileRecord(path: "physical/base.tar.zst", bytes: 10, sha256: String(repeating: "a", count: 64))])
    }

    @Test func roundTrips() throws {
        let manifest = Self.sample()
        let data = try manifest.encoded()
        #expect(try Manifest.decode(data, source: "m") == manifest)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"system_identifier\" : \"7713706775396651014\""))
        #expect(text.contains("\"physical/base.tar.zst\""))
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
}
