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
        let manifest = try JSONDecoder().decode(PGManifest.self, from: data)
        // Ranges are listed newest timeline first.
        guard let newest = manifest.ranges.first, let oldest = manifest.ranges.last else {
            throw ToolError(problem: "backup_manifest lists no WAL ranges")
        }
        return WALRange(
            startLSN: oldest.startLSN, stopLSN: newest.endLSN, startTimeline: oldest.Timeline,
            stopTimeline: newest.Timeline)
    }
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

    /// `--progress` makes the server size the data directory before it sends anything: asked for only when
    /// someone watches.
    func arguments(directory: String, progress: Bool) -> [String] {
        var args = [
            "--pgdata", directory, "--format=tar", "--wal-method=stream", "--checkpoint=\(checkpoint.rawValue)",
            "--label=\(label)", "--no-password",
            "--compress=client-zstd:level=\(zstdLevel)" + (zstdThreads > 0 ? ",workers=\(zstdThreads)" : ""),
            "--dbname=\(target.conninfo(replication: true))",
        ]
        if let maxRate { args.append("--max-rate=\(maxRate)") }
        if progress { args.append("--progress") }
        return args
    }

    /// Backs up into `directory` (which must not exist yet). `progress`, when given, receives pg_basebackup's
    /// progress lines.
    public func run(into directory: String, progress: (@Sendable (String) -> Void)?) async throws {
        let outcome = try await ChildProcess.run(
            ChildCommand(
                executable: tools.path("pg_basebackup"),
                arguments: arguments(directory: directory, progress: progress != nil), environment: environment),
            stderrLine: progress ?? { _ in })
        guard outcome.succeeded else {
            throw ChildFailure(tool: "pg_basebackup", status: outcome.statusText, stderrTail: outcome.stderrTail)
        }
    }
}
