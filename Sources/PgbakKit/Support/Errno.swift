import Foundation

/// errno as text, and the write loop every file pgbak writes goes through.
enum Errno {
    static func text(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

    /// Writes all of `data` to `fd`, however many calls it takes (short writes, EINTR); nil once written, else the
    /// errno of the write that failed. On EINVAL, `retry` may change how the file is written and return true to try
    /// again.
    static func writeAll(_ fd: Int32, _ data: UnsafeRawBufferPointer, retry: () -> Bool = { false }) -> Int32? {
        guard let base = data.baseAddress else { return nil }
        var offset = 0
        while offset < data.count {
            let n = write(fd, base + offset, data.count - offset)
            if n < 0 {
                let code = errno
                if code == EINTR || (code == EINVAL && retry()) { continue }
                return code
            }
            offset += n
        }
        return nil
    }
}
