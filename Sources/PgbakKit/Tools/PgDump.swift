import Foundation

/// Runs `pg_dump -Fc -Z0` for one database (or `pg_dumpall --globals-only`) and streams its output into a
/// zstd-compressed file.
public struct PgDump: Sendable {
    public var tools: PostgresTools
    public var target: ConnectionTarget
    public var environment: [String: String]
    public var lockWaitTimeoutSeconds: Int
    public var zstdLevel: Int
    public var zstdThreads: Int

    public func dumpArguments(database: String, snapshot: String? = nil) -> [String] {
        [
            "--format=custom", "--compress=0", "--no-password", "--lock-wait-timeout=\(lockWaitTimeoutSeconds)s",
            "--dbname=\(target.conninfo(database: database))",
        ] + (snapshot.map { ["--snapshot=\($0)"] } ?? [])
    }

    public var globalsArguments: [String] {
        ["--globals-only", "--no-password", "--dbname=\(target.conninfo(database: "postgres"))"]
    }

    /// Dumps `database` into the backup's file `relativePath`.
    public func dump(
        database: String, snapshot: String?, to staging: StagingArea, relativePath: String
    ) async throws -> FileRecord {
        try await stream(
            tool: "pg_dump", arguments: dumpArguments(database: database, snapshot: snapshot), to: staging,
            relativePath: relativePath)
    }

    /// Dumps roles and tablespaces into the backup's file `relativePath` (a secret: it holds password hashes).
    public func dumpGlobals(to staging: StagingArea, relativePath: String) async throws -> FileRecord {
        try await stream(tool: "pg_dumpall", arguments: globalsArguments, to: staging, relativePath: relativePath)
    }

    private func stream(
        tool: String, arguments: [String], to staging: StagingArea, relativePath: String
    ) async throws -> FileRecord {
        let writer = try ZstdWriter(
            sink: try staging.sink(relativePath), relativePath: relativePath, level: zstdLevel, threads: zstdThreads)
        do {
            let outcome = try await ChildProcess.run(
                ChildCommand(executable: tools.path(tool), arguments: arguments, environment: environment),
                stdout: { try writer.write($0) })
            guard outcome.succeeded else {
                throw ChildFailure(tool: tool, status: outcome.statusText, stderrTail: outcome.stderrTail)
            }
            return try writer.finish()
        } catch {
            writer.discard()
            throw error
        }
    }
}
