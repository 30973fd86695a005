import Crypto
import Foundation

/// Reads a file that may be sealed: decrypts it with `key` when it starts with the `PGBAKENC` header, passes it
/// through otherwise. A sealed file without a key is refused.
enum SealedReading {
    static func open(_ raw: any ByteSource, key: RepositoryKey?, name: String) throws -> any ByteSource {
        var head = Data(count: SealedFile.headerSize)
        let got = try head.withUnsafeMutableBytes { try fill(raw, $0) }
        head.count = got
        guard head.starts(with: SealedFile.magic) else { return PrefixedSource(head, then: raw) }
        guard let key else { throw missingKey(name) }
        return DecryptingSource(raw, file: try SealedFile(key: key, header: head, file: name), name: name)
    }

    /// A whole small file, decrypted when sealed.
    static func open(_ data: Data, key: RepositoryKey?, name: String) throws -> Data {
        guard data.starts(with: SealedFile.magic) else { return data }
        guard let key else { throw missingKey(name) }
        return try SealedFile.open(data, key: key, file: name)
    }

    static func missingKey(_ name: String) -> EncryptionError {
        EncryptionError(
            problem: "\(name) is encrypted and no key is configured: set repository.encryption.key_file to the "
                + "key the repository was written with")
    }

    /// Reads until `buffer` is full or the source ends; returns how many bytes.
    static func fill(_ source: any ByteSource, _ buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            if n == 0 { break }
            filled += n
        }
        return filled
    }
}

/// `prefix`, then the rest of `source`: a file whose first bytes were read to look at them.
final class PrefixedSource: ByteSource {
    private var prefix: Data
    private let source: any ByteSource

    init(_ prefix: Data, then source: any ByteSource) {
        self.prefix = prefix
        self.source = source
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard !prefix.isEmpty else { return try source.read(into: buffer) }
        let n = min(prefix.count, buffer.count)
        prefix.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        prefix.removeFirst(n)
        return n
    }
}

/// The plaintext of a sealed file read in order, each chunk authenticated before any of it is handed on. The next
/// chunk is read and decrypted on another thread while the caller works through the current one.
final class DecryptingSource: ByteSource, @unchecked Sendable {
    private let raw: any ByteSource
    private let file: SealedFile
    private let name: String
    /// One sealed chunk and the first byte of the next (which tells that this one is not the last).
    private let sealed: UnsafeMutableRawBufferPointer
    private var carry: UInt8?
    private var index: UInt64 = 0
    private var ended = false
    private var plain = Data()
    private var offset = 0
    private var pending: Pending?
    private static let queue = DispatchQueue(label: "pgbak.decrypt", attributes: .concurrent)

    /// A chunk being read and decrypted.
    private final class Pending: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        var result: Result<Data, any Error> = .success(Data())
    }

    init(_ raw: any ByteSource, file: SealedFile, name: String) {
        self.raw = raw
        self.file = file
        self.name = name
        sealed = .allocate(byteCount: file.chunkSize + SealedFile.tagSize + 1, alignment: 16)
        pending = start()
    }

    deinit {
        pending?.done.wait()
        sealed.deallocate()
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while offset == plain.count {
            guard let current = pending else { return 0 }
            current.done.wait()
            pending = nil
            plain = try current.result.get()
            offset = 0
            if !ended { pending = start() }
        }
        let n = min(buffer.count, plain.count - offset)
        plain.withUnsafeBytes {
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + n]))
        }
        offset += n
        return n
    }

    /// Reads and decrypts the next chunk on the queue. Only one runs at a time: the next starts after this one was
    /// taken, so `raw`, `sealed` and the counters are never touched by two threads at once.
    private func start() -> Pending {
        let pending = Pending()
        Self.queue.async { [self] in
            pending.result = Result { try nextChunk() }
            pending.done.signal()
        }
        return pending
    }

    private func nextChunk() throws -> Data {
        var filled = 0
        if let carry {
            sealed[0] = carry
            filled = 1
        }
        filled += try SealedReading.fill(raw, UnsafeMutableRawBufferPointer(rebasing: sealed[filled...]))
        let whole = file.chunkSize + SealedFile.tagSize
        let more = filled > whole
        carry = more ? sealed[whole] : nil
        let length = min(filled, whole)
        let chunk = Data(bytesNoCopy: sealed.baseAddress!, count: length, deallocator: .none)
        defer { index += 1 }
        ended = !more
        return try file.open(chunk, index: index, last: !more, file: name)
    }
}
