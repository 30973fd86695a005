import Foundation
import Logging

/// Fills an empty data directory with a backup a replica can catch up from: the shared work of the Patroni
/// replica-method entry point and of `restore --datadir`.
public struct ReplicaSeeder: Sendable {
    public let context: RunContext

    public init(context: RunContext) {
        self.context = context
    }

    /// The leader's horizon and the chosen backup; fails (naming each backup's reason) when none qualifies. Chooses
    /// among `stored` when the caller has read the repository already.
    public func choose(requested: String?, among stored: [StoredBackup]? = nil) async throws -> (
        StoredBackup, WALHorizon, ConfirmedLeader
    ) {
        let probe = LeaderProbe(config: context.config, logger: context.logger)
        let leader = try await probe.discover()
        var horizon = try probe.onLeader(leader) { try WALHorizonReader.read($0, identity: leader.identity) }
        // Choosing and materializing need no per-database detail.
        let backups = try stored ?? context.repository.backups(detail: .listing).backups
        if let requested, !backups.contains(where: { $0.id == requested }) {
            throw RestoreError(problem: "backup \(requested) is not in \(context.repository.location); see pgbak list")
        }
        var (chosen, rejected) = ReplicaPlanner.choose(
            backups.map(\.manifest), requested: requested, horizon: horizon)
        if chosen == nil, horizon.oldestSegment != nil {
            // The leader may have recycled the WAL the backups need: the archive can serve it (read only then, as it
            // is on Patroni's critical path; a backup whose WAL the leader still has needs no archive).
            horizon.archivedSegments = archivedSegments(on: horizon)
            if !horizon.archivedSegments.isEmpty {
                (chosen, rejected) = ReplicaPlanner.choose(
                    backups.map(\.manifest), requested: requested, horizon: horizon)
            }
        }
        guard let chosen, let backup = backups.first(where: { $0.id == chosen.backupID }) else {
            let reasons = rejected.map { "  - \($0.id): \($0.reason)" }.joined(separator: "\n")
            throw RestoreError(
                problem: "no backup can seed a replica of leader \(leader.choice.name) (timeline "
                    + "\(horizon.timeline))"
                    + (reasons.isEmpty ? ": the repository holds no backup" : ":\n" + reasons)
                    + "\nTake a new backup (pgbak now) or let Patroni's next method (basebackup) copy from the leader")
        }
        return (backup, horizon, leader)
    }

    /// The archive's segments on the leader's timeline path, when the leader has recycled WAL a backup needs (a
    /// replica then catches up through restore_command); none for another cluster's archive.
    func archivedSegments(on horizon: WALHorizon) -> Set<UInt64> {
        let archive = context.walArchive
        guard horizon.oldestSegment != nil, let info = try? archive.info(),
            info.systemIdentifier == horizon.systemIdentifier, info.segmentSize == horizon.segmentSize,
            let contents = try? archive.contents()
        else { return [] }
        let history = horizon.timelineHistory
        return Set(
            contents.compactMap { item -> UInt64? in
                guard case .segment(let s) = item.file else { return nil }
                let number = s.number(size: info.segmentSize)
                return history.timeline(forSegment: number, size: info.segmentSize) == s.timeline ? number : nil
            })
    }

    /// Materializes `backup` into `dataDirectory` with tablespaces at their recorded paths; the result is a stopped,
    /// complete PGDATA (backup_label, WAL in pg_wal/) owned by this OS user.
    public func seed(_ chain: BackupChain, into dataDirectory: String, checkContent: Bool = true) async throws
        -> Materializer.Result
    {
        try context.repository.markInUse(id: chain.backup.id)
        defer { context.repository.releaseUse(id: chain.backup.id) }
        return try await Materializer.of(chain, context: context, checkContent: checkContent)
            .materialize(into: dataDirectory, tablespaces: .asRecorded)
    }
}
