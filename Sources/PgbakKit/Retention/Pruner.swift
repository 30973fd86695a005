import Foundation
import Logging

/// Applies a retention plan to a repository.
public struct Pruner: Sendable {
    public var repository: any BackupRepository
    public var policy: RetentionPolicy
    public var logger: Logger

    public init(repository: any BackupRepository, policy: RetentionPolicy, logger: Logger) {
        self.repository = repository
        self.policy = policy
        self.logger = logger
    }

    /// Plans retention over the repository's backups and, unless `dryRun`, deletes what the plan drops.
    /// The caller holds the repository lock.
    public func prune(protecting protected: Set<String>, dryRun: Bool) throws -> RetentionPlan {
        let stored = try repository.backups(detail: .listing).backups
        let candidates = stored.map {
            RetentionCandidate(
                id: $0.id, complete: $0.manifest.status == .complete,
                verified: $0.verifications.last?.ok == true, parent: $0.manifest.physical.incremental?.parent)
        }
        let inUse = repository.backupsInUse()
        let plan = RetentionPlanner.plan(backups: candidates, policy: policy, protected: protected.union(inUse))
        guard !dryRun else { return plan }
        for id in plan.deletions {
            try repository.delete(id: id)
            logger.info("retention removed a backup", metadata: ["backup.id": "\(id)"])
        }
        return plan
    }
}
