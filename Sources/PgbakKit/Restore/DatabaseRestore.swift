import Foundation
import Logging

/// `pgbak restore --database`: one database from its dump into the current leader, under its own name (when it is
/// gone) or a new one; replacing an existing database only when asked, by restoring beside it and renaming.
public struct DatabaseRestore: Sendable {
    public let context: RunContext

    public init(context: RunContext) {
        self.context = context
    }
    public struct Request: Sendable {
        public var database: String
        public var newName: String?
        public var backupID: String?
        public var replace: Bool
        public var globals: Bool
        public var jobs: Int?
        /// Use a backup the gate would refuse, without content checks (`--force`).
        public var force: Bool

        public init(
            database: String, newName: String?, backupID: String?, replace: Bool, globals: Bool, jobs: Int?,
            force: Bool = false
        ) {
            self.force = force
            self.database = database
            self.newName = newName
            self.backupID = backupID
            self.replace = replace
            self.globals = globals
            self.jobs = jobs
        }
    }

    public struct Report: Sendable {
        public var backupID: String
        public var target: String
        public var rolesCreated: [String]
        /// When replacing: the name the previous database now has.
        public var previousRenamedTo: String?
        public var seconds: Double
    }

    public func execute(_ request: Request) async throws -> Report {
        let started = Date()
        try context.repository.prepare()
        let backups = try context.repository.backups().backups
        let (backup, entry) = try choose(request, from: backups)
        try RestoreGate(force: request.force).admit(backup, repository: context.repository, logger: context.logger)
        try context.repository.markInUse(id: backup.id)
        defer { context.repository.releaseUse(id: backup.id) }

        let credentials = try RunCredentials(
            directory: context.repository.runDirectory() + "/credentials",
            configFile: context.config.file)
        defer { credentials.remove() }
        let probe = LeaderProbe(config: context.config, logger: context.logger)
        let leader = try await probe.discover()
        let admin = try probe.connect(leader.choice, database: "postgres")
        let target = request.newName ?? request.database
        let exists = try !admin.query("select 1 from pg_database where datname = $1", [target]).isEmpty
        if exists && !request.replace {
            throw RestoreError(
                problem: "database \(target) exists on \(leader.choice.name); nothing was changed. "
                    + "Restore beside it with --as NEWNAME, or replace it with --replace (it is kept under another name)"
            )
        }
        var rolesCreated: [String] = []
        if request.globals, let globals = backup.manifest.logical.globalsFile {
            guard let record = backup.manifest.files.first(where: { $0.path == globals }) else {
                throw RestoreError(problem: "backup \(backup.id) lists \(globals) but has no record of it")
            }
            rolesCreated = try createMissingRoles(
                context.repository.files(of: backup), record, checkContent: !request.force, admin: admin)
        }
        guard try !admin.query("select 1 from pg_roles where rolname = $1", [entry.owner]).isEmpty else {
            throw RestoreError(
                problem: "the owner of \(entry.name), role \(entry.owner), does not exist on "
                    + "\(leader.choice.name): add --globals to create the missing roles from the backup")
        }
        let staging = exists ? "\(target)_pgbak_restoring" : target
        if exists, try !admin.query("select 1 from pg_database where datname = $1", [staging]).isEmpty {
            throw RestoreError(
                problem: "database \(staging) exists (left by an earlier --replace?): drop or rename it first")
        }
        try admin.query(DatabaseCreation.sql(name: staging, like: entry, owner: entry.owner))
        do {
            try await fill(
                staging, from: backup, entry: entry, leader: leader, probe: probe,
                credentials: credentials, jobs: request.jobs, checkContent: !request.force)
            for statement in DatabaseProperties.statements(
                database: staging, settings: entry.settings ?? [],
                grants: entry.grants)
            {
                try admin.query(statement)
            }
        } catch {
            // Only the database this run created is dropped; an existing one was never touched.
            _ = try? admin.query("drop database if exists \(SnapshotCounter.quote(staging))")
            throw error
        }
        var renamedTo: String?
        if exists {
            let aside = "\(target)_pgbak_replaced_\(BackupID.make(Date()).lowercased())"
            do {
                try admin.query(
                    "alter database \(SnapshotCounter.quote(target)) rename to \(SnapshotCounter.quote(aside))")
            } catch let error as PostgresError {
                throw RestoreError(
                    problem: "the restored copy is ready as \(staging), but \(target) cannot be renamed "
                        + "aside (\(error.message)); disconnect its sessions and run: ALTER DATABASE \(target) RENAME TO "
                        + "\(aside); ALTER DATABASE \(staging) RENAME TO \(target);")
            }
            try admin.query(
                "alter database \(SnapshotCounter.quote(staging)) rename to \(SnapshotCounter.quote(target))")
            renamedTo = aside
        }
        return Report(
            backupID: backup.id, target: target, rolesCreated: rolesCreated, previousRenamedTo: renamedTo,
            seconds: Date().timeIntervalSince(started))
    }

