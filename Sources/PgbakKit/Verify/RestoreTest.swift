import Foundation
import Logging

/// `pgbak verify --restore-test`: materialize the physical backup in a scratch area (tablespaces remapped there),
/// `pg_verifybackup` it, start a throw-away server on it, connect to every database, `pg_amcheck` them all, restore
/// every dump into it under a fresh name and compare each table's rows with what was counted in the dump's own
/// snapshot. The scratch server is stopped and the scratch area removed whatever happens.
struct RestoreTest: Sendable {
    let context: RunContext

    init(context: RunContext) {
        self.context = context
    }

    /// `stored`: the repository's backups, where an incremental backup's chain is found.
    func run(
        _ backup: StoredBackup, among stored: [StoredBackup], after standard: VerificationRecord
    ) async -> VerificationRecord {
        var record = standard
        record.level = .restoreTest
        let scratch = "\(context.config.scratchDirectory)/\(getpid())-\(backup.id)"
        let steps = StepLog()
        do {
            try await withTimeout(
                seconds: Double(context.config.restoreTestTimeoutSeconds), limit: "verify.restore_test_timeout_seconds"
            ) {
                try await exercise(
                    context.repository.chain(of: backup, among: stored), scratch: scratch, steps: steps)
            }
        } catch  where !(error is StepFailed) {
            steps.fail(error.localizedDescription)
        } catch {}
        try? FileManager.default.removeItem(atPath: scratch)
        record.steps += steps.steps
        record.problems += steps.problems.map { "\(backup.id): restore test: \($0)" }
        if !steps.notes.isEmpty { record.notes = (record.notes ?? []) + steps.notes }
        record.ok = record.problems.isEmpty
        record.finishedAt = Date()
        return record
    }

