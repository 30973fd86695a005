import Foundation
import Testing

@testable import PgbakKit

@Suite struct RestorePlanTests {
    static let segment: UInt64 = 16 << 20

    func backup(
        _ id: String, sysid: String = "7713706775396651014", stop: String, timeline: Int,
        physical: Manifest.PartStatus = .complete
    ) -> Manifest {
        var m = ManifestTests.sample()
        m.backupID = id
        m.cluster.systemIdentifier = sysid
        m.physical.status = physical
        m.physical.stopLSN = stop
        m.physical.stopTimeline = timeline
        return m
    }

    func horizon(
        timeline: Int = 3, history: [TimelineHistory.Branch] = [], oldest: UInt64? = 5, archived: Set<UInt64> = []
    ) -> WALHorizon {
        WALHorizon(
            systemIdentifier: "7713706775396651014", timeline: timeline, history: history,
            oldestSegment: oldest, segmentSize: Self.segment, archivedSegments: archived)
    }

    @Test func lsnsSegmentsAndHistories() throws {
        #expect(LSN("0/5000138")?.value == 0x5000138)
        #expect(LSN("1/0")?.value == 1 << 32)
        #expect(LSN("bogus") == nil)
        #expect(LSN("0/5000138")?.description == "0/5000138")
        #expect(WALSegment(name: "000000030000000000000005")?.number(size: Self.segment) == 5)
        #expect(WALSegment(name: "000000030000000100000002")?.number(size: Self.segment) == 256 + 2)
        #expect(WALSegment(name: "00000003.history") == nil)
        let history = try TimelineHistory(
            timeline: 3, text: "1\t0/5000160\tno recovery target specified\n\n2\t0/9000000\tx\n")
        #expect(
            history.ancestors == [
                .init(timeline: 1, switchPoint: LSN(0x5000160)), .init(timeline: 2, switchPoint: LSN(0x9000000)),
            ])
    }

    @Test func aBackupOnTheLeadersTimelineWithItsWALStillThereQualifies() {
        #expect(ReplicaPlanner.problem(with: backup("a", stop: "0/6000100", timeline: 3), horizon: horizon()) == nil)
    }

    @Test func anotherClustersBackupIsRefused() {
        let reason = ReplicaPlanner.problem(
            with: backup("a", sysid: "1", stop: "0/6000100", timeline: 3),
            horizon: horizon())
        #expect(reason?.contains("another cluster") == true)
    }

    @Test func recycledWALIsRefused() {
        let reason = ReplicaPlanner.problem(
            with: backup("a", stop: "0/4000100", timeline: 3), horizon: horizon(oldest: 5))
        #expect(reason?.contains("no longer holds the WAL") == true)
        // The archive serves what the leader recycled: every segment from the backup's stop to the leader's oldest.
        #expect(
            ReplicaPlanner.problem(
                with: backup("a", stop: "0/2000100", timeline: 3), horizon: horizon(oldest: 5, archived: [2, 3, 4]))
                == nil)
        let gap = ReplicaPlanner.problem(
            with: backup("a", stop: "0/2000100", timeline: 3), horizon: horizon(oldest: 5, archived: [2, 4]))
        #expect(gap?.contains("the WAL archive lacks 000000030000000000000003") == true)
        // Without knowing the oldest segment there is nothing to refuse on.
        #expect(
            ReplicaPlanner.problem(with: backup("a", stop: "0/4000100", timeline: 3), horizon: horizon(oldest: nil))
                == nil)
    }

    @Test func timelinesMustBeInTheLeadersHistoryAndEndAfterTheBackup() {
        let history: [TimelineHistory.Branch] = [
            .init(timeline: 1, switchPoint: LSN(0x5000160)), .init(timeline: 2, switchPoint: LSN(0x9000000)),
        ]
        let h = horizon(timeline: 3, history: history, oldest: 5)
        #expect(ReplicaPlanner.problem(with: backup("a", stop: "0/6000100", timeline: 2), horizon: h) == nil)
        let past = ReplicaPlanner.problem(with: backup("a", stop: "0/9100000", timeline: 2), horizon: h)
        #expect(past?.contains("past where the leader's history left") == true)
        let foreign = ReplicaPlanner.problem(with: backup("a", stop: "0/6000100", timeline: 4), horizon: h)
        #expect(foreign?.contains("not in the leader's timeline history") == true)
    }

    @Test func incompletePhysicalPartIsRefused() {
        let reason = ReplicaPlanner.problem(
            with: backup("a", stop: "0/6000100", timeline: 3, physical: .failed),
            horizon: horizon())
        #expect(reason?.contains("not complete") == true)
    }

    @Test func choosesTheNewestThatQualifiesAndSaysWhyOthersDoNot() {
        let backups = [
            backup("20260101T000000Z", stop: "0/6000100", timeline: 3),
            backup("20260102T000000Z", sysid: "9", stop: "0/7000100", timeline: 3),
            backup("20260103T000000Z", stop: "0/8000100", timeline: 7),
        ]
        let (chosen, rejected) = ReplicaPlanner.choose(backups, requested: nil, horizon: horizon())
        #expect(chosen?.backupID == "20260101T000000Z")
        #expect(rejected.map(\.id) == ["20260103T000000Z", "20260102T000000Z"])
        let requested = ReplicaPlanner.choose(backups, requested: "20260102T000000Z", horizon: horizon())
        #expect(requested.chosen == nil)
        #expect(requested.rejected.count == 1)
    }

    @Test func globalsPlanCreatesOnlyMissingRolesAndNeverAltersExistingOnes() {
        let script = #"""
            SET default_transaction_read_only = off;
            CREATE ROLE postgres;
            ALTER ROLE postgres WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS PASSWORD 'SCRAM-SHA-256$x';
            CREATE ROLE replicator;
            ALTER ROLE replicator WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN REPLICATION NOBYPASSRLS PASSWORD 'x';
            CREATE ROLE shop_owner;
            ALTER ROLE shop_owner WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS PASSWORD 'y';
            CREATE ROLE "Odd ""Name""";
            ALTER ROLE "Odd ""Name""" WITH NOLOGIN;
            GRANT pg_read_all_data TO shop_owner GRANTED BY postgres;
            GRANT pg_monitor TO replicator GRANTED BY postgres;
            """#
        let plan = GlobalsPlan.statements(script: script, existing: ["postgres", "replicator"])
        #expect(plan.roles == ["shop_owner", "Odd \"Name\""])
        #expect(plan.statements.contains("CREATE ROLE shop_owner;"))
        #expect(plan.statements.contains("GRANT pg_read_all_data TO shop_owner GRANTED BY postgres;"))
        #expect(!plan.statements.contains { $0.contains("replicator") || $0.contains("ROLE postgres") })
        #expect(plan.statements.contains(#"ALTER ROLE "Odd ""Name""" WITH NOLOGIN;"#))
    }

    @Test func databasePropertiesBecomeStatements() {
        let sql = DatabaseProperties.statements(
            database: "shop",
            settings: [
                DatabaseSetting(role: nil, setting: "work_mem=12MB"),
                DatabaseSetting(role: "app", setting: "search_path=\"$user\", public"),
            ],
            grants: [
                DatabaseGrant(grantee: "PUBLIC", privilege: "TEMPORARY", grantable: false),
                DatabaseGrant(grantee: "app", privilege: "CONNECT", grantable: true),
            ])
        #expect(
            sql == [
                "ALTER DATABASE \"shop\" SET work_mem = '12MB'",
                "ALTER ROLE \"app\" IN DATABASE \"shop\" SET search_path = \"$user\", public",
                "REVOKE ALL ON DATABASE \"shop\" FROM PUBLIC",
                "GRANT TEMPORARY ON DATABASE \"shop\" TO PUBLIC",
                "GRANT CONNECT ON DATABASE \"shop\" TO \"app\" WITH GRANT OPTION",
            ])
        #expect(DatabaseProperties.statements(database: "x", settings: [], grants: nil).isEmpty)
    }

    @Test func tarMemberNamesCannotEscape() throws {
        #expect(try TarExtractor.safeRelative("./base/1/1259") == "base/1/1259")
        #expect(throws: TarError.self) { try TarExtractor.safeRelative("../../etc/passwd") }
        #expect(throws: TarError.self) { try TarExtractor.safeRelative("/etc/passwd") }
    }
}
