/// Judges Patroni's view of the cluster: one running leader, replicas streaming with little lag. Pure.
public enum ClusterHealth {
    static let replicaRoles: Set<String> = ["replica", "sync_standby", "quorum_standby", "standby_leader"]

    public static func evaluate(_ cluster: PatroniCluster, scope: String, maxLagBytes: Int64) -> [CheckItem] {
        var items: [CheckItem] = []
        do {
            let leader = try LeaderSelection.choose(from: cluster, scope: scope)
            items.append(
                CheckItem(
                    "leader", .ok,
                    "\(leader.name) at \(leader.host):\(leader.port) leads"
                        + (leader.timeline.map { " on timeline \($0)" } ?? "")))
        } catch {
            items.append(CheckItem("leader", .fail, "\(error)"))
        }
        let replicas = cluster.members.filter { !LeaderSelection.leaderRoles.contains($0.role) }
        if replicas.isEmpty, !cluster.members.isEmpty {
            items.append(
                CheckItem(
                    "replicas", .warn, "none: the leader is the only copy of the data between backups"))
        }
        for member in replicas {
            items.append(judge(member, maxLagBytes: maxLagBytes))
        }
        return items
    }

    static func judge(_ member: PatroniMember, maxLagBytes: Int64) -> CheckItem {
        let name = "replica \(member.name)"
        let state = member.state ?? "unknown"
        guard replicaRoles.contains(member.role) else {
            return CheckItem(name, .warn, "role '\(member.role)', state '\(state)': not a replica Patroni manages")
        }
        guard state == "streaming" else {
            return CheckItem(
                name, .warn,
                "state '\(state)', not streaming from the leader"
                    + (state == "running" ? " (replaying from an archive, or Patroni older than 3.0.4)" : ""))
        }
        switch member.lag {
        case .bytes(let lag) where lag > maxLagBytes:
            return CheckItem(
                name, .warn,
                "streaming, but \(ByteFormat.text(lag)) behind (check.max_replica_lag_mb: "
                    + "\(ByteFormat.text(maxLagBytes)))")
        case .bytes(let lag):
            return CheckItem(name, .ok, "streaming, \(ByteFormat.text(lag)) behind")
        case .unknown, nil:
            return CheckItem(name, .warn, "streaming, lag unknown")
        }
    }
}
