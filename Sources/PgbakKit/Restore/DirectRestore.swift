import Foundation
import Logging

/// `pgbak restore --datadir DIR`: fill a data directory directly, for a member whose Patroni is stopped (it comes
/// back as a replica when Patroni starts) or, with `standalone`, as an independent server that can never reach
/// production's archive or port.
public struct DirectRestore: Sendable {
    public let context: RunContext

    public init(context: RunContext) {
        self.context = context
    }

    public struct Report: Sendable {
        public var backupID: String
        public var files: Int
        public var bytes: Int64
        public var tablespaces: [TablespaceMapping]
        public var seconds: Double
    }

    public func replica(dataDirectory: String, backupID: String?, wipe: Bool, force: Bool = false) async throws
        -> Report
    {
        let started = Date()
        try context.repository.prepare()
        try Self.checkTarget(dataDirectory, wipe: wipe)
        let seeder = ReplicaSeeder(context: context)
        let stored = try context.repository.backups(detail: .listing).backups
        let (backup, _, _) = try await seeder.choose(requested: backupID, among: stored)
        let chain = try context.repository.chain(of: backup, among: stored)
        try RestoreGate(force: force).admit(chain, repository: context.repository, logger: context.logger)
        if wipe { try Self.empty(dataDirectory) }
        let done = try await Self.emptiedOnFailure(dataDirectory) {
            try await seeder.seed(chain, into: dataDirectory, checkContent: !force)
        }
        return Report(
            backupID: backup.id, files: done.files, bytes: done.bytes, tablespaces: done.tablespaces,
            seconds: Date().timeIntervalSince(started))
    }

    /// `cached`: the files go through the page cache (see `Materializer.cached`).
    public func standalone(
        dataDirectory: String, backupID: String?, wipe: Bool, port: Int, force: Bool = false, cached: Bool = false
    ) async throws -> Report {
        let started = Date()
        try context.repository.prepare()
        try Self.checkTarget(dataDirectory, wipe: wipe)
        let backups = try context.repository.backups().backups.filter { $0.manifest.physical.status == .complete }
        guard let backup = backupID.map({ id in backups.first { $0.id == id } }) ?? backups.last else {
            throw RestoreError(
                problem: backupID.map { "backup \($0) is not in \(context.repository.location) (see pgbak list)" }
                    ?? "\(context.repository.location) holds no backup with a complete physical part")
        }
        let chain = try context.repository.chain(of: backup, among: backups)
        try RestoreGate(force: force).admit(chain, repository: context.repository, logger: context.logger)
        if wipe { try Self.empty(dataDirectory) }
        try context.repository.markInUse(id: backup.id)
        defer { context.repository.releaseUse(id: backup.id) }
        let done = try await Self.emptiedOnFailure(dataDirectory) {
            try await Materializer.of(chain, context: context, checkContent: !force, cached: cached)
                .materialize(into: dataDirectory, tablespaces: .remapped(under: dataDirectory + "/pgbak_tablespaces"))
        }
        try Materializer.rewriteTablespaceMap(dataDirectory, done.tablespaces)
        try Self.writeStandaloneConfiguration(dataDirectory, port: port)
        return Report(
            backupID: backup.id, files: done.files, bytes: done.bytes, tablespaces: done.tablespaces,
            seconds: Date().timeIntervalSince(started))
    }

    /// Replaces Patroni's configuration with a minimal one of its own: a port of its own on localhost, archiving off,
    /// no primary_conninfo, modest memory; ALTER SYSTEM settings (postgresql.auto.conf) are dropped, as they may
    /// carry an archive_command.
    static func writeStandaloneConfiguration(_ dir: String, port: Int) throws {
        let conf = """
            # Written by pgbak restore --standalone: an independent copy, not a member of any cluster.
            listen_addresses = 'localhost'
            port = \(port)
            unix_socket_directories = '/tmp'
            hba_file = '\(dir)/pg_hba.conf'
            ident_file = '\(dir)/pg_ident.conf'
            archive_mode = off
            archive_command = ''
            restore_command = ''
            primary_conninfo = ''
            primary_slot_name = ''
            shared_buffers = 128MB
            max_connections = 50
            max_wal_senders = 0
            max_replication_slots = 0

            """
        do {
            try conf.write(toFile: dir + "/postgresql.conf", atomically: true, encoding: .utf8)
            try "local all all peer\nhost all all 127.0.0.1/32 scram-sha-256\nhost all all ::1/128 scram-sha-256\n"
                .write(toFile: dir + "/pg_hba.conf", atomically: true, encoding: .utf8)
            try "".write(toFile: dir + "/pg_ident.conf", atomically: true, encoding: .utf8)
            try "# emptied by pgbak restore --standalone\n".write(
                toFile: dir + "/postgresql.auto.conf",
                atomically: true, encoding: .utf8)
        } catch {
            throw RestoreError(problem: "cannot write the configuration in \(dir): \(error.localizedDescription)")
        }
        for name in ["standby.signal", "recovery.signal", "postgresql.base.conf", "patroni.dynamic.json"] {
            unlink(dir + "/" + name)
        }
        for name in ["postgresql.conf", "pg_hba.conf", "pg_ident.conf", "postgresql.auto.conf"] {
            chmod(dir + "/" + name, 0o600)
        }
    }

    static func checkTarget(_ dir: String, wipe: Bool) throws {
        guard dir.hasPrefix("/") else { throw RestoreError(problem: "--datadir \(dir) must be an absolute path") }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        if !entries.isEmpty && !wipe {
            throw RestoreError(
                problem: "\(dir) is not empty (\(entries.count) entries); nothing was changed. Empty it, "
                    + "or pass --wipe to have pgbak empty it")
        }
        if FileManager.default.fileExists(atPath: dir + "/postmaster.pid") {
            let pid = (try? String(contentsOfFile: dir + "/postmaster.pid", encoding: .utf8))?
                .split(separator: "\n").first.flatMap { Int32($0) }
            if let pid, kill(pid, 0) == 0 {
                throw RestoreError(
                    problem: "PostgreSQL (PID \(pid)) is running on \(dir); stop Patroni on this member first")
            }
        }
    }

    /// Runs `body`; when it fails, what it wrote into `dir` is removed, so no half-filled data directory remains.
    static func emptiedOnFailure<T>(_ dir: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            try? empty(dir)
            throw error
        }
    }

    static func empty(_ dir: String) throws {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            do {
                try FileManager.default.removeItem(atPath: dir + "/" + entry)
            } catch {
                throw RestoreError(problem: "cannot empty \(dir): \(error.localizedDescription)")
            }
        }
    }
}
