import Foundation

/// Checks the members of pg_basebackup's tar archives against PostgreSQL's `backup_manifest` while they stream by —
/// what `pg_verifybackup` checks, without extracting anything. pg_basebackup's own zstd output carries no frame
/// checksum, so this is what catches a corrupted base archive.
public final class ArchiveChecker {
    private let manifest: PostgresBackupManifest
    private var seen: Set<String> = []
    public private(set) var problems: [String] = []

    private var current: TarReader.Member?
    private var currentPath = ""
    private var bytes: Int64 = 0
    private var hasher = ContentHasher(.crc32c)
    private var prefix = ""

    public init(manifest: PostgresBackupManifest) {
        self.manifest = manifest
    }

    /// A reader for one archive: `prefix` is where its members live in the data directory ("" for base.tar,
    /// "pg_tblspc/<oid>/" for a tablespace).
    public func reader(prefix: String) -> TarReader {
        self.prefix = prefix
        return TarReader(
            onMember: { [unowned self] member in start(member) },
            onData: { [unowned self] data in update(data) },
            onMemberEnd: { [unowned self] in end() })
    }

    private func start(_ member: TarReader.Member) {
        current = member.isRegularFile ? member : nil
        currentPath = prefix + member.name
        bytes = 0
        hasher = ContentHasher(manifest.entries[currentPath]?.algorithm == "SHA256" ? .sha256 : .crc32c)
    }

    private func update(_ data: UnsafeRawBufferPointer) {
        guard current != nil else { return }
        bytes += Int64(data.count)
        hasher.update(data)
    }

    private func end() {
        guard current != nil else { return }
        current = nil
        guard let entry = manifest.entries[currentPath] else {
            // pg_basebackup does not list WAL or the manifest itself.
            if !currentPath.hasPrefix("pg_wal/") {
                problems.append("\(currentPath) is in the archive but not in backup_manifest")
            }
            return
        }
        seen.insert(currentPath)
        guard bytes == entry.size else {
            problems.append("\(currentPath): \(bytes) bytes in the archive, \(entry.size) in backup_manifest")
            return
        }
        let actual: String?
        switch entry.algorithm {
        case "CRC32C": actual = hasher.finalize().postgresManifestHex
        case "SHA256": actual = hasher.finalize().hex
        default: actual = nil  // NONE, or an algorithm checked only by pg_verifybackup: size was checked
        }
        if let actual, let expected = entry.checksum, actual != expected {
            problems.append("\(currentPath): checksum \(actual) differs from backup_manifest's \(expected)")
        }
    }

    /// Entries of backup_manifest no archive contained (call after every archive was read).
    public func missing(prefixes: [String]) -> [String] {
        manifest.entries.keys.filter { path in
            !seen.contains(path)
                && prefixes.contains { p in p.isEmpty ? !path.hasPrefix("pg_tblspc/") : path.hasPrefix(p) }
        }.sorted()
    }
}
