import CZstd
import Foundation

/// Whole-buffer zstd for files small enough to hold in memory (a WAL segment): one frame with its content size and
/// a frame checksum, so a damaged copy fails to decompress.
public enum ZstdBlock {
    public static func compress(_ data: Data, level: Int, name: String) throws -> Data {
        guard let context = ZSTD_createCCtx() else {
            throw CompressionError(path: name, problem: "libzstd could not allocate a compression context")
        }
        defer { ZSTD_freeCCtx(context) }
        for (param, value) in [(ZSTD_c_compressionLevel, Int32(level)), (ZSTD_c_checksumFlag, Int32(1))] {
            let rc = ZSTD_CCtx_setParameter(context, param, value)
            if ZSTD_isError(rc) != 0 { throw error(rc, name) }
        }
        var output = Data(count: ZSTD_compressBound(data.count))
        let written = output.withUnsafeMutableBytes { out in
            data.withUnsafeBytes { input in
                ZSTD_compress2(context, out.baseAddress, out.count, input.baseAddress, input.count)
            }
        }
        if ZSTD_isError(written) != 0 { throw error(written, name) }
        output.count = written
        return output
    }

    /// Decompresses one frame; fails on damage (frame checksum), a truncated frame or one larger than `limit`.
    public static func decompress(_ data: Data, name: String, limit: Int = 1 << 30) throws -> Data {
        let size = data.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        guard size != ZSTD_CONTENTSIZE_ERROR, size != ZSTD_CONTENTSIZE_UNKNOWN, size <= UInt64(limit) else {
            throw CompressionError(
                path: name, problem: "is not a whole zstd frame with its size (damaged or truncated)")
        }
        var output = Data(count: Int(size))
        let written = output.withUnsafeMutableBytes { out in
            data.withUnsafeBytes { input in
                ZSTD_decompress(out.baseAddress, out.count, input.baseAddress, input.count)
            }
        }
        if ZSTD_isError(written) != 0 { throw error(written, name) }
        guard written == Int(size) else {
            throw CompressionError(path: name, problem: "decompressed to \(written) bytes, not \(size)")
        }
        return output
    }

    private static func error(_ code: Int, _ name: String) -> CompressionError {
        CompressionError(path: name, problem: "libzstd: " + String(cString: ZSTD_getErrorName(code)))
    }
}
