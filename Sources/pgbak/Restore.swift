import ArgumentParser
import Foundation
import PgbakKit

struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restore: re-seed a replica (--node), one database (--database), or a data directory (--datadir).",
        discussion: """
            Examples:
              pgbak restore --node node3                       # through Patroni, from the newest usable backup
              pgbak restore --node node3 --backup 20261129T021500Z
              pgbak restore --datadir /var/lib/postgresql/15/main          # Patroni stopped on this member
              pgbak restore --datadir /srv/dr --standalone --port 5499     # an independent server
              pgbak restore --database shop                    # shop was dropped: bring it back
              pgbak restore --database shop --as shop_yesterday
              pgbak restore --database shop --replace --globals
              pgbak restore --datadir /srv/pitr --standalone --to-time '2026-12-07 10:15:00+01'
              pgbak restore --datadir /srv/pitr --standalone --to-lsn 0/5000060 --dry-run
              pgbak restore --datadir /srv/pitr --standalone --to-latest --start
            """)

    @OptionGroup var options: GlobalOptions

    @Option(name: .long, help: "Re-seed this replica through Patroni.")
    var node: String?

    @Option(name: .long, help: "Restore this database from its dump into the current leader.")
    var database: String?

    @Option(name: .long, help: "Fill this data directory (Patroni stopped on this member).")
    var datadir: String?

    @Option(name: .long, help: "The backup to use (an id, or 'latest'); default: the newest usable one.")
    var backup: String?

    @Option(name: .customLong("as"), help: "With --database: restore under this new name.")
    var newName: String?

    @Flag(name: .long, help: "With --database: replace an existing database (restored beside it, then renamed).")
    var replace = false

    @Flag(name: .long, help: "With --database: first create the roles the backup has and the cluster lacks.")
    var globals = false

    @Option(name: .long, help: "With --database: pg_restore parallel jobs (default: by dump size).")
    var jobs: Int?

    @Flag(name: .long, help: "With --datadir: empty a non-empty data directory first.")
    var wipe = false

    @Flag(name: .long, help: "With --datadir: an independent server (own port, no archiving, no replication).")
    var standalone = false

    @Option(name: .long, help: "With --standalone: the port the server will listen on (localhost only).")
    var port: Int = 5499

    @OptionGroup(title: "Point-in-time recovery (with --datadir DIR --standalone)") var recovery: RecoveryTargetOptions

    @Option(name: .long, help: "With a target: promote (default) or pause when it is reached.")
    var targetAction: String = "promote"

    @Flag(name: .long, help: "With a target: print the plan (backup, timelines, WAL) and write nothing.")
    var dryRun = false

    @Flag(name: .long, help: "With a target: start the server and wait until it has recovered.")
    var start = false

    @Option(name: .long, help: "With --start: seconds to wait for recovery.")
    var recoveryTimeout: Int = 3600

    @Flag(name: .long, help: "Use a backup that is known damaged (failed verification, files missing or changed).")
    var force = false

    @Option(name: .long, help: "With --node: seconds to wait for the member to stream again.")
    var timeout: Int = 1800

    func validate() throws {
        let modes = [node != nil, database != nil, datadir != nil].filter { $0 }.count
        guard modes == 1 else { throw ValidationError("give exactly one of --node, --database, --datadir") }
        if database == nil && (newName != nil || replace || globals || jobs != nil) {
            throw ValidationError("--as, --replace, --globals and --jobs go with --database")
        }
        if datadir == nil && (wipe || standalone) { throw ValidationError("--wipe and --standalone go with --datadir") }
        if let jobs, !(1...64).contains(jobs) { throw ValidationError("--jobs must be 1...64") }
        if recovery.target != nil && !standalone {
            throw ValidationError("a recovery target goes with --datadir DIR --standalone (an independent server)")
        }
        if recovery.target == nil && (dryRun || start) {
            throw ValidationError("--dry-run and --start go with a recovery target")
        }
        if RecoveryTarget.Action(rawValue: targetAction) == nil {
            throw ValidationError("--target-action must be promote or pause")
        }
    }

    var backupID: String? { backup == "latest" ? nil : backup }

    func run() async throws {
        do {
            let (context, progress) = try options.context(label: "restore")
            if let database {
                let report = try await DatabaseRestore(context: context)
                    .execute(
                        .init(
                            database: database, newName: newName, backupID: backupID, replace: replace,
                            globals: globals, jobs: jobs, force: force))
                progress.clear()
                print(
                    "restored database \(database) from backup \(report.backupID) as \(report.target) in "
                        + String(format: "%.1f s", report.seconds)
                        + (report.rolesCreated.isEmpty
                            ? "" : "; created roles \(report.rolesCreated.joined(separator: ", "))")
                        + (report.previousRenamedTo.map { "; the previous \(report.target) is now \($0)" } ?? ""))
            } else if let node {
                let report = try await NodeRestore(context: context)
                    .execute(member: node, backupID: backupID, timeout: Double(timeout), force: force)
                progress.clear()
                let seconds = String(format: "%.1f s", report.seconds)
                guard let result = report.result, result.ok, result.backupID == report.backupID else {
                    let why =
                        report.result?.error.map { ": pgbak's replica method failed: \($0)" }
                        ?? ": Patroni did not run pgbak's replica method (is it first in create_replica_methods?)"
                    FileHandle.standardError.write(
                        Data(
                            ("pgbak: error: \(node) streams again after \(seconds), but "
                                + "Patroni fell back to another method (basebackup from the leader)\(why)\n").utf8))
                    throw ExitCode(ExitStatus.failure.rawValue)
                }
                let beside =
                    result.preparedSeed == true ? " (written beside its data directory as Patroni stopped it)" : ""
                print(
                    "re-seeded \(node) from backup \(report.backupID) through Patroni\(beside); streaming again after "
                        + seconds)
            } else if let datadir, let target = recovery.target {
                try await pointInTime(context: context, datadir: datadir, target: target)
            } else if let datadir {
                let restore = DirectRestore(context: context)
                if standalone {
                    let report = try await restore.standalone(
                        dataDirectory: datadir, backupID: backupID, wipe: wipe, port: port, force: force)
                    print(
                        "materialized backup \(report.backupID) in \(datadir) as an independent server ("
                            + String(format: "%.1f s", report.seconds) + "); start it with: pg_ctl -D \(datadir) start "
                            + "(port \(port), localhost only; archiving and replication off)")
                } else {
                    let report = try await restore.replica(
                        dataDirectory: datadir, backupID: backupID, wipe: wipe, force: force)
                    print(
                        "filled \(datadir) from backup \(report.backupID) (" + String(format: "%.1f s", report.seconds)
                            + "); start Patroni on this member and it comes back as a replica")
                }
            }
        } catch {
            throw fail(error)
        }
    }

    func pointInTime(context: RunContext, datadir: String, target: RecoveryTarget) async throws {
        let restore = PointInTimeRestore(context: context)
        let plan = try restore.plan(target: target, backupID: backupID)
        let wal =
            plan.firstSegment.map { first in
                "WAL \(first.name)..\(plan.lastSegment?.name ?? first.name) (\(plan.segments) segments, "
                    + String(format: "%.1f MB", Double(plan.archivedBytes) / 1e6) + " compressed in the archive)"
            } ?? "no archived WAL (the backup's own)"
        let timelines = plan.timelines.map(String.init).joined(separator: " -> ")
        print("plan: backup \(plan.backupID), timelines \(timelines), \(wal), recover to \(target)")
        if dryRun { return }
        let report = try await restore.execute(
            plan, dataDirectory: datadir, wipe: wipe, port: port,
            action: RecoveryTarget.Action(rawValue: targetAction) ?? .promote, force: force, start: start,
            timeout: Double(recoveryTimeout))
        let seconds = String(format: "%.1f s", report.materialized.seconds)
        if let after = report.recoveredAfter {
            print(
                "recovered \(datadir) from backup \(plan.backupID) to \(target): materialized in \(seconds), "
                    + String(format: "recovered %.1f s later", after) + "; the server runs on port \(port)")
        } else {
            print(
                "materialized backup \(plan.backupID) in \(datadir) (\(seconds)) to recover to \(target); start it with: "
                    + "pg_ctl -D \(datadir) start (port \(port), localhost only; archiving and replication off)")
        }
    }
}
