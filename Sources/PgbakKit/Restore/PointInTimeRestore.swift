import Foundation
import Logging

/// `pgbak restore --datadir DIR --standalone --to-…`: an independent server recovered from a backup plus the WAL
/// archive up to a target. The plan is made and checked before anything is written; the server is started only
/// when asked.
public struct PointInTimeRestore: Sendable {
    public let context: RunContext

    public init(context: RunContext) { self.context = context }

    public struct Report: Sendable {
        public var plan: RecoveryPlan
        public var materialized: DirectRestore.Report
        /// Set with `start`: seconds until the server had recovered (promoted, or paused at the target).
        public var recoveredAfter: Double?
    }

    public func plan(target: RecoveryTarget, backupID: String?) throws -> RecoveryPlan {
        try context.repository.prepare()
        let archive = context.walArchive
        guard let info = try archive.info() else {
            throw RestoreError(
                problem: "the repository \(context.repository.location) holds no WAL archive: set archive_command to "
                    + "pgbak wal-push %p (see the README) before a point in time can be recovered")
        }
        let contents = try archive.contents()
        let backups = try context.repository.backups(detail: .listing).backups
        return try RecoveryPlan.make(
            target: target, backups: backups, archive: contents, histories: try archive.histories(in: contents),
            info: info, requested: backupID)
    }

    public func execute(
        _ plan: RecoveryPlan, dataDirectory: String, wipe: Bool, port: Int, action: RecoveryTarget.Action,
        force: Bool, start: Bool, timeout: Double
    ) async throws -> Report {
        let materialized = try await DirectRestore(context: context).standalone(
            dataDirectory: dataDirectory, backupID: plan.backupID, wipe: wipe, port: port, force: force,
            cached: true)
        let version =
            (try? String(contentsOfFile: dataDirectory + "/PG_VERSION", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
        let tools = try await PostgresTools.server(
            major: version, serverBinDirs: context.config.postgres.serverBinDirs,
            configured: context.config.postgres.binDir, configFile: context.config.file)
        let primarySettings = try await Self.primarySettings(dataDirectory, tools: tools)
        try writeRecoverySettings(dataDirectory, target: plan.target, action: action, primary: primarySettings)
        var report = Report(plan: plan, materialized: materialized)
        if start {
            report.recoveredAfter = try await startAndWait(
                dataDirectory, tools: tools, port: port, action: action, timeout: timeout)
        }
        return report
    }

    /// restore_command through this pgbak and this configuration, the target, and recovery.signal.
    func writeRecoverySettings(
        _ dir: String, target: RecoveryTarget, action: RecoveryTarget.Action, primary: [(String, String)]
    ) throws {
        try Self.appendRecoverySettings(
            to: dir + "/postgresql.conf", dataDirectory: dir, configFile: context.config.file, target: target,
            action: action, primary: primary)
    }

    /// Appends the recovery settings to `conf` (later lines win) and creates recovery.signal in `dataDirectory`.
    static func appendRecoverySettings(
        to conf: String, dataDirectory: String, configFile: String, target: RecoveryTarget,
        action: RecoveryTarget.Action, primary: [(String, String)]
    ) throws {
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let configPath = URL(fileURLWithPath: configFile).standardizedFileURL.path
        var lines = [
            "# Written by pgbak: recovery to \(target).",
            "restore_command = "
                + quote(
                    WALFetch.restoreCommand(
                        dataDirectory: dataDirectory, executable: executable, configFile: configPath)),
        ]
        WALFetch.clearStaging(dataDirectory: dataDirectory)
        lines += target.settings(action: action).map { "\($0.0) = \(quote($0.1))" }
        // Replaying WAL as a hot standby needs these at least as high as the primary had them.
        lines += primary.map { "\($0.0) = \($0.1)" }
        do {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: conf))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data((lines.joined(separator: "\n") + "\n").utf8))
            try handle.close()
        } catch {
            throw RestoreError(problem: "cannot write the recovery settings in \(conf): \(error.localizedDescription)")
        }
        guard FileManager.default.createFile(atPath: dataDirectory + "/recovery.signal", contents: Data()) else {
            throw RestoreError(problem: "cannot create \(dataDirectory)/recovery.signal: \(Errno.text())")
        }
    }

    /// The settings recovery checks against the primary's, from the backup's pg_control (pg_controldata).
    static func primarySettings(_ dir: String, tools: PostgresTools) async throws -> [(String, String)] {
        let output = try await ChildProcess.capture(
            ChildCommand(
                executable: tools.path("pg_controldata"), arguments: ["-D", dir], environment: ["LC_ALL": "C"]))
        let wanted = [
            "max_connections", "max_worker_processes", "max_wal_senders", "max_prepared_xacts",
            "max_locks_per_xact",
        ]
        var found: [(String, String)] = []
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, let name = wanted.first(where: { parts[0] == "\($0) setting" }),
                let value = Int(parts[1])
            else { continue }
            let setting = name.replacingOccurrences(of: "xacts", with: "transactions")
                .replacingOccurrences(of: "xact", with: "transaction")
            found.append((setting, String(value)))
        }
        return found
    }

    static func quote(_ value: String) -> String { "'" + value.replacingOccurrences(of: "'", with: "''") + "'" }

    /// Starts the server with pg_ctl (it keeps running after pgbak exits) and waits until recovery has ended
    /// (promote) or paused at the target.
    func startAndWait(
        _ dir: String, tools: PostgresTools, port: Int, action: RecoveryTarget.Action, timeout: Double
    ) async throws -> Double {
        let started = Date()
        _ = try await ChildProcess.capture(
            ChildCommand(
                executable: tools.path("pg_ctl"),
                arguments: ["-D", dir, "-l", dir + "/pgbak-recovery.log", "-w", "-t", String(Int(timeout)), "start"]))
        let query =
            action == .promote
            ? "select not pg_is_in_recovery()" : "select pg_get_wal_replay_pause_state() = 'paused'"
        let deadline = started.addingTimeInterval(timeout)
        while Date() < deadline {
            if let connection = try? PGConnection(
                parameters: ["host": "/tmp", "port": String(port), "dbname": "postgres", "connect_timeout": "5"],
                context: "the restored server on port \(port)"),
                (try? connection.query(query))?.first?.first == "t"
            {
                return Date().timeIntervalSince(started)
            }
            if let pid = Self.postmasterPID(dir), kill(pid, 0) == 0 {
                // still recovering
            } else {
                let log = (try? String(contentsOfFile: dir + "/pgbak-recovery.log", encoding: .utf8)) ?? ""
                throw RestoreError(
                    problem: "the restored server stopped during recovery; the end of its log "
                        + "(\(dir)/pgbak-recovery.log):\n" + log.suffix(1500))
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw RestoreError(
            problem: "recovery did not finish within \(Int(timeout)) s; the server still runs (see "
                + "\(dir)/pgbak-recovery.log)")
    }

    static func postmasterPID(_ dir: String) -> pid_t? {
        (try? String(contentsOfFile: dir + "/postmaster.pid", encoding: .utf8))?.split(separator: "\n").first
            .flatMap { pid_t($0) }
    }
}
