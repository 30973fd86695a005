import Foundation

/// What pg_basebackup's `backup_manifest` says about the WAL the backup needs.
public struct WALRange: Sendable, Equatable {
    public var startLSN: String
    public var stopLSN: String
    public var startTimeline: Int
    public var stopTimeline: Int

    /// Reads `WAL-Ranges` from a PostgreSQL backup manifest.
    public static func parse(backupManifest data: Data) throws -> WALRange {
        struct Range: Decodable {
            var Timeline: Int
            var startLSN: String
            var endLSN: String
            enum CodingKeys: String, CodingKey {
                case Timeline
                case startLSN = "Start-LSN"
                case endLSN = "End-LSN"
            }
        }
        struct PGManifest: Decodable {
            var ranges: [Range]
            enum CodingKeys: String, CodingKey { case ranges = "WAL-Ranges" }
        }
        // The ranges come after the list of every file: decoding only them spares parsing the list (about 2 ms for
        // a cluster of 1.5 GB); the whole manifest is decoded when they cannot be cut out.
        let manifest =
            try (try? JSONDecoder().decode(PGManifest.self, from: walRanges(in: data)))
            ?? JSONDecoder().decode(PGManifest.self, from: data)
        // Ranges are listed newest timeline first.
        guard let newest = manifest.ranges.first, let oldest = manifest.ranges.last else {
            throw ToolError(problem: "backup_manifest lists no WAL ranges")
        }
        return WALRange(
            startLSN: oldest.startLSN, stopLSN: newest.endLSN, startTimeline: oldest.Timeline,
            stopTimeline: newest.Timeline)
    }
}

/// `{"WAL-Ranges": [...]}` cut out of a backup manifest; empty when the key is missing. The ranges hold no brackets
/// inside strings, so the first `]` after the key closes the list.
private func walRanges(in data: Data) -> Data {
    guard let key = data.range(of: Data(#""WAL-Ranges""#.utf8)),
        let end = data[key.upperBound...].firstIndex(of: UInt8(ascii: "]"))
    else { return Data() }
    return Data("{".utf8) + data[key.lowerBound...end] + Data("}".utf8)
}

/// Runs `pg_basebackup -Ft -X stream` with client-side zstd into a directory.
public struct PgBaseBackup: Sendable {
    public var tools: PostgresTools
    public var target: ConnectionTarget
    public var environment: [String: String]
    public var checkpoint: PgbakConfig.Checkpoint
    public var maxRate: String?
    public var zstdLevel: Int
    public var zstdThreads: Int
    public var label: String
    /// The backup_manifest of the backup to take an incremental one against (`--incremental`, PostgreSQL 17+).
    public var incrementalManifest: String? = nil

    /// `--progress` makes the server size the data directory before it sends anything: asked for only when
    /// someone watches.
    /// pg_basebackup 13 and 14 cannot compress with zstd (`clientZstd` false): their tars are compressed by pgbak
    /// once they are written.
    func arguments(directory: String, progress: Bool, clientZstd: Bool = true) -> [String] {
        var args = [
            "--pgdata", directory, "--format=tar", "--wal-method=stream", "--checkpoint=\(checkpoint.rawValue)",
            "--label=\(label)", "--no-password", "--verbose",
        ]
        if clientZstd {
            args.append(
                "--compress=client-zstd:level=\(zstdLevel)" + (zstdThreads > 0 ? ",workers=\(zstdThreads)" : ""))
        }
        args.append("--dbname=\(target.conninfo(replication: true))")
        if let maxRate { args.append("--max-rate=\(maxRate)") }
        if let incrementalManifest { args.append("--incremental=\(incrementalManifest)") }
        if progress { args.append("--progress") }
        return args
    }

    /// What pg_basebackup prints at --verbose once it has received everything: its WAL receiver has exited, the
    /// server connection is closed, and it goes on to fsync what it wrote (children run with LC_MESSAGES=C).
    static let receivedLine = "syncing data to disk ..."

    /// The server's refusal of an incremental backup (no WAL summaries, summaries not reaching back to the earlier
    /// backup, a manifest of another cluster or timeline), from pg_basebackup's stderr; nil for other failures. These
    /// are raised when the backup starts, before any file is sent.
    static func incrementalRefusal(_ stderr: String) -> String? {
        let markers = [
            "WAL summar", "summarize_wal", "incremental backup", "backup manifest", "manifest requires WAL",
            "system identifier in backup manifest",
        ]
        let lines = stderr.split(separator: "\n").map(String.init)
        guard
            let line = lines.first(where: { line in line.contains("error") && markers.contains { line.contains($0) } })
        else { return nil }
        // "pg_basebackup: error: could not initiate base backup: ERROR:  <the server's reason>"
        let reason = line.range(of: "ERROR:").map { line[$0.upperBound...] } ?? Substring(line)
        return reason.trimmingCharacters(in: .whitespaces)
    }

    /// Backs up into `directory` (which must not exist yet). `progress`, when given, receives pg_basebackup's
    /// progress and --verbose lines; `received` is called once every file is complete and written, before
    /// pg_basebackup fsyncs them and renames its manifest.
    public func run(
        into directory: String, progress: (@Sendable (String) -> Void)?, received: @escaping @Sendable () -> Void = {}
    ) async throws {
        // Tools started before their version was asked (an early start) are asked now: a few milliseconds.
        let major =
            tools.majorVersion > 0
            ? tools.majorVersion : (try await PostgresTools.probe(tools.binDir))?.majorVersion ?? 0
        let outcome = try await ChildProcess.run(
            ChildCommand(
                executable: tools.path("pg_basebackup"),
                arguments: arguments(directory: directory, progress: progress != nil, clientZstd: major >= 15),
                environment: environment),
            stderrLine: { line in
                if line.hasSuffix(Self.receivedLine) { received() }
                progress?(line)
            })
        guard outcome.succeeded else {
            throw ChildFailure(tool: "pg_basebackup", status: outcome.statusText, stderrTail: outcome.stderrTail)
        }
    }
}
