import Foundation
import Logging

/// Patroni's custom bootstrap method (`bootstrap.method: pgbak`): a lost cluster comes back from a backup up to a
/// target. It fills the new cluster's first data directory with the newest backup consistent before the target (the
/// plan `restore --to-…` makes, with tablespaces at their recorded paths); Patroni then writes its `recovery_conf`
/// (restore_command = pgbak wal-fetch, the target, promote), recovers and takes the leader key. The other members are
/// created as replicas (pgbak's replica method, or `restore --node`). The new timeline's number is above every one in
/// the archive (PostgreSQL asks restore_command for each history file), so it never collides with the old cluster's.
public struct BootstrapMethod: Sendable {
    public let context: RunContext

    public init(context: RunContext) { self.context = context }

    public func execute(
        dataDirectory: String, scope: String?, target: RecoveryTarget, backupID: String?
    ) async throws -> (plan: RecoveryPlan, materialized: Materializer.Result) {
        if let scope, scope != context.config.scope {
            throw RestoreError(
                problem: "Patroni bootstraps scope \(scope), but \(context.config.file) is for scope "
                    + "\(context.config.scope)")
        }
        let plan = try PointInTimeRestore(context: context).plan(target: target, backupID: backupID)
        if !FileManager.default.fileExists(atPath: dataDirectory) {
            guard mkdir(dataDirectory, 0o700) == 0 else {
                throw RestoreError(problem: "cannot create the data directory \(dataDirectory): \(Errno.text())")
            }
        }
        try DirectRestore.checkTarget(dataDirectory, wipe: false)
        let stored = try context.repository.backups(detail: .listing).backups
        guard let backup = stored.first(where: { $0.id == plan.backupID }) else {
            throw RestoreError(problem: "backup \(plan.backupID) vanished from \(context.repository.location)")
        }
        let chain = try context.repository.chain(of: backup, among: stored)
        try RestoreGate(force: false).admit(chain, repository: context.repository, logger: context.logger)
        let done = try await DirectRestore.emptiedOnFailure(dataDirectory) {
            try await ReplicaSeeder(context: context).seed(chain, into: dataDirectory)
        }
        context.logger.info(
            "bootstrap data directory filled; Patroni recovers it to the target",
            metadata: ["backup.id": "\(backup.id)", "target": "\(target)"])
        return (plan, done)
    }
}
