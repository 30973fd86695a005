import Foundation

/// Whether this member may write a WAL file into the archive: pure, from Patroni's view of the cluster.
public enum PushPermission: Sendable, Equatable {
    /// This member leads.
    case leader
    /// Not the leader, but the file is a finished segment of an earlier timeline that the leader's timeline
    /// history proves is part of the leader's past: a demoted leader's `.ready` file that fills the failover gap.
    case fillsGap(leader: String)
    case refused(String)

    /// `member`: this member's name when known (this_host.member); else `port` and `isLocal` find it in the view.
    public static func decide(
        file: WALFileName, member: String?, port: Int?, isLocal: (String) -> Bool, cluster: PatroniCluster,
        scope: String, leaderHistory: TimelineHistory?, segmentSize: UInt64
    ) -> PushPermission {
        let leader: LeaderChoice
        do {
            leader = try LeaderSelection.choose(from: cluster, scope: scope)
        } catch {
            return .refused("\(error); PostgreSQL keeps the WAL and tries again")
        }
        let me =
            member
            ?? cluster.members.first { candidate in
                candidate.port == port && candidate.host.map(isLocal) == true
            }?.name
        guard let me else {
            return .refused(
                "cannot tell which Patroni member runs here (no member listens on port \(port.map(String.init) ?? "?") "
                    + "of this host): set this_host.member in the configuration")
        }
        if me == leader.name { return .leader }
        if case .segment(let segment) = file, let history = leaderHistory, let leaderTimeline = leader.timeline,
            history.timeline == UInt32(leaderTimeline),
            let span = history.path.first(where: { $0.timeline == segment.timeline }), let end = span.end,
            segment.number(size: segmentSize) < end.segment(size: segmentSize)
        {
            return .fillsGap(leader: leader.name)
        }
        return .refused(
            "this member (\(me)) is not the leader (\(leader.name) leads"
                + (leader.timeline.map { ", timeline \($0)" } ?? "") + "): refusing to archive \(file), so that a "
                + "demoted leader cannot write into the archive behind the new one's back")
    }
}
