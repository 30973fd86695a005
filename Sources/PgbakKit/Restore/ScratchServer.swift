import Foundation
import Logging

/// A throw-away PostgreSQL on a materialized data directory that inherits nothing from production: a socket in
/// its own directory and no TCP listener, no archiving, no replication, small memory, no fsync. It runs as a child
/// of pgbak (it dies with pgbak) and is stopped by `stop()`.
final class ScratchServer: @unchecked Sendable {
    let tools: PostgresTools
    let dataDirectory: String
    let socketDirectory: String
    let user: String
    let port = 65432
    private var task: Task<ChildOutcome, any Error>?
    private let lock = NSLock()
    private var pid: pid_t = 0

    init(tools: PostgresTools, dataDirectory: String, socketDirectory: String, user: String) {
        self.tools = tools
        self.dataDirectory = dataDirectory
        self.socketDirectory = socketDirectory
        self.user = user
    }

    var configFile: String { socketDirectory + "/postgresql.conf" }

    /// Replaces every configuration production had: postgresql.conf, pg_hba.conf and pg_ident.conf of our own,
    /// an empty postgresql.auto.conf (ALTER SYSTEM could carry an archive_command), no recovery signal files.
    func writeConfiguration() throws {
        let conf = """
            listen_addresses = ''
            port = \(port)
            unix_socket_directories = '\(socketDirectory)'
            hba_file = '\(socketDirectory)/pg_hba.conf'
            ident_file = '\(socketDirectory)/pg_ident.conf'
            archive_mode = off
            archive_command = ''
            restore_command = ''
            primary_conninfo = ''
            primary_slot_name = ''
            max_wal_senders = 0
            max_replication_slots = 0
            shared_buffers = 64MB
            max_connections = 20
            work_mem = 8MB
            maintenance_work_mem = 64MB
            fsync = off
            synchronous_commit = off
            full_page_writes = off
            shared_preload_libraries = ''
            logging_collector = off
            log_min_messages = warning
            log_line_prefix = 'scratch: '

            """
        do {
            try conf.write(toFile: configFile, atomically: true, encoding: .utf8)
            try "local all all trust\n".write(
                toFile: socketDirectory + "/pg_hba.conf", atomically: true,
                encoding: .utf8)
            try "".write(toFile: socketDirectory + "/pg_ident.conf", atomically: true, encoding: .utf8)
            try "".write(toFile: dataDirectory + "/postgresql.auto.conf", atomically: true, encoding: .utf8)
        } catch {
            throw RestoreError(
                problem: "cannot write the scratch server's configuration: \(error.localizedDescription)")
        }
        for name in ["standby.signal", "recovery.signal", "postmaster.pid", "postmaster.opts"] {
            unlink(dataDirectory + "/" + name)
        }
    }

    /// Starts the server and waits until it accepts connections (recovery reached consistency and ended).
    func start(timeout: Double) async throws {
        let command = ChildCommand(
            executable: tools.path("postgres"),
            arguments: ["-D", dataDirectory, "-c", "config_file=\(configFile)"])
        task = Task {
            let outcome = try await ChildProcess.run(
                command, onStart: { [self] pid in lock.withLock { self.pid = pid } })
            lock.withLock { exited = outcome }
            return outcome
        }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            try Task.checkCancellation()
            if (try? connect(database: "postgres")) != nil { return }
            if let outcome = lock.withLock({ exited }) {
                throw RestoreError(
                    problem: "the scratch server \(outcome.statusText) before accepting "
                        + "connections:\n\(outcome.stderrTail.suffix(1500))")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw RestoreError(problem: "the scratch server did not accept connections within \(Int(timeout)) s")
    }

    private var exited: ChildOutcome?

    /// Waits until archive recovery has ended and the server promoted, then checks it replayed to `lsn` at least.
    func waitForPromotion(reaching lsn: LSN, timeout: Double) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            try Task.checkCancellation()
            let connection = try connect(database: "postgres")
            if try connection.query("select pg_is_in_recovery()::text").first?.first == "false" {
                let text = try connection.query("select pg_current_wal_lsn()::text").first?.first ?? nil
                guard let reached = text.flatMap(LSN.init), reached >= lsn else {
                    throw RestoreError(
                        problem: "recovery ended at \(text ?? "?"), before \(lsn), the start of the archive's newest "
                            + "segment: the WAL archive could not be replayed to its end")
                }
                return
            }
            if let outcome = lock.withLock({ exited }) {
                throw RestoreError(
                    problem: "the scratch server \(outcome.statusText) during archive recovery:\n"
                        + outcome.stderrTail.suffix(1500))
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw RestoreError(problem: "archive recovery did not end within \(Int(timeout)) s")
    }

    func connect(database: String) throws -> PGConnection {
        try PGConnection(
            parameters: [
                "host": socketDirectory, "port": String(port), "user": user,
                "dbname": database, "connect_timeout": "5",
            ],
            context: "connecting to the scratch server's database \(database)")
    }

    /// The conninfo child tools use.
    func conninfo(database: String) -> String {
        "host=\(PGConnection.quoteConnValue(socketDirectory)) port=\(port) user=\(PGConnection.quoteConnValue(user)) "
            + "dbname=\(PGConnection.quoteConnValue(database))"
    }

    /// Fast shutdown (SIGINT); SIGKILL to its process group after 30 s; returns once the server is gone.
    func stop() async {
        let pid = lock.withLock { self.pid }
        guard pid > 0, let task else { return }
        kill(pid, SIGINT)
        for _ in 0..<300 where lock.withLock({ exited }) == nil {
            try? await Task.sleep(for: .milliseconds(100))
        }
        if lock.withLock({ exited }) == nil { kill(-pid, SIGKILL) }
        _ = try? await task.value
    }
}
