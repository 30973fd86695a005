/// Which statements of a `pg_dumpall --globals-only` script recreate the roles a cluster lacks. Pure: it never
/// touches an existing role (its password and attributes stay as they are, and Patroni's superuser, replication
/// and rewind roles always exist on a running cluster, so they are never changed).
public enum GlobalsPlan {
    /// Statements for the roles in `script` that are not in `existing`: CREATE ROLE, its ALTER ROLE lines, and the
    /// memberships granted to it.
    public static func statements(script: String, existing: Set<String>) -> (roles: [String], statements: [String]) {
        let lines = script.split(separator: "\n").map(String.init)
        var missing: [String] = []
        var missingIdentifiers: [String] = []
        for line in lines where line.hasPrefix("CREATE ROLE ") && line.hasSuffix(";") {
            let identifier = String(line.dropFirst("CREATE ROLE ".count).dropLast())
            let name = unquote(identifier)
            if !existing.contains(name) {
                missing.append(name)
                missingIdentifiers.append(identifier)
            }
        }
        var statements: [String] = []
        for identifier in missingIdentifiers {
            statements.append("CREATE ROLE \(identifier);")
            statements += lines.filter { $0.hasPrefix("ALTER ROLE \(identifier) ") && $0.hasSuffix(";") }
        }
        for line in lines where line.hasPrefix("GRANT ") && line.hasSuffix(";") {
            guard let to = line.range(of: " TO ") else { continue }
            let rest = line[to.upperBound...]
            let grantee = rest.split(separator: " ").first.map { String($0).replacingOccurrences(of: ";", with: "") }
            if let grantee, missingIdentifiers.contains(grantee) { statements.append(line) }
        }
        return (missing, statements)
    }

    static func unquote(_ identifier: String) -> String {
        guard identifier.hasPrefix("\""), identifier.hasSuffix("\""), identifier.count >= 2 else { return identifier }
        return String(identifier.dropFirst().dropLast()).replacingOccurrences(of: "\"\"", with: "\"")
    }
}

/// SQL that gives a restored database the settings and privileges its source had.
public enum DatabaseProperties {
    /// Settings whose values are lists and are stored already quoted (`search_path="$user", public`).
    static let listSettings: Set<String> = [
        "search_path", "temp_tablespaces", "session_preload_libraries",
        "local_preload_libraries", "shared_preload_libraries",
    ]

    public static func statements(
        database: String, settings: [DatabaseSetting],
        grants: [DatabaseGrant]?
    ) -> [String] {
        let db = SnapshotCounter.quote(database)
        var sql: [String] = []
        for s in settings {
            guard let eq = s.setting.firstIndex(of: "=") else { continue }
            let name = String(s.setting[..<eq])
            let value = String(s.setting[s.setting.index(after: eq)...])
            let rendered = listSettings.contains(name) ? value : DatabaseCreation.literal(value)
            if let role = s.role {
                sql.append("ALTER ROLE \(SnapshotCounter.quote(role)) IN DATABASE \(db) SET \(name) = \(rendered)")
            } else {
                sql.append("ALTER DATABASE \(db) SET \(name) = \(rendered)")
            }
        }
        if let grants {
            sql.append("REVOKE ALL ON DATABASE \(db) FROM PUBLIC")
            for g in grants {
                let grantee = g.grantee == "PUBLIC" ? "PUBLIC" : SnapshotCounter.quote(g.grantee)
                sql.append(
                    "GRANT \(g.privilege) ON DATABASE \(db) TO \(grantee)" + (g.grantable ? " WITH GRANT OPTION" : ""))
            }
        }
        return sql
    }
}
