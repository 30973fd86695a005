import Foundation

/// Dump files for pg_restore: decompressed to a seekable file (pg_restore -j and out-of-order restores need one).
enum DumpFile {
    /// Decompresses the backup's file `record` into a new 0600 file at `path`, checking the checksum the manifest
    /// recorded.
    static func decompress(_ files: BackupFiles, _ record: FileRecord, checkContent: Bool = true, to path: String)
        throws
    {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RestoreError(problem: "cannot create \(path): \(Errno.text())") }
        defer { close(fd) }
        let source = try files.open(record.path, size: record.bytes)
        try ZstdReader.decompress(
            source, name: files.describe(record.path), expected: checkContent ? record.checksum : nil
        ) { out in
            if let code = Errno.writeAll(fd, out) { throw RestoreError.cannotWrite(path, errno: code) }
        }
    }
}

/// `CREATE DATABASE` for a restored copy: from template0, with the encoding and locale the manifest recorded.
enum DatabaseCreation {
    static func sql(name: String, like db: Manifest.Database, owner: String? = nil) -> String {
        var sql =
            "create database \(SnapshotCounter.quote(name)) template template0 encoding \(literal(db.encoding)) "
            + "lc_collate \(literal(db.collate)) lc_ctype \(literal(db.ctype))"
        if let owner { sql += " owner \(SnapshotCounter.quote(owner))" }
        return sql
    }

    static func literal(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }
}
