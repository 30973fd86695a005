import CLibPQ
import Foundation

/// A PostgreSQL error: connection refused, authentication failed, a query failed.
public struct PostgresError: LocalizedError, Sendable {
    public var context: String
    public var message: String
    public var sqlState: String?

    public var errorDescription: String? { "\(context): \(message)" }
}

/// One libpq connection. The only place in pgbak that touches libpq's pointers.
public final class PGConnection: @unchecked Sendable {
    private let conn: OpaquePointer
    private let context: String

    /// Connects with libpq keyword/value parameters. `context` names the target and the credential in errors.
    public init(parameters: [String: String], context: String) throws {
        self.context = context
        var keys = Array(parameters.keys)
        keys.sort()
        let cKeys = keys.map { strdup($0) }
        let cValues = keys.map { strdup(parameters[$0]!) }
        defer {
            cKeys.forEach { free($0) }
            cValues.forEach { free($0) }
        }
        var keyPointers: [UnsafePointer<CChar>?] = cKeys.map { UnsafePointer($0) } + [nil]
        var valuePointers: [UnsafePointer<CChar>?] = cValues.map { UnsafePointer($0) } + [nil]
        guard let conn = PQconnectdbParams(&keyPointers, &valuePointers, 0) else {
            throw PostgresError(context: context, message: "libpq is out of memory")
        }
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(conn)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(conn)
            throw PostgresError(context: context, message: message)
        }
        self.conn = conn
    }

    deinit { PQfinish(conn) }

    /// Runs one statement with text parameters; returns rows of text values (nil for SQL NULL).
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) throws -> [[String?]] {
        let cParams = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { cParams.forEach { free($0) } }
        var pointers: [UnsafePointer<CChar>?] = cParams.map { $0.map { UnsafePointer($0) } }
        let result = pointers.withUnsafeMutableBufferPointer { buffer in
            PQexecParams(conn, sql, Int32(parameters.count), nil, buffer.baseAddress, nil, nil, 0)
        }
        guard let result else {
            throw PostgresError(context: context, message: String(cString: PQerrorMessage(conn)))
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
            let message = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            throw PostgresError(context: context, message: message, sqlState: state)
        }
        let rows = Int(PQntuples(result))
        let columns = Int(PQnfields(result))
        return (0..<rows).map { row in
            (0..<columns).map { column in
                PQgetisnull(result, Int32(row), Int32(column)) == 1
                    ? nil : String(cString: PQgetvalue(result, Int32(row), Int32(column)))
            }
        }
    }

    /// Quotes a value for a libpq connection string (`key='value'`).
    public static func quoteConnValue(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}
