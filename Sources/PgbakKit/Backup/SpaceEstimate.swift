/// How much room a new backup needs, from database sizes and the last complete backup.
public enum SpaceEstimate {
    /// Extra room for pg_wal.tar, which pg_basebackup writes uncompressed before pgbak compresses it.
    static let walHeadroom: Int64 = 256 << 20

    /// With a previous backup: its size scaled by how much the databases grew, plus a quarter. Without one: the
    /// databases' on-disk size (compression is not counted on).
    public static func requiredBytes(
        databaseBytes: Int64, lastBackupBytes: Int64?,
        lastDatabaseBytes: Int64?
    ) -> Int64 {
        guard let lastBackupBytes, let lastDatabaseBytes, lastDatabaseBytes > 0, lastBackupBytes > 0 else {
            return databaseBytes + walHeadroom
        }
        let growth = max(1.0, Double(databaseBytes) / Double(lastDatabaseBytes))
        return Int64(Double(lastBackupBytes) * growth * 1.25) + walHeadroom
    }
}
