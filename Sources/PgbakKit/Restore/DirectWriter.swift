import CWriteback
import Foundation

/// Writes a large restored file around the page cache (O_DIRECT), from an aligned buffer, 4 MiB per write; the last
/// partial block goes through the page cache. Copying a data directory into the page cache costs a core for the copy
/// and, on a virtual machine that hands freed memory back to its host, a host fault for each fresh page: writing
/// 1.3 GB that way took 0.9 to 4.3 s on the same machine within minutes, written direct 1.0 to 1.1 s. PostgreSQL reads
/// the files from disk when it needs them. Where the filesystem has no O_DIRECT, the file goes through the page cache.
final class DirectWriter {
    static let chunk = 4 << 20
    static let alignment = 4096
    /// Files of at least this many bytes are written direct; smaller ones are cheaper through the page cache.
    static let threshold: Int64 = 8 << 20

    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: alignment)
    private var filled = 0
    /// Whether the open file still has O_DIRECT set.
    private var isDirect = false

    deinit {
        buffer.deallocate()
    }

    /// Creates `path` for `size` bytes (never opening a file that exists), direct when the filesystem allows it; -1
    /// with errno set.
    func create(path: String, mode: mode_t, size: Int64) -> Int32 {
        filled = 0
        let fd = pgbak_create_direct(path, UInt32(mode), size)
        isDirect = fd >= 0
        guard fd < 0, errno == EINVAL else { return fd }
        // The filesystem refused O_DIRECT, possibly after creating the file (it did not exist: O_EXCL said so).
        return open(path, O_WRONLY | O_CREAT | O_CLOEXEC, mode)
    }

    /// Appends `data`, writing each full chunk.
    func append(_ data: UnsafeRawBufferPointer, fd: Int32, path: String) throws {
        guard let source = data.baseAddress, let base = buffer.baseAddress else { return }
        var offset = 0
        while offset < data.count {
            let n = min(Self.chunk - filled, data.count - offset)
            (base + filled).copyMemory(from: source + offset, byteCount: n)
            filled += n
            offset += n
            if filled == Self.chunk {
                try write(fd: fd, path: path, range: 0..<filled)
                filled = 0
            }
        }
    }

    /// Writes what is left: its whole blocks direct, the rest through the page cache.
    func finish(fd: Int32, path: String) throws {
        let aligned = filled & ~(Self.alignment - 1)
        try write(fd: fd, path: path, range: 0..<aligned)
        if isDirect {
            _ = pgbak_end_direct(fd)
            isDirect = false
        }
        try write(fd: fd, path: path, range: aligned..<filled)
        filled = 0
    }

    /// Writes `range` of the buffer; while O_DIRECT is on, a write the device refuses direct (EINVAL: an alignment it
    /// does not take) turns it off and goes through the page cache.
    private func write(fd: Int32, path: String, range: Range<Int>) throws {
        let data = UnsafeRawBufferPointer(rebasing: buffer[range])
        let failed = Errno.writeAll(fd, data) {
            guard isDirect, pgbak_end_direct(fd) == 0 else { return false }
            isDirect = false
            return true
        }
        if let failed { throw RestoreError.cannotWrite(path, errno: failed) }
    }
}
