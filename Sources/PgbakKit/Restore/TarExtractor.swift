import CWriteback
import Foundation

/// Writes the members of a tar stream below a directory: regular files (mode from the header, owned by whoever
/// runs pgbak, whatever the header says), directories (0700) and symbolic links. Refuses names that would escape
/// the directory. Each file's pages are sent to disk while it is written, without waiting for them: PostgreSQL fsyncs
/// the whole data directory when it starts from a backup, and then finds little left to write.
final class TarExtractor {
    let root: String
    private var fd: Int32 = -1
    private var currentPath = ""
    /// Bytes of the current file written, and those handed to writeback so far.
    private var fileBytes: Int64 = 0
    private var writebackBytes: Int64 = 0
    static let writebackStep: Int64 = 8 << 20
    private(set) var files = 0
    private(set) var bytes: Int64 = 0

    init(root: String) {
        self.root = root
    }

    deinit { if fd >= 0 { close(fd) } }

    func reader() -> TarReader {
        TarReader(
            onMember: { [unowned self] member in try start(member) },
            onData: { [unowned self] data in try write(data) },
            onMemberEnd: { [unowned self] in try end() })
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
            fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(member.mode & 0o700 | 0o600))
            guard fd >= 0 else { throw RestoreError(problem: "cannot create \(path): \(Errno.text())") }
            currentPath = path
            fileBytes = 0
            writebackBytes = 0
            files += 1
        }
    }

    private func write(_ data: UnsafeRawBufferPointer) throws {
        guard fd >= 0, let base = data.baseAddress else { return }
        var offset = 0
        while offset < data.count {
            let n = Glibc.write(fd, base + offset, data.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw RestoreError(problem: "cannot write \(currentPath): \(Errno.text())")
            }
            offset += n
        }
        bytes += Int64(data.count)
        fileBytes += Int64(data.count)
        if fileBytes - writebackBytes >= Self.writebackStep { startWriteback() }
    }

    /// Advisory: a failure only means the pages go to disk later.
    private func startWriteback() {
        _ = pgbak_start_writeback(fd, writebackBytes, fileBytes - writebackBytes)
        writebackBytes = fileBytes
    }

    private func end() throws {
        guard fd >= 0 else { return }
        if fileBytes > writebackBytes { startWriteback() }
        close(fd)
        fd = -1
    }

    static func makeParents(of path: String, below root: String) throws {
        let parent = (path as NSString).deletingLastPathComponent
        guard parent.count > root.count, !FileManager.default.fileExists(atPath: parent) else { return }
        try makeParents(of: parent, below: root)
        guard mkdir(parent, 0o700) == 0 || errno == EEXIST else {
            throw RestoreError(problem: "cannot create \(parent): \(Errno.text())")
        }
    }

    /// Decompresses `archive` (zstd) into `root`, checking its SHA-256 against `expectedSHA256` on the way.
    static func extract(archive: String, expectedSHA256: String?, into root: String) throws -> (
        files: Int, bytes: Int64
    ) {
        let extractor = TarExtractor(root: root)
        let tar = extractor.reader()
        try ZstdReader.decompress(path: archive, expectedSHA256: expectedSHA256) { try tar.feed($0) }
        try tar.finish()
        return (extractor.files, extractor.bytes)
    }
}

/// A restore that cannot go on: what and what to do.
public struct RestoreError: LocalizedError, Sendable {
    public var problem: String
    public var errorDescription: String? { problem }
}
