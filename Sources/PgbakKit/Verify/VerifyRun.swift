import Foundation
import Logging

/// Which backups `pgbak verify` looks at.
public enum BackupSelection: Sendable, Equatable {
    case id(String)
    case latest
    case all

    /// Resolves the selection over a context.repository's backups (oldest first).
    public func resolve(_ backups: [StoredBackup], location: String) throws -> [StoredBackup] {
        switch self {
        case .all:
            return backups
        case .latest:
            guard let last = backups.last else {
                throw RepositoryError(path: location, problem: "holds no backup yet: run pgbak now first")
            }
            return [last]
        case .id(let id):
            guard let found = backups.first(where: { $0.id == id }) else {
                let known = backups.suffix(5).map(\.id).joined(separator: ", ")
                throw RepositoryError(
                    path: location,
                    problem: "has no backup \(id) (newest: \(known.isEmpty ? "none" : known)); see pgbak list")
            }
            return [found]
        }
    }
}

/// Runs verification over the selected backups and records each outcome next to its backup.
public struct VerifyRun: Sendable {
    public let context: RunContext
    public var restoreTest: Bool

    public init(context: RunContext, restoreTest: Bool) {
        self.context = context
        self.restoreTest = restoreTest
    }

    public func execute(_ selection: BackupSelection) async throws -> [VerificationRecord] {
        try context.repository.prepare()
        let (backups, problems) = try context.repository.backups()
        var records: [VerificationRecord] = []
        // This run's outcomes so far, which an incremental backup's chain check reads before the recorded ones.
        var verdicts: [String: Bool] = [:]
        if case .id(let id) = selection, let problem = problems.first(where: { $0.contains("/\(id)/") }) {
            // A backup whose manifest cannot be read fails verification with that reason.
            let now = Date()
            return [
                VerificationRecord(
                    backupID: id, level: .standard, startedAt: now, finishedAt: now, ok: false,
                    problems: [problem], steps: [])
            ]
        }
        if selection == .all {
            let now = Date()
            records += problems.map {
                VerificationRecord(
                    backupID: "?", level: .standard, startedAt: now, finishedAt: now, ok: false,
                    problems: [$0], steps: [])
            }
        }
        for backup in try selection.resolve(backups, location: context.repository.location) {
            try context.repository.markInUse(id: backup.id)
            defer { context.repository.releaseUse(id: backup.id) }
            context.progress?("verifying \(backup.id)")
            let verifier = BackupVerifier(repository: context.repository)
            var record = await verifier.verify(backup, among: backups, verdicts: verdicts)
            await TarFormatCheck(context: context).run(backup, into: &record)
            if restoreTest && record.ok {
                record = await RestoreTest(context: context).run(backup, among: backups, after: record)
            }
            try context.repository.record(record)
            records.append(record)
            verdicts[record.backupID] = record.ok
        }
        return records
    }
}
