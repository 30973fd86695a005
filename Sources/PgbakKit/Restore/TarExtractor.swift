import Foundation

/// Writes the members of a tar stream below a directory: regular files (mode from the header, owned by whoever
/// runs pgbak, whatever the header says), directories (0700) and symbolic links. Refuses names that would escape
/// the directory. Directories and links are made at once; files are handed to a `FileWriterPool`, so call `finish()`
/// before using what was written.
final class TarExtractor {
    let root: String
    private let pool: FileWriterPool
    private var inFile = false
    private(set) var files = 0
    private(set) var bytes: Int64 = 0

    /// `cached`: every file through the page cache (see `FileWriterPool`).
    init(root: String, cached: Bool = false) {
        self.root = root
        pool = FileWriterPool(cached: cached)
    }

    func reader() -> TarReader {
        TarReader(
            onMember: { [unowned self] member in try start(member) },
            onData: { [unowned self] data in try write(data) },
            onMemberEnd: { [unowned self] in try end() })
    }

    /// Waits for every file to be written; throws the first write failure.
    func finish() throws {
        try pool.finish()
    }

    static func safeRelative(_ name: String) throws -> String {
        var parts: [Substring] = []
        for part in name.split(separator: "/") where part != "." && !part.isEmpty {
            guard part != ".." else {
                throw TarError(problem: "refusing the tar member '\(name)': it leaves the directory")
            }
            parts.append(part)
        }
        guard !name.hasPrefix("/") else { throw TarError(problem: "refusing the absolute tar member '\(name)'") }
        return parts.joined(separator: "/")
    }

    private func start(_ member: TarReader.Member) throws {
        let relative = try Self.safeRelative(member.name)
        guard !relative.isEmpty else { return }
        let path = root + "/" + relative
        try Self.makeParents(of: path, below: root)
        switch member.type {
        case UInt8(ascii: "5"):
            guard mkdir(path, 0o700) == 0 || errno == EEXIST else {
                throw RestoreError(problem: "cannot create \(path): \(Errno.text())")
            }
        case UInt8(ascii: "2"):
            guard symlink(member.linkName, path) == 0 else {
                throw RestoreError(problem: "cannot create the link \(path): \(Errno.text())")
            }
        default:
            guard member.isRegularFile else { return }
            try pool.create(path: path, mode: mode_t(member.mode & 0o700 | 0o600), size: member.size)
            inFile = true
            files += 1
        }
    }

    private func write(_ data: UnsafeRawBufferPointer) throws {
        guard inFile else { return }
        try pool.write(data)
        bytes += Int64(data.count)
    }

    private func end() throws {
        guard inFile else { return }
        try pool.endFile()
        inFile = false
    }

    static func makeParents(of path: String, below root: String) throws {
        let parent = (path as NSString).deletingLastPathComponent
        guard parent.count > root.count, !FileManager.default.fileExists(atPath: parent) else { return }
        try makeParents(of: parent, below: root)
        guard mkdir(parent, 0o700) == 0 || errno == EEXIST else {
            throw RestoreError(problem: "cannot create \(parent): \(Errno.text())")
        }
    }

    /// Decompresses the backup's `archive` (zstd) into `root`, checking its checksum against `record`'s on the way
    /// (unless `checkContent` is off).
    static func extract(
        _ files: BackupFiles, archive record: FileRecord, checkContent: Bool = true, into root: String,
        cached: Bool = false
    ) throws -> (files: Int, bytes: Int64) {
        let extractor = TarExtractor(root: root, cached: cached)
        let tar = extractor.reader()
        do {
            try ZstdReader.decompress(
                try files.open(record.path, size: record.bytes), name: files.describe(record.path),
                expected: checkContent ? record.checksum : nil
            ) { try tar.feed($0) }
            try tar.finish()
        } catch {
            try? extractor.finish()
            throw error
        }
        try extractor.finish()
        return (extractor.files, extractor.bytes)
    }
}

/// A restore that cannot go on: what and what to do.
public struct RestoreError: LocalizedError, Sendable {
    public var problem: String
    public var errorDescription: String? { problem }

    static func cannotWrite(_ path: String, errno code: Int32) -> RestoreError {
        RestoreError(problem: "cannot write \(path): \(Errno.text(code))")
    }
}
