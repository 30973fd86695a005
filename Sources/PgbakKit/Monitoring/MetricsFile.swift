import Foundation

/// Prometheus metrics in node_exporter's textfile-collector format, written atomically (a temporary file renamed
/// into place) as `pgbak-<scope>-<command>.prom` after every `now`, `verify`, `prune` and `status`.
public struct MetricsFile: Sendable {
    public var directory: String
    public var scope: String

    public init(directory: String, scope: String) {
        self.directory = directory
        self.scope = scope
    }

    /// The text for one command's run.
    public static func render(
        scope: String, command: String, success: Bool, finished: Date, seconds: Double,
        bytes: Int64?, backups: [StoredBackup], verifyOK: Bool?, archive: WALArchiveSummary? = nil
    ) -> String {
        let labels = "scope=\"\(escape(scope))\",command=\"\(command)\""
        var lines = [
            "# HELP pgbak_last_run_success Whether the last run of the command succeeded (1) or failed (0).",
            "# TYPE pgbak_last_run_success gauge",
            "pgbak_last_run_success{\(labels)} \(success ? 1 : 0)",
            "# HELP pgbak_last_run_timestamp_seconds When the last run of the command ended.",
            "# TYPE pgbak_last_run_timestamp_seconds gauge",
            "pgbak_last_run_timestamp_seconds{\(labels)} \(Int(finished.timeIntervalSince1970))",
            "# HELP pgbak_last_run_duration_seconds How long the last run of the command took.",
            "# TYPE pgbak_last_run_duration_seconds gauge",
            "pgbak_last_run_duration_seconds{\(labels)} \(String(format: "%.3f", seconds))",
        ]
        if success {
            lines += [
                "# HELP pgbak_last_success_timestamp_seconds When the command last succeeded.",
                "# TYPE pgbak_last_success_timestamp_seconds gauge",
                "pgbak_last_success_timestamp_seconds{\(labels)} \(Int(finished.timeIntervalSince1970))",
            ]
        }
        if let bytes {
            lines += [
                "# HELP pgbak_last_backup_bytes Size of the backup the last run took.",
                "# TYPE pgbak_last_backup_bytes gauge", "pgbak_last_backup_bytes{\(labels)} \(bytes)",
            ]
        }
        let complete = backups.filter { $0.manifest.status == .complete }.count
        lines += [
            "# HELP pgbak_backups Backups in the repository, by status.", "# TYPE pgbak_backups gauge",
            "pgbak_backups{\(labels),status=\"complete\"} \(complete)",
            "pgbak_backups{\(labels),status=\"partial\"} \(backups.count - complete)",
        ]
        if let verifyOK {
            lines += [
                "# HELP pgbak_last_verify_ok Whether the last verification passed.",
                "# TYPE pgbak_last_verify_ok gauge", "pgbak_last_verify_ok{\(labels)} \(verifyOK ? 1 : 0)",
            ]
        }
        if let archive {
            lines += [
                "# HELP pgbak_wal_archive_gaps Gaps in the WAL archive since the oldest kept backup (0 when continuous).",
                "# TYPE pgbak_wal_archive_gaps gauge",
                "pgbak_wal_archive_gaps{\(labels)} \(archive.gaps.count + archive.missingHistories.count)",
                "# HELP pgbak_wal_archive_files Files in the WAL archive.", "# TYPE pgbak_wal_archive_files gauge",
                "pgbak_wal_archive_files{\(labels)} \(archive.files)",
            ]
            if let window = archive.window {
                lines += [
                    "# HELP pgbak_recoverable_earliest_timestamp_seconds The earliest moment a restore can reach.",
                    "# TYPE pgbak_recoverable_earliest_timestamp_seconds gauge",
                    "pgbak_recoverable_earliest_timestamp_seconds{\(labels)} \(Int(window.earliest.timeIntervalSince1970))",
                    "# HELP pgbak_recoverable_latest_timestamp_seconds When the newest archived WAL was archived.",
                    "# TYPE pgbak_recoverable_latest_timestamp_seconds gauge",
                    "pgbak_recoverable_latest_timestamp_seconds{\(labels)} \(Int(window.latest.timeIntervalSince1970))",
                ]
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    /// Writes `text` as this command's file, atomically.
    public func write(command: String, text: String) throws {
        let name = "pgbak-\(scope.replacingOccurrences(of: "/", with: "_"))-\(command).prom"
        let temporary = "\(directory)/.\(name).\(getpid())"
        do {
            try text.write(toFile: temporary, atomically: false, encoding: .utf8)
            chmod(temporary, 0o644)
        } catch {
            throw RepositoryError(
                path: directory,
                problem: "cannot write metrics (metrics.textfile_dir): "
                    + error.localizedDescription)
        }
        guard rename(temporary, "\(directory)/\(name)") == 0 else {
            unlink(temporary)
            throw RepositoryError(path: directory, problem: "cannot write metrics: \(Errno.text())")
        }
    }
}

extension RunContext {
    /// Writes this command's metrics file when `metrics.textfile_dir` is set; a failure to write is logged, never
    /// fatal (monitoring must not break backups).
    /// `backups` and `archive` (a summary, or nil for no archive), when the command has them at hand, are not read
    /// again.
    public func recordMetrics(
        command: String, success: Bool, started: Date, bytes: Int64? = nil,
        verifyOK: Bool? = nil, backups known: [StoredBackup]? = nil, archive: WALArchiveSummary?? = nil
    ) {
        guard let directory = config.metricsDirectory else { return }
        let backups = known ?? (try? repository.backups(detail: .listing).backups) ?? []
        let text = MetricsFile.render(
            scope: config.scope, command: command, success: success, finished: Date(),
            seconds: Date().timeIntervalSince(started), bytes: bytes, backups: backups,
            verifyOK: verifyOK, archive: archive ?? (try? walArchiveSummary(backups: backups)))
        do {
            try MetricsFile(directory: directory, scope: config.scope).write(command: command, text: text)
        } catch {
            logger.warning("metrics not written", metadata: ["error": "\(error.localizedDescription)"])
        }
    }
}
