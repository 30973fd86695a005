import Foundation
import Testing

@testable import PgbakKit

@Suite struct CheckLogicTests {
    static func member(
        _ name: String, _ role: String, _ state: String = "streaming", lag: PatroniLag? = .bytes(0)
    ) -> PatroniMember {
        PatroniMember(
            name: name, role: role, state: state, host: "10.0.0.\(name.last!)", port: 5432, timeline: 4, lag: lag)
    }

    func health(_ members: [PatroniMember], maxLag: Int64 = 16 << 20) -> [String: CheckItem] {
        let items = ClusterHealth.evaluate(
            PatroniCluster(members: members, scope: "prod"), scope: "prod", maxLagBytes: maxLag)
        return Dictionary(uniqueKeysWithValues: items.map { ($0.name, $0) })
    }

    @Test func aHealthyClusterIsAllOK() {
        let items = health([
            Self.member("n1", "leader", "running"), Self.member("n2", "replica"),
            Self.member("n3", "sync_standby", lag: .bytes(1024)),
        ])
        #expect(items.count == 3)
        #expect(items.values.allSatisfy { $0.status == .ok })
        #expect(items["leader"]?.detail.contains("n1 at 10.0.0.1:5432") == true)
        #expect(items["replica n3"]?.detail.contains("1.0 KiB behind") == true)
    }

    @Test func noLeaderOrTwoLeadersFail() {
        #expect(health([Self.member("n1", "replica"), Self.member("n2", "replica")])["leader"]?.status == .fail)
        let two = health([Self.member("n1", "leader", "running"), Self.member("n2", "primary", "running")])
        #expect(two["leader"]?.status == .fail)
        #expect(two["leader"]?.detail.contains("more than one leader") == true)
        #expect(health([Self.member("n1", "leader", "stopped")])["leader"]?.status == .fail)
    }

    @Test func laggingStoppedOrMissingReplicasWarn() {
        let items = health(
            [
                Self.member("n1", "leader", "running"), Self.member("n2", "replica", lag: .bytes(20 << 20)),
                Self.member("n3", "replica", "stopped"), Self.member("n4", "replica", lag: .unknown),
            ], maxLag: 16 << 20)
        #expect(items["replica n2"]?.status == .warn)
        #expect(items["replica n2"]?.detail.contains("check.max_replica_lag_mb") == true)
        #expect(items["replica n3"]?.status == .warn)
        #expect(items["replica n3"]?.detail.contains("'stopped'") == true)
        #expect(items["replica n4"]?.status == .warn)
        #expect(health([Self.member("n1", "leader", "running")])["replicas"]?.status == .warn)
    }

    static let config = try! ConfigLoader.parse(
        yaml: """
            scope: prod
            patroni:
              urls: [https://10.0.0.1:8008]
              username: patroni
              password_file: /etc/pgbak/patroni.password
              cert_file: /etc/pgbak/client.crt
              key_file: /etc/pgbak/client.key
            postgres:
              replication: {user: replicator, passfile: /etc/pgbak/pgpass}
              dump: {user: postgres, passfile: /etc/pgbak/pgpass}
            repository:
              path: /var/backups/pgbak
            retention:
              keep_last: 7
            """, file: "/etc/pgbak/pgbak.yml", baseDirectory: "/etc/pgbak")