    func choose(_ request: Request, from backups: [StoredBackup]) throws -> (StoredBackup, Manifest.Database) {
        let candidates = request.backupID.map { id in backups.filter { $0.id == id } } ?? backups.reversed()
        if let id = request.backupID, candidates.isEmpty {
            throw RestoreError(problem: "backup \(id) is not in \(context.repository.location); see pgbak list")
        }
        for backup in candidates {
            if let db = backup.manifest.logical.databases.first(where: {
                $0.name == request.database && $0.status == .complete && $0.file != nil
            }) {
                return (backup, db)
            }
        }
        throw RestoreError(
            problem: "no backup in \(context.repository.location) holds a complete dump of database "
                + "\(request.database)" + (request.backupID.map { " (looked in \($0))" } ?? "") + "; see pgbak list")
    }

    private func fill(
        _ database: String, from backup: StoredBackup, entry: Manifest.Database, leader: ConfirmedLeader,
        probe: LeaderProbe, credentials: RunCredentials, jobs: Int?, checkContent: Bool
    ) async throws {
        guard let file = entry.file, let record = backup.manifest.files.first(where: { $0.path == file }) else {
            throw RestoreError(problem: "backup \(backup.id) lists no dump file for \(entry.name)")
        }
        try FileManager.default.createDirectory(
            atPath: context.config.scratchDirectory, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        let dumpPath = "\(context.config.scratchDirectory)/\(getpid())-\(entry.oid).dump"
        defer { unlink(dumpPath) }
        context.progress?("decompressing the dump of \(entry.name)")
        try DumpFile.decompress(
            context.repository.files(of: backup), record, checkContent: checkContent, to: dumpPath)
        let tools = try await PostgresTools.locate(
            configured: context.config.postgres.binDir,
            serverMajor: leader.identity.majorVersion, configFile: context.config.file)
        let size = (try? FileManager.default.attributesOfItem(atPath: dumpPath)[.size] as? Int64) ?? 0
        let parallel = jobs ?? (size > 64 << 20 ? min(4, ProcessInfo.processInfo.activeProcessorCount) : 1)
        context.progress?("pg_restore into \(database) (\(parallel) jobs)")
        let target = probe.dumpTarget(leader.choice)
        let outcome = try await ChildProcess.run(
            ChildCommand(
                executable: tools.path("pg_restore"),
                arguments: [
                    "--dbname=\(target.conninfo(database: database))", "--jobs=\(parallel)", "--exit-on-error",
                    "--no-password", dumpPath,
                ],
                environment: try credentials.environment(for: context.config.postgres.dump)))
        guard outcome.succeeded else {
            throw ChildFailure(tool: "pg_restore", status: outcome.statusText, stderrTail: outcome.stderrTail)
        }
    }

    private func createMissingRoles(
        _ files: BackupFiles, _ record: FileRecord, checkContent: Bool, admin: PGConnection
    ) throws -> [String] {
        var script: [UInt8] = []
        try ZstdReader.decompress(
            try files.open(record.path, size: record.bytes), name: files.describe(record.path),
            expected: checkContent ? record.checksum : nil
        ) { script.append(contentsOf: $0) }
        let existing = Set(try admin.query("select rolname from pg_roles").compactMap { $0.first ?? nil })
        let plan = GlobalsPlan.statements(script: String(decoding: script, as: UTF8.self), existing: existing)
        for statement in plan.statements { try admin.query(statement) }
        return plan.roles
    }
}
