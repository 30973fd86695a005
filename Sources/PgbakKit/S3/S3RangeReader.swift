import Foundation

/// Reads one object in order as ranged GETs of `chunkBytes`, up to `window` of them in flight at once, so a large
/// file streams at several connections' speed; memory stays near `window × chunkBytes`.
public final class S3RangeReader: ByteSource, @unchecked Sendable {
    private let client: S3Client
    private let key: String
    private let size: Int64
    private let chunkBytes: Int64
    private let window: Int
    private let condition = NSCondition()
    private var arrived: [Int: Result<Data, any Error>] = [:]
    private var scheduled = 0
    private var consumed = 0
    private var current = Data()
    private var position = 0
    private var stopped = false

    /// `size` is the object's size (from a listing or the manifest).
    public init(client: S3Client, key: String, size: Int64, chunkBytes: Int64 = 4 << 20, window: Int = 3) {
        self.client = client
        self.key = key
        self.size = size
        self.chunkBytes = chunkBytes
        self.window = window
    }

    deinit {
        condition.withLock { stopped = true }
    }

    private var chunkCount: Int { Int((size + chunkBytes - 1) / chunkBytes) }

    /// Starts the fetches the window allows (called holding the condition's lock).
    private func schedule() {
        while scheduled < chunkCount, scheduled < consumed + window {
            let index = scheduled
            scheduled += 1
            let start = Int64(index) * chunkBytes
            let range = start..<min(size, start + chunkBytes)
            DispatchQueue.global().async { [self] in
                let result = Result { () throws -> Data in
                    if condition.withLock({ stopped }) { return Data() }
                    // Received straight into a buffer of the range's size (collecting would double it as it grows).
                    var data = Data(capacity: Int(range.count))
                    guard try client.get(key, range: range, into: { data.append(contentsOf: $0) }) else {
                        throw S3Error(problem: "\(client.describe(key)) vanished while being read")
                    }
                    guard data.count == range.count else {
                        throw S3Error(
                            problem: "\(client.describe(key)): bytes \(range.lowerBound)-\(range.upperBound - 1) came "
                                + "back as \(data.count) bytes: the object is shorter than its \(size) bytes")
                    }
                    return data
                }
                condition.withLock {
                    arrived[index] = result
                    condition.broadcast()
                }
            }
        }
    }

    /// The next chunk in order, nil at the end.
    private func nextChunk() throws -> Data? {
        try condition.withLock {
            guard consumed < chunkCount else { return nil }
            schedule()
            while arrived[consumed] == nil { condition.wait() }
            let result = arrived.removeValue(forKey: consumed)!
            consumed += 1
            schedule()
            return try result.get()
        }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while position == current.count {
            guard let next = try nextChunk() else { return 0 }
            current = next
            position = 0
        }
        let n = min(buffer.count, current.count - position)
        current.withUnsafeBytes { bytes in
            buffer.baseAddress!.copyMemory(from: bytes.baseAddress! + position, byteCount: n)
        }
        position += n
        return n
    }
}
