import Foundation

/// PostgreSQL 18's `pg_verifybackup` reads tar-format backups: on 18 and later, `pgbak verify` also has PostgreSQL's
/// own tool check the stored physical part as it is — every archive member against `backup_manifest`, without
/// extracting anything — beside pgbak's archive check. Only where the archives are files pg_verifybackup can open: a
/// repository in a directory, unencrypted.
struct TarFormatCheck {
    static let step = "pg_verifybackup (tar format)"
    var context: RunContext

    /// The stored physical directory of `backup` when pg_verifybackup can read it in place; nil otherwise.
    func directory(of backup: StoredBackup) -> String? {
        guard backup.manifest.cluster.serverVersionNum / 10000 >= 18, backup.manifest.encryption == nil,
            let local = context.repository.files(of: backup.id).localDirectory
        else { return nil }
        return local + "/" + PhysicalPart.directory
    }

    /// Runs pg_verifybackup (the backup's own major's) on the stored archives, adding its step (and its problems, or
    /// a note when the program is missing) to `record`.
    func run(_ backup: StoredBackup, into record: inout VerificationRecord) async {
        guard let directory = directory(of: backup) else { return }
        let started = Date()
        let tools: PostgresTools
        do {
            tools = try await PostgresTools.server(
                major: backup.manifest.cluster.serverVersionNum / 10000,
                serverBinDirs: context.config.postgres.serverBinDirs, configured: context.config.postgres.binDir,
                configFile: context.config.file)
        } catch {
            record.notes = (record.notes ?? []) + ["\(Self.step) skipped: \(error.localizedDescription)"]
            return
        }
        var problems: [String] = []
        do {
            // WAL is checked by pgbak (pg_wal.tar.zst and the archive); pg_verifybackup parses none in tar format.
            let outcome = try await ChildProcess.run(
                ChildCommand(
                    executable: tools.path("pg_verifybackup"),
                    arguments: ["--format=tar", "--no-parse-wal", "--quiet", directory]))
            if !outcome.succeeded {
                problems.append("pg_verifybackup \(outcome.statusText): \(outcome.stderrTail)")
            }
        } catch {
            problems.append("pg_verifybackup could not run: \(error.localizedDescription)")
        }
        record.steps.append(.init(name: Self.step, seconds: Date().timeIntervalSince(started), ok: problems.isEmpty))
        record.problems += problems.map { "\(backup.id): \($0)" }
        record.ok = record.ok && problems.isEmpty
    }
}
