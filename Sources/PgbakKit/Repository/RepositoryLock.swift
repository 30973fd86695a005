import Foundation

/// An exclusive `flock` on `<repository>/pgbak.lock`. The file stays in place (removing it would let two runs each
/// lock a different inode); it records the holder's PID so a refused run can name it.
public final class RepositoryLock: @unchecked Sendable {
    private var fd: Int32
    public let path: String

    public init(path: String) throws {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw RepositoryError(path: path, problem: "cannot open the lock file: \(Errno.text())")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            var buffer = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buffer, buffer.count, 0)
            Glibc.close(fd)
            fd = -1
            guard code == EWOULDBLOCK else {
                throw RepositoryError(path: path, problem: "cannot lock: \(Errno.text(code))")
            }
            let text = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
            throw RepositoryLocked(
                lockFile: path,
                holderPID: Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    /// Releases the lock; the file stays.
    public func release() {
        guard fd >= 0 else { return }
        _ = ftruncate(fd, 0)
        Glibc.close(fd)
        fd = -1
    }

    deinit { release() }
}
