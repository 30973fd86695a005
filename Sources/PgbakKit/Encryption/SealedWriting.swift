import Crypto
import Foundation

/// Turns plaintext written in pieces of any size into a `SealedFile`: the header, then each chunk sealed as soon as
/// the next byte shows it is not the last one.
struct ChunkSealer {
    private let file: SealedFile
    private var pending = Data()
    private var index: UInt64 = 0
    private var headerSent = false

    init(key: RepositoryKey) {
        file = SealedFile(key: key)
        pending.reserveCapacity(file.chunkSize)
    }

    /// Takes `plaintext`; hands every sealed byte that is ready to `emit`.
    mutating func write(_ plaintext: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        try sendHeader(emit)
        var rest = plaintext[...]
        while !rest.isEmpty {
            if pending.count == file.chunkSize { try seal(last: false, emit) }
            let take = min(rest.count, file.chunkSize - pending.count)
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest.prefix(take)))
            rest = rest.dropFirst(take)
        }
    }

    /// Seals what is left as the last chunk.
    mutating func finish(emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        try sendHeader(emit)
        try seal(last: true, emit)
    }

    private mutating func sendHeader(_ emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard !headerSent else { return }
        headerSent = true
        try file.header.withUnsafeBytes { try emit($0) }
    }

    private mutating func seal(last: Bool, _ emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        let sealed = try file.seal(pending, index: index, last: last)
        index += 1
        pending.removeAll(keepingCapacity: true)
        try sealed.withUnsafeBytes { try emit($0) }
    }

    /// The size of the sealed file of `plaintext` bytes in chunks of `chunkSize`.
    static func sealedSize(ofPlaintext plaintext: Int64, chunkSize: Int = SealedFile.defaultChunkSize) -> Int64 {
        let chunks = max(1, (plaintext + Int64(chunkSize) - 1) / Int64(chunkSize))
        return Int64(SealedFile.headerSize) + chunks * Int64(SealedFile.tagSize) + plaintext
    }
}

/// An upload that encrypts: plaintext in, a `SealedFile` into `inner`.
final class SealingUpload: ObjectUpload {
    private let inner: any ObjectUpload
    private var sealer: ChunkSealer

    init(_ inner: any ObjectUpload, key: RepositoryKey) {
        self.inner = inner
        sealer = ChunkSealer(key: key)
    }

    /// Plaintext bytes whose sealed chunks the store has acknowledged (for freeing the local copy behind it).
    var confirmedBytes: Int64 {
        let chunk = Int64(SealedFile.defaultChunkSize)
        let sealedChunks = (inner.confirmedBytes - Int64(SealedFile.headerSize)) / (chunk + Int64(SealedFile.tagSize))
        return max(0, sealedChunks) * chunk
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try sealer.write(bytes) { try inner.write($0) }
    }

    func finish() throws {
        try sealer.finish { try inner.write($0) }
        try inner.finish()
    }

    func abort() { inner.abort() }
}

/// A local file written as an upload: into `temporary` (created at the first write: the directory a tool writes
/// into may not exist yet when the upload is set up), renamed over `path` (fsynced) when finished. How an encrypted
/// repository in a directory replaces a file a tool wrote in plaintext with its sealed form. `temporary` must be on
/// the same filesystem, outside the directory the tool writes (which is listed when the tool is done).
final class LocalFileUpload: ObjectUpload {
    private let path: String
    private let temporary: String
    private var sink: FileSink?

    init(replacing path: String, through temporary: String) {
        self.path = path
        self.temporary = temporary
    }

    var confirmedBytes: Int64 { sink?.bytes ?? 0 }

    private func opened() throws -> FileSink {
        if let sink { return sink }
        unlink(temporary)
        let created = try FileSink(path: temporary)
        sink = created
        return created
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws { try opened().write(bytes) }

    func finish() throws {
        _ = try opened().finish(relativePath: path)
        guard rename(temporary, path) == 0 else {
            throw CompressionError(path: path, problem: "cannot replace it with its encrypted form: \(Errno.text())")
        }
        try Durability.syncDirectory((path as NSString).deletingLastPathComponent)
    }

    func abort() { sink?.discard() }
}
