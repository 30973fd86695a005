import Foundation

/// Where a materialized backup's tablespaces go.
public enum TablespacePlacement: Sendable, Equatable {
    /// At the paths `tablespace_map` names (a replica: the same paths on every member).
    case asRecorded
    /// Under this directory as `<dir>/<oid>`, with `tablespace_map` rewritten (a scratch copy, a standalone copy):
    /// never at the source's paths, which may be live on this host.
    case remapped(under: String)

    /// Where tablespace `oid`, recorded at `path`, goes.
    func target(oid: String, recordedAt path: String) -> String {
        switch self {
        case .asRecorded: return path
        case .remapped(let dir): return dir + "/" + oid
        }
    }
}

/// One tablespace of a backup: its OID, where it was, where it goes.
public struct TablespaceMapping: Sendable, Equatable {
    public var oid: String
    public var originalPath: String
    public var path: String
}

/// Turns a physical backup into a stopped, complete PGDATA: base archive into the data directory, WAL into
/// `pg_wal/`, each tablespace where the placement says, every file owned by the user running pgbak. An incremental
/// backup is materialized with the backups it depends on and combined by pg_combinebackup (Materializer+Chain).
public struct Materializer: Sendable {
    public var files: BackupFiles
    public var manifest: Manifest
    /// For an incremental backup: the backups of its chain before it, its full backup first.
    public var earlier: [ChainLink] = []
    /// The backup's own major's programs (pg_combinebackup), needed when `earlier` is not empty.
    public var serverTools: PostgresTools? = nil
    /// Check each archive against its checksum while reading it (off only for `restore --force`).
    public var checkContent: Bool
    /// Write every file through the page cache: the server replays a long stretch of WAL over the files right
    /// away (recovery to a point in time), so each data page it reads is then in memory. Otherwise large files go
    /// to disk direct.
    public var cached: Bool

    public init(files: BackupFiles, manifest: Manifest, checkContent: Bool = true, cached: Bool = false) {
        self.files = files
        self.manifest = manifest
        self.checkContent = checkContent
        self.cached = cached
    }

    public struct Result: Sendable {
        public var files: Int
        public var bytes: Int64
        public var tablespaces: [TablespaceMapping]
        public var seconds: Double
        /// Set when backups of a chain were combined: the combined directory's backup_manifest (pg_combinebackup's),
        /// the one to verify it against instead of the backup's own.
        public var combinedManifest: String? = nil
    }

    /// `dataDirectory` must be empty or absent. Tablespace symlinks are made in `pg_tblspc/` so that
    /// `pg_verifybackup` can read the result; `tablespace_map` is rewritten only by `rewriteTablespaceMap`.
    public func materialize(
        into dataDirectory: String, tablespaces placement: TablespacePlacement
    ) async throws -> Result {
        guard earlier.isEmpty else { return try await combine(into: dataDirectory, tablespaces: placement) }
        return try extract(ChainLink(files: files, manifest: manifest), into: dataDirectory, tablespaces: placement)
    }

    /// One backup's archives into `dataDirectory`; its WAL only with `wal`.
    func extract(
        _ backup: ChainLink, into dataDirectory: String, tablespaces placement: TablespacePlacement, wal: Bool = true
    ) throws -> Result {
        let (files, manifest) = (backup.files, backup.manifest)
        let started = Date()
        try Self.prepareEmpty(dataDirectory, what: "data directory")
        let physical = manifest.files.filter { $0.path.hasPrefix(PhysicalPart.directory + "/") }
        let records = Dictionary(physical.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        guard let base = physical.first(where: { $0.path == "\(PhysicalPart.directory)/base.tar.zst" }) else {
            throw RestoreError(problem: "backup \(manifest.backupID) has no physical/base.tar.zst")
        }
        var total = try TarExtractor.extract(
            files, archive: base, checkContent: checkContent, into: dataDirectory, cached: cached)
        if wal, let wal = physical.first(where: { $0.path == "\(PhysicalPart.directory)/pg_wal.tar.zst" }) {
            // base.tar brings pg_wal/ with only archive_status/ in it.
            guard mkdir(dataDirectory + "/pg_wal", 0o700) == 0 || errno == EEXIST else {
                throw RestoreError(problem: "cannot create \(dataDirectory)/pg_wal: \(Errno.text())")
            }
            let r = try TarExtractor.extract(
                files, archive: wal, checkContent: checkContent, into: dataDirectory + "/pg_wal", cached: cached)
            total.files += r.files
            total.bytes += r.bytes
        }
        var mappings: [TablespaceMapping] = []
        for entry in try Self.readTablespaceMap(dataDirectory) {
            let archive = "\(PhysicalPart.directory)/\(entry.oid).tar.zst"
            guard let record = records[archive] else {
                throw RestoreError(
                    problem: "tablespace_map names tablespace \(entry.oid), but the backup has no \(archive)")
            }
            let target = placement.target(oid: entry.oid, recordedAt: entry.path)
            try Self.prepareEmpty(target, what: "tablespace directory", allowExisting: true)
            let r = try TarExtractor.extract(
                files, archive: record, checkContent: checkContent, into: target, cached: cached)
            total.files += r.files
            total.bytes += r.bytes
            let link = dataDirectory + "/pg_tblspc/" + entry.oid
            try TarExtractor.makeParents(of: link, below: dataDirectory)
            unlink(link)
            guard symlink(target, link) == 0 else {
                throw RestoreError(problem: "cannot link \(link) to \(target): \(Errno.text())")
            }
            mappings.append(TablespaceMapping(oid: entry.oid, originalPath: entry.path, path: target))
        }
        guard chmod(dataDirectory, 0o700) == 0 else {
            throw RestoreError(problem: "cannot set mode 0700 on \(dataDirectory): \(Errno.text())")
        }
        return Result(
            files: total.files, bytes: total.bytes, tablespaces: mappings,
            seconds: Date().timeIntervalSince(started))
    }

    /// Points `tablespace_map` at the remapped paths, so PostgreSQL links the tablespaces there on start-up.
    public static func rewriteTablespaceMap(_ dataDirectory: String, _ mappings: [TablespaceMapping]) throws {
        guard !mappings.isEmpty else { return }
        let text = mappings.map { "\($0.oid) \($0.path)\n" }.joined()
        do {
            try text.write(toFile: dataDirectory + "/tablespace_map", atomically: true, encoding: .utf8)
        } catch {
            throw RestoreError(problem: "cannot rewrite \(dataDirectory)/tablespace_map: \(error.localizedDescription)")
        }
    }

    /// `tablespace_map` lines: `<oid> <path>` (the path may contain spaces).
    static func readTablespaceMap(_ dataDirectory: String) throws -> [(oid: String, path: String)] {
        guard let data = FileManager.default.contents(atPath: dataDirectory + "/tablespace_map") else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line -> (String, String)? in
            let parts = line.split(separator: " ", maxSplits: 1)
            return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
        }
    }

    /// Creates `path` (0700) or accepts it when it exists and is empty.
    static func prepareEmpty(_ path: String, what: String, allowExisting: Bool = true) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw RestoreError(problem: "\(what) \(path) exists and is not a directory") }
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            guard entries.isEmpty else {
                throw RestoreError(
                    problem: "\(what) \(path) is not empty (\(entries.count) entries); refusing to "
                        + "write into it: empty it first (or pass --wipe where offered)")
            }
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !FileManager.default.fileExists(atPath: parent) {
            try? FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        }
        guard mkdir(path, 0o700) == 0 else {
            throw RestoreError(problem: "cannot create \(what) \(path): \(Errno.text())")
        }
    }
}
