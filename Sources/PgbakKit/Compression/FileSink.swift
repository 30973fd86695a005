import Crypto
import Foundation

/// What pgbak knows about one file it wrote: its size and checksum. In the manifest:
/// `{"path": ..., "bytes": ..., "crc32c": "<hex>"}` (`"sha256"` in place of `"crc32c"` in manifests of pgbak 0.1).
public struct FileRecord: Sendable, Equatable, Codable {
    public var path: String
    public var bytes: Int64
    public var checksum: FileChecksum

    public init(path: String, bytes: Int64, checksum: FileChecksum) {
        self.path = path
        self.bytes = bytes
        self.checksum = checksum
    }

    private enum CodingKeys: String, CodingKey {
        case path, bytes, crc32c, sha256
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        path = try c.decode(String.self, forKey: .path)
        bytes = try c.decode(Int64.self, forKey: .bytes)
        if let hex = try c.decodeIfPresent(String.self, forKey: .crc32c) {
            checksum = FileChecksum(algorithm: .crc32c, hex: hex)
        } else {
            checksum = FileChecksum(algorithm: .sha256, hex: try c.decode(String.self, forKey: .sha256))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(path, forKey: .path)
        try c.encode(bytes, forKey: .bytes)
        try c.encode(checksum.hex, forKey: checksum.algorithm == .crc32c ? .crc32c : .sha256)
    }
}

/// A new file (0600, must not exist yet) that checksums and counts every byte written, is written behind (see
/// WriteBehind) and is fsynced on close; or, in a bucket, an object uploaded as it is written. With a key, what is
/// stored is the file sealed (see `SealedFile`); the checksum and size are the plaintext's.
final class FileSink {
    let path: String
    private var fd: Int32 = -1
    private let upload: (any ObjectUpload)?
    private var hasher: ContentHasher
    private var sealer: ChunkSealer?
    private var writeBehind = WriteBehind(drops: true)
    /// Plaintext bytes written.
    private(set) var bytes: Int64 = 0
    private var storedBytes: Int64 = 0

    init(path: String, checksum: FileChecksum.Algorithm = .crc32c, key: RepositoryKey? = nil) throws {
        self.path = path
        upload = nil
        hasher = ContentHasher(checksum)
        sealer = key.map(ChunkSealer.init)
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CompressionError(path: path, problem: "cannot create: \(Errno.text())") }
    }

    /// Writes into `upload`; `name` names it in errors.
    init(
        upload: any ObjectUpload, name: String, checksum: FileChecksum.Algorithm = .crc32c, key: RepositoryKey? = nil
    ) {
        path = name
        self.upload = upload
        hasher = ContentHasher(checksum)
        sealer = key.map(ChunkSealer.init)
    }

    func write(_ buffer: UnsafeRawBufferPointer) throws {
        guard buffer.count > 0 else { return }
        hasher.update(buffer)
        bytes += Int64(buffer.count)
        if sealer != nil {
            try sealer!.write(buffer) { try store($0) }
        } else {
            try store(buffer)
        }
    }

    private func store(_ buffer: UnsafeRawBufferPointer) throws {
        if let upload {
            try upload.write(buffer)
            return
        }
        if let code = Errno.writeAll(fd, buffer) {
            throw CompressionError(path: path, problem: "write failed: \(Errno.text(code))")
        }
        storedBytes += Int64(buffer.count)
        writeBehind.advance(fd: fd, size: storedBytes)
    }

    /// fsyncs and closes; returns the record of the file.
    func finish(relativePath: String) throws -> FileRecord {
        if sealer != nil { try sealer!.finish { try store($0) } }
        if let upload {
            try upload.finish()
            return FileRecord(path: relativePath, bytes: bytes, checksum: hasher.finalize())
        }
        guard fsync(fd) == 0 else {
            let text = Errno.text()
            abort()
            throw CompressionError(path: path, problem: "fsync failed: \(text)")
        }
        writeBehind.finish(fd: fd, size: storedBytes)
        Glibc.close(fd)
        fd = -1
        return FileRecord(path: relativePath, bytes: bytes, checksum: hasher.finalize())
    }

    /// Closes without syncing (the caller removes the file); an upload is given up.
    func abort() {
        upload?.abort()
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// Gives the file up and removes it.
    func discard() {
        abort()
        if upload == nil { unlink(path) }
    }

    deinit { abort() }
}

extension Sequence<UInt8> {
    /// Lower-case hex digits, two per byte.
    var hexString: String { map { String(format: "%02x", $0) }.joined() }
}

/// Checksum and size of an existing file.
public enum FileDigest {
    public static func record(
        path: String, relativePath: String, algorithm: FileChecksum.Algorithm = .crc32c
    ) throws -> FileRecord {
        var hasher = ContentHasher(algorithm)
        var total: Int64 = 0
        try FileChunks.read(path: path) { chunk in
            hasher.update(chunk)
            total += Int64(chunk.count)
        }
        return FileRecord(path: relativePath, bytes: total, checksum: hasher.finalize())
    }
}
