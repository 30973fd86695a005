import Foundation

/// What the database itself says about the server pgbak is about to back up.
public struct ServerIdentity: Sendable, Equatable, Codable {
    public var inRecovery: Bool
    public var systemIdentifier: String
    /// The current timeline, read from the WAL file name of the current insert position (right after a promotion,
    /// `pg_control_checkpoint()` still shows the old one).
    public var timeline: Int?
    public var versionNumber: Int
    public var version: String

    public var majorVersion: Int { versionNumber / 10000 }

    static let sql = """
        select pg_is_in_recovery(), (select system_identifier::text from pg_control_system()),
               current_setting('server_version_num'), current_setting('server_version'),
               case when pg_is_in_recovery() then null
                    else substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) end
        """

    public static func read(_ connection: PGConnection) throws -> ServerIdentity {
        let row = try connection.query(sql).first ?? []
        guard row.count == 5, let recovery = row[0], let sysid = row[1], let num = row[2].flatMap({ Int($0) }),
            let version = row[3]
        else {
            throw PostgresError(context: "reading the server identity", message: "unexpected answer \(row)")
        }
        return ServerIdentity(
            inRecovery: recovery == "t", systemIdentifier: sysid,
            timeline: row[4].flatMap { Int($0, radix: 16) }, versionNumber: num, version: version)
    }
}

/// One database as the catalog describes it.
public struct DatabaseInfo: Sendable, Equatable, Codable {
    public var oid: UInt32
    public var name: String
    public var owner: String
    public var encoding: String
    public var collate: String
    public var ctype: String
    public var collationVersion: String?
    public var sizeBytes: Int64
    /// `ALTER DATABASE ... SET` (role nil) and `ALTER ROLE ... IN DATABASE ... SET` settings.
    public var settings: [DatabaseSetting] = []
    /// Privileges on the database; nil means the default (no explicit ACL).
    public var grants: [DatabaseGrant]?

    static let sql = """
        select d.oid::text, d.datname, pg_get_userbyid(d.datdba), pg_encoding_to_char(d.encoding),
               d.datcollate, d.datctype, to_jsonb(d) ->> 'datcollversion', pg_database_size(d.oid)::text,
               (select coalesce(json_agg(json_build_object(
                          'role', case when s.setrole = 0 then null else pg_get_userbyid(s.setrole) end,
                          'setting', c)), '[]')
                from pg_db_role_setting s, unnest(s.setconfig) c where s.setdatabase = d.oid)::text,
               case when d.datacl is null then null else
                 (select coalesce(json_agg(json_build_object(
                          'grantee', case when a.grantee = 0 then 'PUBLIC' else pg_get_userbyid(a.grantee) end,
                          'privilege', a.privilege_type, 'grantable', a.is_grantable)), '[]')
                  from aclexplode(d.datacl) a)::text end
        from pg_database d
        where not d.datistemplate and d.datallowconn
        order by d.datname
        """

    /// Databases that can be dumped: not templates, and allowing connections.
    public static func list(_ connection: PGConnection) throws -> [DatabaseInfo] {
        try connection.query(sql).map { r in
            DatabaseInfo(
                oid: UInt32(r[0] ?? "") ?? 0, name: r[1] ?? "", owner: r[2] ?? "", encoding: r[3] ?? "",
                collate: r[4] ?? "", ctype: r[5] ?? "", collationVersion: r[6],
                sizeBytes: Int64(r[7] ?? "") ?? 0,
                settings: (try? JSONDecoder().decode([DatabaseSetting].self, from: Data((r[8] ?? "[]").utf8))) ?? [],
                grants: r[9].flatMap { try? JSONDecoder().decode([DatabaseGrant].self, from: Data($0.utf8)) })
        }
    }

    /// Applies `include` (empty = all) and `exclude`.
    public static func select(_ all: [DatabaseInfo], include: [String], exclude: [String]) -> [DatabaseInfo] {
        all.filter { (include.isEmpty || include.contains($0.name)) && !exclude.contains($0.name) }
    }
}

/// One database-level setting, for one role (`role`) or for everyone (nil).
public struct DatabaseSetting: Codable, Sendable, Equatable {
    public var role: String?
    /// `name=value`, as `pg_db_role_setting` stores it.
    public var setting: String
}

/// One privilege on a database.
public struct DatabaseGrant: Codable, Sendable, Equatable {
    public var grantee: String
    public var privilege: String
    public var grantable: Bool
}
