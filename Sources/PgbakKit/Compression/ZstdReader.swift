import CZstd
import Foundation

/// Decompresses zstd files as a stream. The only place in pgbak that touches libzstd's decompression pointers.
public enum ZstdReader {
    /// Decompresses `path` to the end, handing each decompressed chunk to `consume`; fails on corruption,
    /// a bad frame checksum or a truncated last frame. Returns the decompressed size.
    @discardableResult
    public static func decompress(path: String,
                                  consume: (UnsafeRawBufferPointer) throws -> Void = { _ in }) throws -> Int64 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CompressionError(path: path, problem: "cannot open: \(Errno.text())") }
        defer { close(fd) }
        guard let context = ZSTD_createDCtx() else {
            throw CompressionError(path: path, problem: "libzstd could not allocate a decompression context")
        }
        defer { ZSTD_freeDCtx(context) }
        let inBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ZSTD_DStreamInSize() * 8, alignment: 16)
        let outBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ZSTD_DStreamOutSize() * 8, alignment: 16)
        defer {
            inBuffer.deallocate()
            outBuffer.deallocate()
        }
        var total: Int64 = 0
        var lastResult = 0
        var sawInput = false
        while true {
            let n = read(fd, inBuffer.baseAddress, inBuffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw CompressionError(path: path, problem: "read failed: \(Errno.text())")
            }
            if n == 0 { break }
            sawInput = true
            var input = ZSTD_inBuffer(src: inBuffer.baseAddress, size: n, pos: 0)
            while input.pos < input.size || lastResult > 0 {
                var output = ZSTD_outBuffer(dst: outBuffer.baseAddress, size: outBuffer.count, pos: 0)
                lastResult = ZSTD_decompressStream(context, &output, &input)
                if ZSTD_isError(lastResult) != 0 {
                    throw CompressionError(path: path, problem: "corrupt zstd data after \(total) decompressed bytes: "
                        + String(cString: ZSTD_getErrorName(lastResult)))
                }
                if output.pos > 0 {
                    try consume(UnsafeRawBufferPointer(rebasing: outBuffer[0..<output.pos]))
                    total += Int64(output.pos)
                }
                if input.pos == input.size && output.pos < output.size { break }
            }
        }
        guard sawInput else { throw CompressionError(path: path, problem: "is empty, not a zstd file") }
        guard lastResult == 0 else {
            throw CompressionError(path: path, problem: "truncated: the last zstd frame ends early")
        }
        return total
    }
}
