import CZstd
import Foundation

/// Incremental zstd decompression: feed compressed chunks, receive decompressed chunks. The only place in pgbak that
/// touches libzstd's decompression pointers.
public final class ZstdStreamDecoder {
    private let context: OpaquePointer
    private let output: UnsafeMutableRawBufferPointer
    private var lastResult = 0
    private var sawInput = false
    public private(set) var decompressedBytes: Int64 = 0
    let source: String

    public init(source: String) throws {
        guard let context = ZSTD_createDCtx() else {
            throw CompressionError(path: source, problem: "libzstd could not allocate a decompression context")
        }
        self.context = context
        self.source = source
        output = .allocate(byteCount: ZSTD_DStreamOutSize() * 8, alignment: 16)
    }

    deinit {
        ZSTD_freeDCtx(context)
        output.deallocate()
    }

    /// Decompresses `input`, handing every decompressed chunk to `consume`.
    public func feed(_ input: UnsafeRawBufferPointer, consume: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let base = input.baseAddress, input.count > 0 else { return }
        sawInput = true
        var inBuffer = ZSTD_inBuffer(src: base, size: input.count, pos: 0)
        while true {
            var outBuffer = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
            let consumedBefore = inBuffer.pos
            let result = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
            if ZSTD_isError(result) != 0 {
                throw CompressionError(
                    path: source,
                    problem: "corrupt zstd data after \(decompressedBytes) "
                        + "decompressed bytes: " + String(cString: ZSTD_getErrorName(result)))
            }
            // A call that neither read nor wrote anything says nothing about the frame: after a frame that ended
            // exactly as the output buffer filled up, the extra call made to drain it answers with the size of the
            // next frame's header, which must not read as "the last frame ends early".
            if inBuffer.pos > consumedBefore || outBuffer.pos > 0 { lastResult = result }
            if outBuffer.pos > 0 {
                try consume(UnsafeRawBufferPointer(rebasing: output[0..<outBuffer.pos]))
                decompressedBytes += Int64(outBuffer.pos)
            }
            if inBuffer.pos == inBuffer.size && outBuffer.pos < outBuffer.size { break }
        }
    }

    /// Fails when the input was empty or its last frame is incomplete (a truncated file).
    public func finish() throws {
        guard sawInput else { throw CompressionError(path: source, problem: "is empty, not a zstd file") }
        guard lastResult == 0 else {
            throw CompressionError(path: source, problem: "truncated: the last zstd frame ends early")
        }
    }
}

/// Whole-file zstd decompression.
public enum ZstdReader {
    /// Decompresses `path` to the end, handing each decompressed chunk to `consume`; fails on corruption,
    /// a bad frame checksum or a truncated last frame, and — when `expected` is given — when the compressed
    /// file's checksum differs from it (a backup file whose manifest entry no longer matches). Returns the
    /// decompressed size.
    @discardableResult
    public static func decompress(
        path: String, expected: FileChecksum? = nil,
        consume: (UnsafeRawBufferPointer) throws -> Void = { _ in }
    ) throws -> Int64 {
        try decompress(try FileByteSource(path: path), name: path, expected: expected, consume: consume)
    }

    /// `decompress(path:)` from any source; `name` names it in errors.
    @discardableResult
    public static func decompress(
        _ source: any ByteSource, name path: String, expected: FileChecksum? = nil,
        consume: (UnsafeRawBufferPointer) throws -> Void = { _ in }
    ) throws -> Int64 {
        let decoder = try ZstdStreamDecoder(source: path)
        var hasher = expected.map { ContentHasher($0.algorithm) }
        try source.forEachChunk { chunk in
            hasher?.update(chunk)
            try decoder.feed(chunk, consume: consume)
        }
        try decoder.finish()
        if let expected, let actual = hasher?.finalize(), actual != expected {
            throw CompressionError(
                path: path,
                problem: "does not match its \(expected.algorithm.displayName) in the manifest: the backup is "
                    + "corrupt (run pgbak verify)")
        }
        return decoder.decompressedBytes
    }
}

/// Reads a file in 1 MiB chunks.
enum FileChunks {
    static let size = 1 << 20

    static func read(path: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try FileByteSource(path: path).forEachChunk(body)
    }
}