    @Test func everySecretFileIsAuditedOnceWithEveryKeyNamingIt() {
        let files = ConfigAudit.files(of: Self.config)
        #expect(
            files.map(\.path) == [
                "/etc/pgbak/pgbak.yml", "/etc/pgbak/pgpass", "/etc/pgbak/patroni.password", "/etc/pgbak/client.key",
            ])
        #expect(files[1].keys == ["postgres.replication.passfile", "postgres.dump.passfile"])
        #expect(files[0].kind == .configuration)
        #expect(files.dropFirst().allSatisfy { $0.kind == .secret })
    }

    @Test func permissionsAreJudgedByWhatTheFileHolds() {
        let files = ConfigAudit.files(of: Self.config)
        func judge(_ file: ConfigAudit.AuditedFile, _ mode: UInt32, uid: UInt32 = 0) -> CheckItem {
            ConfigAudit.judge(
                file, facts: .init(permissions: mode, ownerUID: uid, ownerName: "postgres"),
                configFile: "/etc/pgbak/pgbak.yml")
        }
        #expect(judge(files[1], 0o600).status == .ok)
        let readable = judge(files[1], 0o644)
        #expect(readable.status == .fail)
        #expect(readable.detail.contains("postgres.replication.passfile, postgres.dump.passfile"))
        #expect(readable.detail.contains("chmod 600 /etc/pgbak/pgpass"))
        #expect(judge(files[2], 0o640).status == .fail)
        #expect(judge(files[0], 0o644).status == .ok, "the configuration holds no secret; others may read it")
        #expect(judge(files[0], 0o664).status == .fail)
        #expect(judge(files[0], 0o600, uid: getuid() == 4242 ? 4243 : 4242).status == .warn)
        let missing = ConfigAudit.judge(files[3], facts: nil, configFile: "/etc/pgbak/pgbak.yml")
        #expect(missing.status == .fail)
        #expect(missing.detail.contains("patroni.key_file"))
    }

    @Test func placementFailsInsideADataDirectoryAndWarnsOnItsFilesystem() {
        let data = [
            Placement.DataDirectory(member: "n1", path: "/var/lib/postgresql/15/main", device: 7),
            Placement.DataDirectory(member: "n2", path: "/srv/other", device: nil),
        ]
        let items = Placement.judge(
            [
                .init(name: "repository", path: "/var/lib/postgresql/15/main/backups", device: 7),
                .init(name: "scratch", path: "/var/lib/pgbak/scratch", device: 7),
                .init(name: "elsewhere", path: "/backup", device: 9),
                .init(name: "unknown", path: "/nope", device: nil),
                .init(name: "sibling", path: "/var/lib/postgresql/15/main2", device: 9),
            ], dataDirectories: data)
        #expect(items.map(\.status) == [.fail, .warn, .ok, .warn, .ok])
        #expect(items[1].detail.contains("n1 (/var/lib/postgresql/15/main)"))
        #expect(items[2].detail.contains("not on the filesystem of n1"))
    }

    @Test func theReportCountsFailuresAndPrintsAlignedColumns() {
        let report = CheckReport(items: [
            CheckItem("leader", .ok, "n1 leads"), CheckItem("replica n2", .warn, "lagging"),
            CheckItem("tools", .fail, "too old"),
        ])
        #expect(report.failures.map(\.name) == ["tools"])
        #expect(report.warnings.map(\.name) == ["replica n2"])
        let lines = report.table(colour: false).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0].hasPrefix("CHECK       STAT  DETAIL"))
        #expect(lines[3] == "tools       FAIL  too old")
        #expect(lines.last == "3 checks, 1 FAILED, 1 warning(s)")
        #expect(!report.table(colour: false).contains("\u{1B}"))
        #expect(report.table(colour: true).contains("\u{1B}[31;1mFAIL"))
    }

    @Test func localAddressesIncludeLoopback() {
        let local = LocalAddresses.current()
        #expect(local.contains("127.0.0.1"))
        #expect(local.contains("localhost"))
        #expect(!local.contains("192.0.2.77"), "TEST-NET-1 is never assigned to a host")
    }

    @Test func incrementalLineSaysWhyBackupsWouldBeFull() {
        #expect(Preflight.incrementalItem(serverMajor: 17, summarizeWAL: "on", leader: "node1").status == .ok)
        let off = Preflight.incrementalItem(serverMajor: 18, summarizeWAL: "off", leader: "node1")
        #expect(off.status == .warn && off.detail.contains("summarize_wal is off on node1"))
        let old = Preflight.incrementalItem(serverMajor: 16, summarizeWAL: nil, leader: "node1")
        #expect(old.status == .warn && old.detail.contains("PostgreSQL 16 takes no incremental backups"))
    }
}
