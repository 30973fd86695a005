import Foundation

/// Pulls decompressed bytes from a zstd file on demand, checksumming the compressed file as it goes. For parsers that
/// want `readByte()` / `read(n)` / `skip(n)` rather than callbacks.
final class ZstdPullStream {
    private let source: any ByteSource
    private let decoder: ZstdStreamDecoder
    private let input: UnsafeMutableRawBufferPointer
    private var buffer: [UInt8] = []
    private var position = 0
    private var fileEnded = false
    private var hasher: ContentHasher
    let path: String
    /// Decompressed bytes consumed so far (for error messages).
    private(set) var offset: Int64 = 0

    init(source: any ByteSource, relativePath: String, checksum: FileChecksum.Algorithm) throws {
        self.path = relativePath
        hasher = ContentHasher(checksum)
        self.source = source
        decoder = try ZstdStreamDecoder(source: relativePath)
        input = .allocate(byteCount: 64 << 10, alignment: 16)
        buffer.reserveCapacity(1 << 20)
    }

    deinit {
        input.deallocate()
    }

    /// Makes at least `count` bytes available; false at the end of the data.
    private func ensure(_ count: Int) throws -> Bool {
        while buffer.count - position < count {
            if fileEnded { return false }
            if position > 0 {
                buffer.removeSubrange(0..<position)
                position = 0
            }
            let n = try source.read(into: input)
            if n == 0 {
                fileEnded = true
                try decoder.finish()
                continue
            }
            let chunk = UnsafeRawBufferPointer(rebasing: input[0..<n])
            hasher.update(chunk)
            try decoder.feed(chunk) { buffer.append(contentsOf: $0) }
        }
        return true
    }

    func readByte() throws -> UInt8? {
        guard try ensure(1) else { return nil }
        defer {
            position += 1
            offset += 1
        }
        return buffer[position]
    }

    /// Exactly `count` bytes, or nil at the end of the data.
    func read(_ count: Int) throws -> ArraySlice<UInt8>? {
        guard try ensure(count) else { return nil }
        defer {
            position += count
            offset += Int64(count)
        }
        return buffer[position..<position + count]
    }

    /// Skips `count` bytes; false when the data ends first.
    func skip(_ count: Int) throws -> Bool {
        var left = count
        while left > 0 {
            let available = buffer.count - position
            if available == 0 {
                guard try ensure(1) else { return false }
                continue
            }
            let take = min(available, left)
            position += take
            offset += Int64(take)
            left -= take
        }
        return true
    }

    /// Skips a run of pg_dump data chunks (`int length`, then that many bytes) up to the zero length that ends
    /// them, in one tight loop over the buffer (pg_dump writes a chunk per row). Integers are a sign byte and
    /// `intSize` little-endian bytes. Returns the total length and the last five data bytes; nil if truncated.
    func skipChunks(intSize: Int) throws -> (bytes: Int64, tail: [UInt8])? {
        let header = 1 + intSize
        var total: Int64 = 0
        var tail: [UInt8] = []
        var skipping = 0  // bytes of the current chunk still to pass
        var chunkLength = 0
        while true {
            if skipping > 0 {
                let available = buffer.count - position
                if available == 0 {
                    guard try ensure(1) else { return nil }
                    continue
                }
                let take = min(available, skipping)
                let end = position + take
                if skipping == take && chunkLength > 0 {
                    tail = Array((tail + buffer[max(position, end - 5)..<end]).suffix(5))
                }
                position = end
                offset += Int64(take)
                skipping -= take
                continue
            }
            guard try ensure(header) else { return nil }
            var done = false
            buffer.withUnsafeBufferPointer { p in
                var pos = position
                while pos + header <= p.count {
                    var length = 0
                    for i in 0..<min(intSize, 8) { length |= Int(p[pos + 1 + i]) << (8 * i) }
                    if p[pos] != 0 { length = -length }
                    pos += header
                    if length == 0 {
                        done = true
                        break
                    }
                    total += Int64(length)
                    if length < 0 || pos + length > p.count {
                        skipping = max(length, 0)
                        chunkLength = length
                        if length < 0 { done = true }
                        break
                    }
                    pos += length
                    tail = Array(p[max(pos - 5, pos - length)..<pos])
                }
                offset += Int64(pos - position)
                position = pos
            }
            if done { return skipping < 0 || chunkLength < 0 ? nil : (total, tail) }
        }
    }

    /// True when no byte is left (reads the rest of the file to be sure).
    func atEnd() throws -> Bool { try !ensure(1) }

    /// Reads whatever is left of the file (so the checksum covers all of it) and returns the checksum.
    func finishChecksum() throws -> FileChecksum {
        while try ensure(1) { _ = try skip(buffer.count - position) }
        return hasher.finalize()
    }
}