    private func exercise(_ chain: BackupChain, scratch: String, steps: StepLog) async throws {
        let backup = chain.backup
        let manifest = backup.manifest
        try FileManager.default.createDirectory(
            atPath: scratch, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        let data = scratch + "/data"
        let materializer = try await Materializer.of(chain, context: context)
        let files = materializer.files
        // The server programs of the backup's own major; pg_restore of the newest client (dumps of a newer pg_dump
        // than the server's are read only by a pg_restore as new).
        let major = manifest.cluster.serverVersionNum / 10000
        let tools = try await PostgresTools.server(
            major: major, serverBinDirs: context.config.postgres.serverBinDirs,
            configured: context.config.postgres.binDir, configFile: context.config.file)
        let client = try await PostgresTools.locate(
            configured: context.config.postgres.binDir, serverMajor: major, configFile: context.config.file)
        context.progress?("restore test: materializing \(backup.id)")
        let materialized = try await steps.run(
            materializer.earlier.isEmpty
                ? "materialize" : "materialize and combine a chain of \(materializer.earlier.count + 1) backups"
        ) {
            try await materializer.materialize(into: data, tablespaces: .remapped(under: scratch + "/tablespaces"))
        }
        context.progress?("restore test: pg_verifybackup")
        // A combined chain is checked against pg_combinebackup's manifest (the backup's own lists its increments).
        let pgManifestCopy = scratch + "/backup_manifest"
        if let combined = materialized.combinedManifest {
            try FileManager.default.moveItem(atPath: combined, toPath: pgManifestCopy)
        } else {
            let pgManifest = "\(PhysicalPart.directory)/backup_manifest"
            guard let pgManifestData = try files.contents(pgManifest) else {
                throw RestoreError(problem: "backup \(backup.id) has no \(pgManifest)")
            }
            try pgManifestData.write(to: URL(fileURLWithPath: pgManifestCopy))
        }
        try await steps.run("pg_verifybackup") {
            let outcome = try await ChildProcess.run(
                ChildCommand(
                    executable: tools.path("pg_verifybackup"),
                    arguments: [
                        "--quiet",
                        "--manifest-path=\(pgManifestCopy)",
                        data,
                    ]))
            guard outcome.succeeded else {
                throw RestoreError(problem: "pg_verifybackup \(outcome.statusText): \(outcome.stderrTail)")
            }
        }
        try Materializer.rewriteTablespaceMap(data, materialized.tablespaces)
        let server = ScratchServer(
            tools: tools, dataDirectory: data, socketDirectory: scratch,
            user: context.config.postgres.dump.user)
        try server.writeConfiguration()
        let replay = try await archiveReplay(backup, tools: tools, data: data, server: server, steps: steps)
        do {
            context.progress?("restore test: starting the scratch server (WAL replay to consistency)")
            try await steps.run("start to consistency") { try await server.start(timeout: 600) }
            if let replay {
                context.progress?("restore test: replaying the WAL archive to \(replay.name)")
                try await steps.run("replay the WAL archive to \(replay.name)") {
                    try await server.waitForPromotion(
                        reaching: replay.segment.start(size: replay.segmentSize), timeout: 3600)
                }
            }
            try await steps.run("connect to every database") {
                for db in manifest.logical.databases where db.status == .complete {
                    _ = try server.connect(database: db.name)
                }
            }
            if !tools.has("pg_amcheck") {
                steps.note("pg_amcheck skipped: PostgreSQL \(major) has none (it came with 14)")
            } else {
                context.progress?("restore test: pg_amcheck")
                try await amcheck(server, tools: tools, steps: steps)
            }
            for db in manifest.logical.databases where db.status == .complete {
                context.progress?("restore test: restoring the dump of \(db.name)")
                try await steps.run("restore dump of \(db.name)") {
                    try await restoreAndCompare(
                        db, backup: backup, files: files, server: server, tools: client, scratch: scratch,
                        steps: steps)
                }
            }
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    /// When the WAL archive continues past the backup: recovery through `pgbak wal-fetch` to the archive's end, so
    /// the test proves the backup plus the archive restore, not the backup alone. Nil (with a note) otherwise.
    private func archiveReplay(
        _ backup: StoredBackup, tools: PostgresTools, data: String, server: ScratchServer, steps: StepLog
    ) async throws -> (name: String, segment: WALSegment, segmentSize: UInt64)? {
        let restore = PointInTimeRestore(context: context)
        let plan: RecoveryPlan
        do {
            plan = try restore.plan(target: .latest, backupID: backup.id)
        } catch {
            steps.note("the WAL archive was not replayed: \(error.localizedDescription)")
            return nil
        }
        guard let last = plan.lastSegment, let size = try context.walArchive.info()?.segmentSize else { return nil }
        try PointInTimeRestore.appendRecoverySettings(
            to: server.configFile, dataDirectory: data, configFile: context.config.file, target: .latest,
            action: .promote, primary: try await PointInTimeRestore.primarySettings(data, tools: tools))
        return (last.name, last, size)
    }

    /// pg_amcheck over every database of the throw-away server: heap and btree.
    private func amcheck(_ server: ScratchServer, tools: PostgresTools, steps: StepLog) async throws {
        try await steps.run("pg_amcheck (heap and btree)") {
            let outcome = try await ChildProcess.run(
                ChildCommand(
                    executable: tools.path("pg_amcheck"),
                    arguments: [
                        "--host=\(server.socketDirectory)", "--port=\(server.port)",
                        "--username=\(server.user)", "--maintenance-db=postgres", "--all",
                        "--install-missing", "--no-password",
                    ]))
            guard outcome.succeeded else {
                throw RestoreError(problem: "pg_amcheck \(outcome.statusText): \(outcome.stderrTail.suffix(2000))")
            }
        }
    }

    private func restoreAndCompare(
        _ db: Manifest.Database, backup: StoredBackup, files: BackupFiles, server: ScratchServer,
        tools: PostgresTools, scratch: String, steps: StepLog
    ) async throws {
        guard let file = db.file, let record = backup.manifest.files.first(where: { $0.path == file }) else { return }
        let dumpPath = "\(scratch)/\(db.oid).dump"
        try DumpFile.decompress(files, record, to: dumpPath)
        defer { unlink(dumpPath) }
        let target = "pgbak_restore_test_\(db.oid)"
        try server.connect(database: "postgres").query(DatabaseCreation.sql(name: target, like: db))
        let outcome = try await ChildProcess.run(
            ChildCommand(
                executable: tools.path("pg_restore"),
                arguments: [
                    "--dbname=\(server.conninfo(database: target))", "--exit-on-error", "--no-password",
                    dumpPath,
                ]))
        guard outcome.succeeded else {
            throw RestoreError(
                problem: "pg_restore of \(db.name) \(outcome.statusText): \(outcome.stderrTail.suffix(1500))")
        }
        let connection = try server.connect(database: target)
        var mismatches: [String] = []
        for table in db.tables ?? [] {
            guard let expected = table.rows else { continue }
            let name = "\(SnapshotCounter.quote(table.schema)).\(SnapshotCounter.quote(table.name))"
            let got = try? connection.query("select count(*)::text from only \(name)").first?.first ?? nil
            guard let got, let count = Int64(got) else {
                mismatches.append("\(table.schema).\(table.name) is missing after the restore")
                continue
            }
            if count != expected {
                mismatches.append("\(table.schema).\(table.name) has \(count) rows, the dump had \(expected)")
            }
        }
        for table in (db.tables ?? []) where table.rows == nil {
            steps.note(
                "\(db.name): \(table.schema).\(table.name) not compared: \(table.note ?? "not counted while dumping")")
        }
        guard mismatches.isEmpty else {
            throw RestoreError(problem: "database \(db.name): " + mismatches.joined(separator: "; "))
        }
    }
}

/// Step timings and problems of a restore test.
final class StepLog: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var steps: [VerificationRecord.Step] = []
    private(set) var problems: [String] = []

    @discardableResult
    func run<T: Sendable>(_ name: String, _ body: () async throws -> T) async throws -> T {
        let t0 = Date()
        do {
            let value = try await body()
            lock.withLock { steps.append(.init(name: name, seconds: Date().timeIntervalSince(t0), ok: true)) }
            return value
        } catch {
            lock.withLock {
                steps.append(.init(name: name, seconds: Date().timeIntervalSince(t0), ok: false))
                problems.append("\(name): \(error.localizedDescription)")
            }
            throw StepFailed()
        }
    }

    private(set) var notes: [String] = []

    func fail(_ problem: String) {
        lock.withLock { problems.append(problem) }
    }

    func note(_ text: String) {
        lock.withLock { notes.append(text) }
    }
}

/// A step already recorded its problem.
struct StepFailed: LocalizedError {
    var errorDescription: String? { "step failed" }
}

/// Runs `body`, cancelling it after `seconds`; `limit` names what was limited (the setting, or the work) in the error.
func withTimeout<T: Sendable>(
    seconds: Double, limit: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw RestoreError(problem: "gave up after \(Int(seconds)) s (\(limit))")
        }
        return value
    }
}
