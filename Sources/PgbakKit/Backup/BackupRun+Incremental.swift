import Foundation

extension BackupRun {
    /// The repository's backups, for planning an incremental base backup; nil when incremental ones are off.
    func incrementalCandidates() throws -> [StoredBackup]? {
        guard context.config.incremental.enabled, !forceFull else { return nil }
        return try context.repository.backups(detail: .listing).backups
    }

    /// Full or incremental, for a base backup of `source` (see `IncrementalPlanner`).
    func basePlan(for source: IncrementalPlanner.Source, known: [StoredBackup]) -> BaseBackupPlan {
        IncrementalPlanner.plan(
            settings: context.config.incremental, forceFull: forceFull, source: source, backups: known,
            keyCheck: context.repository.encryptionKey?.check, now: Date())
    }

    /// The source of a backup from `leader`, for `basePlan`.
    static func source(of leader: ConfirmedLeader) -> IncrementalPlanner.Source {
        IncrementalPlanner.Source(
            serverMajor: leader.identity.majorVersion, systemIdentifier: leader.identity.systemIdentifier,
            timeline: leader.identity.timeline)
    }

    /// For an incremental plan: the parent's backup_manifest, written into the run's private directory for
    /// pg_basebackup --incremental (decrypted when the repository is encrypted).
    func parentManifest(
        for plan: BaseBackupPlan, known: [StoredBackup], credentials: RunCredentials
    ) throws -> String? {
        guard let link = plan.incremental else { return nil }
        guard let parent = known.first(where: { $0.id == link.parent }) else {
            throw BackupError(problem: "backup \(link.parent) vanished from \(context.repository.location)")
        }
        let name = "\(PhysicalPart.directory)/backup_manifest"
        guard let data = try context.repository.files(of: parent).contents(name) else {
            throw BackupError(
                problem: "backup \(parent.id) has no \(name) to take an incremental backup against: take a full one "
                    + "(pgbak now --full)")
        }
        let path = credentials.privatePath("parent-\(parent.id).backup_manifest")
        guard FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600])
        else { throw BackupError(problem: "cannot write \(path): \(Errno.text())") }
        return path
    }
}
