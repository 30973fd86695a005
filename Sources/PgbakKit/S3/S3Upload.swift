import Foundation

/// A file streamed into an object as it is produced: bytes collect into a part; each full part is sent (multipart
/// upload) on another thread while the next fills. The bytes in the air at once, across every upload of the process,
/// are bounded by `budget` (16 MiB, or one part when a part is larger), so memory stays near that plus one filling
/// part per upload whatever the file's size. A file that ends before its first part fills is one PUT. Parts grow
/// from 5 MiB (S3's smallest), doubling every 1,000 parts up to 40 MiB, so one file can reach about 300 GB within
/// S3's 10,000 parts.
public final class S3Upload: ObjectUpload, @unchecked Sendable {
    /// Bytes in the air at once, shared by every upload of a process.
    static let budget = ByteBudget(limit: 16 << 20)
    static let firstPartBytes = 5 << 20

    private let client: S3Client
    public let key: String
    private var part: UnsafeMutableRawBufferPointer
    private var filled = 0
    private var uploadID: String?
    private let lock = NSLock()
    private var etags: [Int: String] = [:]
    private var failure: (any Error)?
    private var sentParts = 0
    private var acknowledged: Int64 = 0
    private let group = DispatchGroup()
    private var closed = false

    public init(client: S3Client, key: String) {
        self.client = client
        self.key = key
        part = .allocate(byteCount: Self.firstPartBytes, alignment: 64)
    }

    deinit { part.deallocate() }

    /// Bytes the store has acknowledged (whole parts), counted from the start of the file.
    public var confirmedBytes: Int64 { lock.withLock { acknowledged } }

    static func partBytes(number: Int) -> Int { firstPartBytes << min(3, (number - 1) / 1000) }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            if let failure = lock.withLock({ failure }) { throw failure }
            let n = min(bytes.count - offset, part.count - filled)
            (part.baseAddress! + filled).copyMemory(from: bytes.baseAddress! + offset, byteCount: n)
            filled += n
            offset += n
            if filled == part.count { try send(last: false) }
        }
    }

    /// Sends the filled part on a thread of its own and starts a new buffer (sized for the next part number).
    private func send(last: Bool) throws {
        if uploadID == nil { uploadID = try client.startMultipart(key) }
        let number = sentParts + 1
        sentParts = number
        let buffer = PartBuffer(bytes: part)
        let count = filled
        if !last {
            part = .allocate(byteCount: Self.partBytes(number: number + 1), alignment: 64)
            filled = 0
        }
        Self.budget.take(count)
        group.enter()
        let id = uploadID!
        DispatchQueue.global().async { [self] in
            defer {
                if !last { buffer.bytes.deallocate() }
                Self.budget.give(count)
                group.leave()
            }
            do {
                let etag = try client.uploadPart(
                    key, uploadID: id, number: number, body: UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<count]))
                lock.withLock {
                    etags[number] = etag
                    acknowledged += Int64(count)
                }
            } catch {
                lock.withLock { failure = failure ?? error }
            }
        }
    }

    public func finish() throws {
        if uploadID == nil {
            closed = true
            let outcome = try client.put(key, body: UnsafeRawBufferPointer(rebasing: part[0..<filled]))
            guard case .stored = outcome else { throw S3Error(problem: "\(client.describe(key)): refused the upload") }
            return
        }
        if filled > 0 { try send(last: true) }
        group.wait()
        if let failure = lock.withLock({ failure }) {
            abort()
            throw failure
        }
        let parts = (1...sentParts).map { etags[$0]! }
        closed = true
        guard case .stored = try client.completeMultipart(key, uploadID: uploadID!, parts: parts) else {
            throw S3Error(problem: "\(client.describe(key)): the store refused to join the parts")
        }
    }

    /// Abandons the upload: the parts sent so far are dropped by the store (a run killed before this is cleaned up
    /// by the next one, which aborts the uploads it finds pending).
    public func abort() {
        group.wait()
        guard !closed else { return }
        closed = true
        if let uploadID { try? client.abortMultipart(key, uploadID: uploadID) }
    }
}

/// A part's memory, handed to the thread that sends it (which alone touches it from then on).
private struct PartBuffer: @unchecked Sendable {
    let bytes: UnsafeMutableRawBufferPointer
}

/// A byte count shared by threads: `take` waits while taking would exceed the limit (unless nothing is taken, so
/// one item larger than the limit still goes, alone).
final class ByteBudget: @unchecked Sendable {
    private let limit: Int
    private var taken = 0
    private let condition = NSCondition()

    init(limit: Int) { self.limit = limit }

    func take(_ bytes: Int) {
        condition.withLock {
            while taken > 0 && taken + bytes > limit { condition.wait() }
            taken += bytes
        }
    }

    func give(_ bytes: Int) {
        condition.withLock {
            taken -= bytes
            condition.broadcast()
        }
    }
}

/// A backup's files as objects below `backups/<id>/`.
struct S3StagedObjects: StagedObjects {
    let client: S3Client
    let prefix: String

    func upload(_ relativePath: String) throws -> any ObjectUpload {
        S3Upload(client: client, key: prefix + relativePath)
    }
    func describe(_ relativePath: String) -> String { client.describe(prefix + relativePath) }
    func delete(_ relativePath: String) throws { try client.delete(prefix + relativePath) }
}
