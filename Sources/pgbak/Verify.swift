import ArgumentParser
import Foundation
import PgbakKit

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prove backups are intact (and, with --restore-test, that they restore).",
        discussion: """
            The default level reads every file once, extracts nothing and changes nothing: sizes and checksums against
            the manifest, no unlisted files, every zstd file to its end, every member of the base and tablespace
            archives against PostgreSQL's backup_manifest, every dump read to its end by pg_restore. Each outcome is
            recorded next to the backup (in its verification/ directory) and shows in `pgbak list`. The WAL archive is
            verified too: every file decompressed against its SHA-256, and no gap from the oldest kept backup to the
            newest segment along the timeline history. --restore-test also replays the archive to its end.

            Examples:
              pgbak verify                  # the newest backup
              pgbak verify 20261129T021500Z
              pgbak verify --all --json
              pgbak verify --latest --restore-test
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The backup to verify (default: the newest).")
    var id: String?

    @Flag(name: .long, help: "Verify the newest backup.")
    var latest = false

    @Flag(name: .long, help: "Verify every backup.")
    var all = false

    @Flag(name: .long, help: "Also restore the backup into a throw-away server and check it.")
    var restoreTest = false

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func validate() throws {
        if [id != nil, latest, all].filter({ $0 }).count > 1 {
            throw ValidationError("give one of: a backup id, --latest, --all")
        }
    }

    func run() async throws {
        let records: [VerificationRecord]
        var wal: WALVerification?
        let started = Date()
        var metricsContext: RunContext?
        do {
            let (context, progress) = try options.context(label: "verify", progress: !json)
            let selection: BackupSelection = all ? .all : id.map { .id($0) } ?? .latest
            metricsContext = context
            records = try await VerifyRun(context: context, restoreTest: restoreTest).execute(selection)
            context.progress?("verifying the WAL archive")
            wal = try WALVerifier.verify(
                context.walArchive, backups: try context.repository.backups(detail: .listing).backups)
            let ok = !records.contains { !$0.ok } && wal?.ok != false
            context.recordMetrics(command: "verify", success: ok, started: started, verifyOK: ok)
            progress.clear()
        } catch {
            metricsContext?.recordMetrics(command: "verify", success: false, started: started, verifyOK: false)
            throw fail(error)
        }
        if json {
            print((try? Listing.json(records)) ?? "[]")
        } else {
            for record in records {
                let steps = record.steps.map { String(format: "%@ %.1fs", $0.name, $0.seconds) }
                    .joined(separator: ", ")
                print("\(record.backupID)  \(record.level.rawValue)  \(record.ok ? "OK" : "FAILED")  (\(steps))")
                for problem in record.problems { print("  - \(problem)") }
                for note in record.notes ?? [] { print("  note: \(note)") }
            }
            if let wal {
                let span = wal.summary.newestSegment.map { ", newest \($0) on timeline \(wal.summary.timeline)" } ?? ""
                print(
                    "wal archive  \(wal.ok ? "OK" : "FAILED")  (\(wal.files) files, \(ByteFormat.text(wal.bytes)) read "
                        + String(format: "in %.1fs", wal.seconds) + span + ")")
                for problem in wal.problems { print("  - \(problem)") }
            }
        }
        if let wal, json, !wal.ok {
            FileHandle.standardError.write(
                Data(wal.problems.map { "pgbak: WAL archive: \($0)\n" }.joined().utf8))
        }
        if records.contains(where: { !$0.ok }) || wal?.ok == false { throw ExitCode(ExitStatus.failure.rawValue) }
    }
}
