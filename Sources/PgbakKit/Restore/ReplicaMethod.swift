import Foundation
import Logging

/// The entry point Patroni runs from `create_replica_methods`: fills the (already wiped) data directory with the
/// backup `restore --node` asked for or, without a request, the newest backup the replica can catch up from.
/// Exit 0 means a stopped, complete PGDATA is in place; anything else lets Patroni try its next method.
public struct ReplicaMethod: Sendable {
    public let context: RunContext

    public init(context: RunContext) {
        self.context = context
    }

    public func execute(dataDirectory: String, member: String?, scope: String?) async throws -> RestoreResult {
        let started = Date()
        try context.repository.prepare()
        if let scope, scope != context.config.scope {
            throw RestoreError(
                problem:
                    "Patroni asks for scope \(scope), but \(context.config.file) is for scope \(context.config.scope)")
        }
        let store = RequestStore(store: context.repository.store)
        let request = store.pending(member: member)
        var result = RestoreResult(
            requestID: request?.requestID, member: member ?? request?.member,
            backupID: request?.backupID, dataDirectory: dataDirectory, ok: false, error: nil,
            startedAt: started, finishedAt: started)
        do {
            let (backup, done, prepared) = try await fill(dataDirectory, request: request)
            result.backupID = backup.id
            result.preparedSeed = prepared ? true : nil
            context.logger.info(
                "replica data directory filled",
                metadata: [
                    "backup.id": "\(backup.id)", "files": "\(done.files)", "bytes": "\(done.bytes)",
                ])
            result.ok = true
        } catch {
            result.error = error.localizedDescription
            result.finishedAt = Date()
            try? store.report(result)
            throw error
        }
        result.finishedAt = Date()
        try store.report(result)
        return result
    }

    /// Chooses the backup and materializes it. A requested backup (restore --node) is written while the leader is
    /// asked whether a replica can still catch up from it, which it almost always can; when it cannot, the data
    /// directory is emptied again and the refusal stands.
    /// Also says whether the data directory is a seed `restore --node` wrote beside it (`PreparedSeed`).
    private func fill(_ dataDirectory: String, request: RestoreRequest?) async throws -> (
        StoredBackup, Materializer.Result, Bool
    ) {
        let seeder = ReplicaSeeder(context: context)
        let force = request?.force ?? false
        let stored = try context.repository.backups(detail: .listing).backups
        guard let requested = request?.backupID, let backup = stored.first(where: { $0.id == requested }) else {
            let (backup, _, _) = try await seeder.choose(requested: request?.backupID, among: stored)
            let chain = try context.repository.chain(of: backup, among: stored)
            try RestoreGate(force: force).admit(chain, repository: context.repository, logger: context.logger)
            return (backup, try await seeder.seed(chain, into: dataDirectory, checkContent: !force), false)
        }
        let chain = try context.repository.chain(of: backup, among: stored)
        try RestoreGate(force: force).admit(chain, repository: context.repository, logger: context.logger)
        let seedPath = request?.seedDirectory
        async let seeding = Self.seed(
            chain, into: dataDirectory, seeder: seeder, preparedSeed: seedPath, checkContent: !force)
        do {
            // With a request, the choice is that backup or an error naming why it no longer qualifies.
            _ = try await seeder.choose(requested: requested, among: stored)
        } catch {
            _ = try? await seeding
            try? DirectRestore.empty(dataDirectory)
            throw error
        }
        let (done, prepared) = try await seeding
        return (backup, done, prepared)
    }

    /// Fills `dataDirectory` with `chain`'s backup: by adopting the seed `restore --node` wrote beside it while
    /// Patroni removed it (`preparedSeed`), else from the repository. Also says whether the seed was adopted.
    private static func seed(
        _ chain: BackupChain, into dataDirectory: String, seeder: ReplicaSeeder, preparedSeed: String?,
        checkContent: Bool
    ) async throws -> (Materializer.Result, Bool) {
        let seed = PreparedSeed(dataDirectory: dataDirectory)
        let id = chain.backup.id
        if preparedSeed == seed.path, let adopted = try await Blocking.run({ try seed.adopt(backupID: id) }) {
            return (adopted, true)
        }
        return (try await seeder.seed(chain, into: dataDirectory, checkContent: checkContent), false)
    }
}
