import Foundation

/// Which archived WAL retention removes: pure. Only what no kept backup can use: segments (and `.partial` and
/// backup history files) below the oldest kept backup's start; `.history` files always stay. With no backup kept,
/// nothing is removed.
public enum WALRetention {
    public static func removable(
        _ contents: [ArchivedWAL], keptBackups: [StoredBackup], info: WALArchiveInfo
    ) -> [ArchivedWAL] {
        let segmentSize = info.segmentSize
        let starts = RecoveryPlan.Candidate.all(keptBackups, info: info).map { $0.start.segment(size: segmentSize) }
        guard let oldest = starts.min() else { return [] }
        return contents.filter { item in
            switch item.file {
            case .history: false
            case .segment(let s), .partial(let s), .backupHistory(let s, _): s.number(size: segmentSize) < oldest
            }
        }
    }
}

extension Pruner {
    /// Removes the archived WAL that the backups still in the repository, less `removing`, can no longer use (none
    /// without an archive); returns the files and bytes removed (or, with `dryRun`, that would be).
    public func pruneWAL(_ archive: WALArchive, dryRun: Bool, removing: [String] = []) throws -> (
        files: Int, bytes: Int64
    ) {
        guard let info = try archive.info() else { return (0, 0) }
        let kept = try repository.backups(detail: .listing).backups.filter { !removing.contains($0.id) }
        let doomed = WALRetention.removable(try archive.contents(), keptBackups: kept, info: info)
        if !dryRun {
            for item in doomed { try archive.store.delete(item.key) }
        }
        if !doomed.isEmpty {
            logger.info(
                "retention removed archived WAL older than the oldest kept backup",
                metadata: ["files": "\(doomed.count)"])
        }
        return (doomed.count, doomed.reduce(0) { $0 + $1.size })
    }
}
