import Foundation

extension Preflight {
    /// The `incremental` line for `leader`, reading its `summarize_wal` on 17 and later.
    func incrementalItem(_ leader: LeaderChoice, probe: LeaderProbe, major: Int) -> CheckItem {
        let summarizeWAL =
            major >= 17
            ? (try? probe.connect(leader, database: "postgres").query("show summarize_wal").first?.first) ?? nil
            : nil
        return Self.incrementalItem(serverMajor: major, summarizeWAL: summarizeWAL, leader: leader.name)
    }

    /// With `base_backup.incremental` on: whether the leader can give incremental base backups (PostgreSQL 17+ with
    /// `summarize_wal = on`). Without it every base backup is a full one, which is safe but not what was asked for.
    static func incrementalItem(serverMajor: Int, summarizeWAL: String?, leader: String) -> CheckItem {
        guard serverMajor >= 17 else {
            return CheckItem(
                "incremental", .warn,
                "base_backup.incremental is on, but PostgreSQL \(serverMajor) takes no incremental backups (17 and "
                    + "later do): every base backup is a full one")
        }
        guard summarizeWAL == "on" else {
            return CheckItem(
                "incremental", .warn,
                "summarize_wal is \(summarizeWAL ?? "unknown") on \(leader): the server refuses incremental backups "
                    + "and each base backup is a full one; set summarize_wal = on in Patroni's postgresql.parameters "
                    + "(a reload suffices)")
        }
        return CheckItem(
            "incremental", .ok, "summarize_wal is on on \(leader): base backups are incremental on the previous one")
    }
}
