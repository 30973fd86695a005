import Foundation

/// A table pg_dump dumps, with its row count as seen by the dump's own snapshot (nil when not counted).
public struct TableCount: Codable, Sendable, Equatable {
    public var schema: String
    public var name: String
    public var rows: Int64?
    /// Why `rows` is missing, e.g. "larger than dumps.count_rows_max_table_mb".
    public var note: String?
}

/// Holds a REPEATABLE READ transaction whose snapshot pg_dump imports (`--snapshot`), and counts the rows of every
/// table in exactly that snapshot, so that a restored dump can be checked against what was dumped even while the
/// database takes writes.
public final class SnapshotCounter: @unchecked Sendable {
    private let connection: PGConnection
    public let snapshotID: String

    static let tablesSQL = """
        select n.nspname, c.relname, pg_relation_size(c.oid)::text
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind = 'r' and n.nspname <> 'information_schema' and n.nspname not like 'pg\\_%'
          and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid
                          and d.deptype = 'e')
        order by 1, 2
        """

    /// `lockTimeoutSeconds` bounds each count's wait for a table lock (a migration holding ACCESS EXCLUSIVE).
    public init(connection: PGConnection, lockTimeoutSeconds: Int) throws {
        self.connection = connection
        try connection.query("set lock_timeout = '\(lockTimeoutSeconds)s'")
        try connection.query("begin isolation level repeatable read read only")
        guard let id = try connection.query("select pg_export_snapshot()").first?.first ?? nil else {
            throw PostgresError(context: "exporting a snapshot", message: "no snapshot id returned")
        }
        snapshotID = id
    }

    /// Counts every dumped table no larger than `maxTableBytes` (blocking; run it off the cooperative pool).
    public func count(maxTableBytes: Int64) throws -> [TableCount] {
        try connection.query(Self.tablesSQL).map { row in
            let schema = row[0] ?? "", name = row[1] ?? ""
            let size = Int64(row[2] ?? "") ?? 0
            guard size <= maxTableBytes else {
                return TableCount(
                    schema: schema, name: name, rows: nil,
                    note: "not counted: \(ByteFormat.text(size)) is larger than dumps.count_rows_max_table_mb")
            }
            let sql = "select count(*)::text from only \(Self.quote(schema)).\(Self.quote(name))"
            // A savepoint keeps the transaction, and so the exported snapshot, alive if one count fails.
            try connection.query("savepoint pgbak_count")
            do {
                let rows = try connection.query(sql).first?.first ?? nil
                try connection.query("release savepoint pgbak_count")
                return TableCount(schema: schema, name: name, rows: rows.flatMap { Int64($0) }, note: nil)
            } catch let error as PostgresError {
                try connection.query("rollback to savepoint pgbak_count")
                return TableCount(schema: schema, name: name, rows: nil, note: "not counted: \(error.message)")
            }
        }
    }

    /// Ends the transaction (the snapshot stays valid until then).
    public func finish() {
        _ = try? connection.query("commit")
    }

    static func quote(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// Runs blocking work (libpq calls) on a thread of its own, so the cooperative pool keeps streaming.
public enum Blocking {
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                do {
                    continuation.resume(returning: try body())
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.start()
        }
    }
}
