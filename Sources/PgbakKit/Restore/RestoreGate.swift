import Foundation
import Logging

/// Refuses a damaged backup before a restore touches anything: a manifest that fails its own checksum; files
/// missing, added or of the wrong size; a last verification that failed. The content of every file a restore reads
/// is checked against its checksum on the way, before the result is made live. `force` turns the refusals into
/// warnings and the content checks off: for a DBA who has read the verification and wants what can be had.
public struct RestoreGate: Sendable {
    public var force: Bool

    public init(force: Bool) {
        self.force = force
    }

    /// What is known to be wrong with `backup`. Pure.
    public static func problems(of backup: StoredBackup, structural: [String]) -> [String] {
        var problems = structural
        if let last = backup.verifications.last, !last.ok {
            let when = ISO8601DateFormatter().string(from: last.finishedAt)
            let found = last.problems.prefix(3).joined(separator: "; ")
            problems.append("its last verification (\(last.level.rawValue), \(when)) failed: \(found)")
        }
        return problems
    }

    /// Throws, naming every problem, unless `force`; then the problems are logged as warnings.
    /// A missing or wrong encryption key is refused even with `force`: nothing could be read.
    /// For what a restore reads of `backup` alone (its dumps).
    public func admit(_ backup: StoredBackup, repository: any BackupRepository, logger: Logger) throws {
        try admit(BackupChain(backups: [backup]), repository: repository, logger: logger)
    }

    /// For a physical restore: every backup of `chain` (`repository.chain(of:)`), a problem of one the restored
    /// backup depends on named as such.
    public func admit(_ chain: BackupChain, repository: any BackupRepository, logger: Logger) throws {
        let backup = chain.backup
        do {
            for member in chain.backups { _ = try repository.files(of: member) }
        } catch {
            throw RestoreError(problem: "\(error.localizedDescription); nothing was touched")
        }
        var problems: [String] = []
        for member in chain.backups.reversed() {
            let structural: [String]
            do {
                structural = try BackupVerifier.fileList(member, repository: repository).problems
            } catch {
                structural = [error.localizedDescription]
            }
            problems += Self.problems(of: member, structural: structural).map {
                member.id == backup.id ? $0 : "backup \(member.id), which it depends on: \($0)"
            }
        }
        guard !problems.isEmpty else { return }
        if force {
            for problem in problems {
                logger.warning(
                    "restoring a damaged backup (--force)",
                    metadata: ["backup.id": "\(backup.id)", "problem": "\(problem)"])
            }
            return
        }
        throw RestoreError(
            problem: "backup \(backup.id) is damaged; nothing was touched:\n"
                + problems.map { "  - \($0)" }.joined(separator: "\n")
                + "\nRun pgbak verify \(backup.id) for the whole picture; restore another backup (--backup ID), or "
                + "pass --force to use this one anyway")
    }
}
