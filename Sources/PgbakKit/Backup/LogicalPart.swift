import Foundation
import Logging

/// The logical part of a backup: one `pg_dump -Fc` per database and the globals, each zstd-compressed as it
/// streams. A database dropped during the run is recorded as dropped; a failed dump makes the part partial. After
/// each dump the leader is confirmed again: once it is no longer the same primary on the same timeline, the dump in
/// flight is discarded and it and every database after it are recorded as skipped (never a dump from another source).
struct LogicalPart: Sendable {
    static let directory = "logical"

    struct Result: Sendable {
        var section: Manifest.Logical
        var files: [FileRecord]
        /// Why the dumps stopped early: the leader changed (nil: it did not).
        var leaderChange: String?
    }

    var dump: PgDump
    var probe: LeaderProbe
    var leader: ConfirmedLeader
    var logger: Logger
    var progress: (@Sendable (String) -> Void)?
    /// Tables larger than this are not counted (dumps.count_rows_max_table_mb).
    var maxCountedTableBytes: Int64

    func run(staging: StagingArea, databases: [DatabaseInfo]) async throws -> Result {
        let started = Date()
        let dir = staging.directory + "/" + Self.directory
        guard mkdir(dir, 0o700) == 0 else {
            throw BackupError(problem: "cannot create \(dir): \(Errno.text())")
        }
        var files: [FileRecord] = []
        var entries: [Manifest.Database] = []
        var globalsFile: String?
        var failed = false
        var change: String?

        progress?("dumping globals (roles, tablespaces)")
        let globals = "\(Self.directory)/globals.sql.zst"
        do {
            files.append(try await dump.dumpGlobals(to: staging, relativePath: globals))
            globalsFile = globals
        } catch let error as ChildFailure {
            logger.error("globals dump failed", metadata: ["error": "\(error.localizedDescription)"])
            failed = true
        }
        if let reason = probe.change(since: leader) {
            try? staging.remove(globals)
            files.removeAll { $0.path == globals }
            globalsFile = nil
            change = reason
        }

        for (index, db) in databases.enumerated() where change == nil {
            try Task.checkCancellation()
            progress?("dumping database \(index + 1)/\(databases.count): \(db.name)")
            let relative = "\(Self.directory)/\(db.oid).dump.zst"
            var entry = Self.entry(db, status: .complete)
            let outcome: Swift.Result<(FileRecord, [TableCount]), any Error>
            do {
                outcome = .success(try await dumpCounting(db, to: staging, relative: relative))
            } catch let error where error is ChildFailure || error is PostgresError {
                outcome = .failure(error)
            }
            if let reason = probe.change(since: leader) {
                try? staging.remove(relative)
                change = reason
                break
            }
            switch outcome {
            case .success(let (record, tables)):
                files.append(record)
                entry.file = relative
                entry.tables = tables
            case .failure(let error):
                if try await !stillExists(db, after: error) {
                    entry.status = .dropped
                    entry.error = "dropped during the backup"
                } else {
                    entry.status = .failed
                    entry.error = error.localizedDescription
                    failed = true
                    logger.error(
                        "dump failed",
                        metadata: [
                            "database": "\(db.name)",
                            "error": "\(error.localizedDescription)",
                        ])
                }
            }
            entries.append(entry)
        }
        if let change {
            logger.warning("the leader changed during the dumps", metadata: ["reason": "\(change)"])
            for db in databases.dropFirst(entries.count) {
                var entry = Self.entry(db, status: .skipped)
                entry.error = "not dumped: the leader changed during the dumps (\(change))"
                entries.append(entry)
            }
        }
        let section = Manifest.Logical(
            status: failed || change != nil ? .partial : .complete, toolVersion: dump.tools.clientVersion,
            globalsFile: globalsFile, databases: entries, seconds: Date().timeIntervalSince(started))
        return Result(section: section, files: files, leaderChange: change)
    }

    static func entry(_ db: DatabaseInfo, status: Manifest.Database.Status) -> Manifest.Database {
        Manifest.Database(
            name: db.name, oid: db.oid, owner: db.owner, encoding: db.encoding, collate: db.collate,
            ctype: db.ctype, collationVersion: db.collationVersion, sizeBytes: db.sizeBytes, file: nil,
            status: status, error: nil, tables: nil, settings: db.settings, grants: db.grants)
    }

    /// pg_dump inside an exported snapshot while the exporting session counts the rows of every table in it.
    private func dumpCounting(
        _ db: DatabaseInfo, to staging: StagingArea, relative: String
    ) async throws -> (FileRecord, [TableCount]) {
        let counter = try SnapshotCounter(
            connection: probe.connect(leader.choice, database: db.name),
            lockTimeoutSeconds: dump.lockWaitTimeoutSeconds)
        defer { counter.finish() }
        let limit = maxCountedTableBytes
        // The counting thread owns the connection until it returns: always wait for it before finishing.
        let counting = Task { try await Blocking.run { try counter.count(maxTableBytes: limit) } }
        let record: FileRecord
        do {
            record = try await dump.dump(
                database: db.name, snapshot: counter.snapshotID, to: staging, relativePath: relative)
        } catch {
            _ = try? await counting.value
            throw error
        }
        return (record, try await counting.value)
    }

    /// Whether `db` still exists. `DROP DATABASE ... WITH (FORCE)` ends the dump's session before the database is
    /// gone: after such an ending (`terminating connection`), give the drop a few seconds to finish.
    private func stillExists(_ db: DatabaseInfo, after error: any Error) async throws -> Bool {
        let connection = try probe.connect(leader.choice, database: "postgres")
        let terminated = error.localizedDescription.contains("terminating connection")
        for attempt in 0..<(terminated ? 25 : 1) {
            if attempt > 0 { try await Task.sleep(for: .milliseconds(200)) }
            let rows = try connection.query("select 1 from pg_database where oid = $1::oid", [String(db.oid)])
            if rows.isEmpty { return false }
        }
        return true
    }
}
