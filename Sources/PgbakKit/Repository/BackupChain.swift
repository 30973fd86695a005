import Foundation

/// A backup that cannot be used because of a backup it depends on.
public struct ChainError: LocalizedError, Sendable {
    public var problem: String
    public var errorDescription: String? { problem }
}

/// An incremental base backup with the backups it was taken against: its full backup first, itself last. A full
/// backup is a chain of one. Restoring, verifying or copying an incremental backup needs every backup of its chain.
public struct BackupChain: Sendable {
    /// Oldest first; never empty, the backup the chain is of last.
    public let backups: [StoredBackup]

    /// The backup the chain is of.
    public var backup: StoredBackup { backups[backups.count - 1] }
    /// The backups it depends on, its full backup first; none for a full backup.
    public var earlier: ArraySlice<StoredBackup> { backups.dropLast() }

    /// The chain of `backup` among `stored` (any order). Throws when a backup it depends on is missing, has no
    /// complete physical part, or is of another cluster.
    public static func of(_ backup: StoredBackup, among stored: [StoredBackup]) throws -> BackupChain {
        let byID = Dictionary(stored.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var chain = [backup]
        var current = backup
        while let link = current.manifest.physical.incremental {
            // Ids grow with time: a parent older than its child also rules out a cycle.
            guard link.parent < current.id else {
                throw ChainError(
                    problem: "backup \(current.id) names \(link.parent) as the backup it was taken against, which "
                        + "cannot be (its manifest is inconsistent)")
            }
            guard let parent = byID[link.parent] else {
                throw ChainError(
                    problem: "backup \(backup.id) is incremental and needs backup \(link.parent), which is not in the "
                        + "repository: it cannot be restored; take a full backup (pgbak now --full)")
            }
            guard parent.manifest.physical.status == .complete,
                parent.manifest.cluster.systemIdentifier == backup.manifest.cluster.systemIdentifier
            else {
                throw ChainError(
                    problem: "backup \(backup.id) is incremental on backup \(link.parent), which has no complete "
                        + "physical part of the same cluster: it cannot be restored; take a full backup "
                        + "(pgbak now --full)")
            }
            chain.append(parent)
            current = parent
        }
        return BackupChain(backups: chain.reversed())
    }

    /// The ids of the backups `id` depends on (its parent, the parent's parent, … the full one), by walking
    /// `parents` (backup id → the backup it was taken against); ids missing from `parents` end the walk.
    public static func ancestors(of id: String, parents: [String: String]) -> [String] {
        var found: [String] = []
        var current = id
        while let parent = parents[current], parent < current, !found.contains(parent) {
            found.append(parent)
            current = parent
        }
        return found
    }
}

extension BackupRepository {
    /// What a physical restore of `backup` reads: its chain (a chain of one for a full backup, with nothing listed).
    /// `listed`: the repository's backups when the caller has them already, so they are not read again.
    public func chain(of backup: StoredBackup, among listed: [StoredBackup]? = nil) throws -> BackupChain {
        guard backup.manifest.physical.incremental != nil else { return BackupChain(backups: [backup]) }
        return try BackupChain.of(backup, among: listed ?? backups(detail: .listing).backups)
    }
}
