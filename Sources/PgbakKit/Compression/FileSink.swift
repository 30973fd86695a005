import Crypto
import Foundation

/// What pgbak knows about one file it wrote: its size and SHA-256.
public struct FileRecord: Sendable, Equatable, Codable {
    public var path: String
    public var bytes: Int64
    public var sha256: String

    public init(path: String, bytes: Int64, sha256: String) {
        self.path = path
        self.bytes = bytes
        self.sha256 = sha256
    }
}

/// A new file (0600, must not exist yet) that hashes and counts every byte written and is fsynced on close.
final class FileSink {
    let path: String
    private var fd: Int32
    private var hasher = SHA256()
    private(set) var bytes: Int64 = 0

    init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CompressionError(path: path, problem: "cannot create: \(Errno.text())") }
    }

    func write(_ buffer: UnsafeRawBufferPointer) throws {
        guard buffer.count > 0 else { return }
        hasher.update(bufferPointer: buffer)
        var offset = 0
        while offset < buffer.count {
            let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw CompressionError(path: path, problem: "write failed: \(Errno.text())")
            }
            offset += n
        }
        bytes += Int64(buffer.count)
    }

    /// fsyncs and closes; returns the record of the file.
    func finish(relativePath: String) throws -> FileRecord {
        guard fsync(fd) == 0 else {
            let text = Errno.text()
            abort()
            throw CompressionError(path: path, problem: "fsync failed: \(text)")
        }
        Glibc.close(fd)
        fd = -1
        return FileRecord(path: relativePath, bytes: bytes, sha256: hasher.finalize().hexString)
    }

    /// Closes without syncing (the caller removes the file).
    func abort() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    deinit { abort() }
}

enum Errno {
    static func text(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }
}

extension Digest {
    var hexString: String { map { String(format: "%02x", $0) }.joined() }
}

/// SHA-256 and size of an existing file.
public enum FileDigest {
    public static func sha256(path: String, relativePath: String) throws -> FileRecord {
        var hasher = SHA256()
        var total: Int64 = 0
        try FileChunks.read(path: path) { chunk in
            hasher.update(bufferPointer: chunk)
            total += Int64(chunk.count)
        }
        return FileRecord(path: relativePath, bytes: total, sha256: hasher.finalize().hexString)
    }
}

/// SHA-256 over chunks, as a hex string.
struct SHA256Hasher {
    private var hasher = SHA256()

    mutating func update(_ chunk: UnsafeRawBufferPointer) { hasher.update(bufferPointer: chunk) }

    var hex: String { hasher.finalize().hexString }
}
