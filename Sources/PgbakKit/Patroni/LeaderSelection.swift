/// The member pgbak backs up, as chosen from Patroni's view of the cluster.
public struct LeaderChoice: Sendable, Equatable {
    public var name: String
    public var host: String
    public var port: Int
    public var timeline: Int?
    public var apiURL: String?
}

/// Why no member can be backed up.
public enum LeaderSelectionError: Error, Equatable, Sendable, CustomStringConvertible {
    case noMembers(scope: String)
    case noLeader(scope: String, members: String)
    case multipleLeaders(scope: String, names: [String])
    case leaderNotRunning(name: String, state: String)
    case leaderWithoutAddress(name: String)
    case scopeMismatch(expected: String, found: String)

    public var description: String {
        switch self {
        case .noMembers(let scope):
            return "Patroni reports no members for scope '\(scope)': is the cluster up and the scope right?"
        case .noLeader(let scope, let members):
            return "cluster '\(scope)' has no leader (members: \(members)); nothing was backed up"
        case .multipleLeaders(let scope, let names):
            return "cluster '\(scope)' reports more than one leader (\(names.joined(separator: ", "))); "
                + "refusing to guess which one to back up"
        case .leaderNotRunning(let name, let state):
            return "leader \(name) is in state '\(state)', not 'running'; try again once it runs"
        case .leaderWithoutAddress(let name):
            return "Patroni does not say where leader \(name) listens (no host/port in /cluster)"
        case .scopeMismatch(let expected, let found):
            return "the Patroni URLs answer for scope '\(found)', but the configuration says scope '\(expected)'"
        }
    }
}

/// Pure leader choice over a `GET /cluster` answer.
public enum LeaderSelection {
    /// Roles that mean "accepts writes" in Patroni 3.x and 4.x (`master`/`primary` only appear in old or odd views).
    static let leaderRoles: Set<String> = ["leader", "master", "primary"]

    public static func choose(from cluster: PatroniCluster, scope: String) throws -> LeaderChoice {
        if let found = cluster.scope, found != scope {
            throw LeaderSelectionError.scopeMismatch(expected: scope, found: found)
        }
        guard !cluster.members.isEmpty else { throw LeaderSelectionError.noMembers(scope: scope) }
        let leaders = cluster.members.filter { leaderRoles.contains($0.role) }
        guard leaders.count <= 1 else {
            throw LeaderSelectionError.multipleLeaders(scope: scope, names: leaders.map(\.name))
        }
        guard let leader = leaders.first else {
            let summary = cluster.members.map { "\($0.name)=\($0.role)/\($0.state ?? "?")" }.joined(separator: ", ")
            throw LeaderSelectionError.noLeader(scope: scope, members: summary)
        }
        guard leader.state == "running" else {
            throw LeaderSelectionError.leaderNotRunning(name: leader.name, state: leader.state ?? "unknown")
        }
        guard let host = leader.host, let port = leader.port else {
            throw LeaderSelectionError.leaderWithoutAddress(name: leader.name)
        }
        return LeaderChoice(
            name: leader.name, host: host, port: port, timeline: leader.timeline,
            apiURL: leader.apiURL)
    }
}
