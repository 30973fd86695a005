import ArgumentParser
import Foundation
import Logging
import PgbakKit

struct Now: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Take a backup now: physical (pg_basebackup) and logical (pg_dump per database + globals).",
        discussion: """
            Asks Patroni which member leads, confirms it on the database, backs it up into a staging directory,
            writes the manifest, publishes the backup atomically and applies retention.

            Examples:
              pgbak now
              pgbak now --config /etc/pgbak/pgbak.yml --log-level info
              pgbak now --physical-only        # no dumps: faster; restore --database needs another backup
              pgbak now --full                 # a full base backup even when base_backup.incremental is on
            """)

    @OptionGroup var options: GlobalOptions

    @Flag(name: .long, help: "Take only the physical backup; the logical part is recorded as skipped.")
    var physicalOnly = false

    @Flag(
        name: .long,
        help:
            "Take a full base backup even when base_backup.incremental would take an incremental one (PostgreSQL 17+).")
    var full = false

    func run() async throws {
        let context: RunContext
        let progress: ProgressLine
        do {
            (context, progress) = try options.context(label: "now")
        } catch {
            throw fail(error)
        }
        let run = BackupRun(context: context, physicalOnly: physicalOnly, forceFull: full)
        let task = Task { try await run.execute() }
        let trap = SignalTrap { task.cancel() }
        let started = Date()
        let outcome: BackupOutcome
        do {
            outcome = try await task.value
            progress.clear()
        } catch {
            progress.clear()
            context.recordMetrics(command: "now", success: false, started: started)
            if let status = trap.exitStatus {
                FileHandle.standardError.write(Data("pgbak: interrupted; children stopped, staging removed\n".utf8))
                throw ExitCode(status.rawValue)
            }
            throw fail(error)
        }
        let seconds = String(format: "%.1f", Date().timeIntervalSince(started))
        switch outcome {
        case .complete(let manifest, _):
            context.recordMetrics(command: "now", success: true, started: started, bytes: manifest.totalBytes)
        case .partial(let manifest):
            context.recordMetrics(command: "now", success: false, started: started, bytes: manifest.totalBytes)
        case .skipped:
            break
        }
        switch outcome {
        case .skipped(let message):
            print("pgbak: \(message)")
        case .complete(let manifest, let pruned):
            print(
                "backup \(manifest.backupID) complete: leader \(manifest.leader.name), timeline "
                    + "\(manifest.cluster.timeline), \(manifest.logical.databases.count) databases, "
                    + "\(manifest.totalBytes) bytes in \(seconds) s" + Self.baseBackupKind(manifest)
                    + (pruned.isEmpty ? "" : "; retention removed \(pruned.joined(separator: ", "))"))
        case .partial(let manifest):
            let failed = manifest.logical.databases.filter { $0.status == .failed }.map(\.name)
            let skipped = manifest.logical.databases.filter { $0.status == .skipped }
            var what = failed.isEmpty ? [String]() : ["dumps failed for " + failed.joined(separator: ", ")]
            if let first = skipped.first {
                what.append(
                    "not dumped: " + skipped.map(\.name).joined(separator: ", ") + " (" + (first.error ?? "") + ")")
            }
            print(
                "backup \(manifest.backupID) PARTIAL: physical part complete, "
                    + (what.isEmpty ? "the globals dump failed" : what.joined(separator: "; ")) + "; retention not run")
            throw ExitCode(ExitStatus.partial.rawValue)
        }
    }
}

extension Now {
    /// "; incremental on <parent>" or "; full base backup: <why>" when incremental backups are on.
    static func baseBackupKind(_ manifest: Manifest) -> String {
        if let link = manifest.physical.incremental {
            return "; base backup incremental on \(link.parent) (chain of full \(link.full), depth \(link.depth))"
        }
        return manifest.physical.fullReason.map { "; full base backup: \($0)" } ?? ""
    }
}

/// One self-overwriting progress line on stderr, only on a terminal.
final class ProgressLine: @unchecked Sendable {
    let enabled: Bool
    private let lock = NSLock()

    init(enabled: Bool) { self.enabled = enabled }

    /// Passed to the library only when `enabled`.
    var show: @Sendable (String) -> Void {
        { [self] text in
            lock.withLock { FileHandle.standardError.write(Data(("\r\u{1B}[K" + text).utf8)) }
        }
    }

    func clear() {
        guard enabled else { return }
        lock.withLock { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
