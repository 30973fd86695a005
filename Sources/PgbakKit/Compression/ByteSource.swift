import Foundation

/// Bytes read in order from a file or an object, on demand.
public protocol ByteSource: AnyObject {
    /// Fills the start of `buffer`; returns how many bytes, 0 at the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

extension ByteSource {
    /// Hands every chunk (up to `FileChunks.size`) to `body`, in order, to the end.
    func forEachChunk(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: FileChunks.size, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try read(into: buffer)
            if n == 0 { return }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
    }
}

/// A local file as a `ByteSource`.
final class FileByteSource: ByteSource {
    private let fd: Int32
    let path: String

    init(path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CompressionError(path: path, problem: "cannot open: \(Errno.text())") }
    }

    deinit { close(fd) }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno != EINTR { throw CompressionError(path: path, problem: "read failed: \(Errno.text())") }
        }
    }
}
