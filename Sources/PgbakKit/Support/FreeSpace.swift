import Foundation

/// Free space of filesystems.
enum FreeSpace {
    /// Bytes an unprivileged user can still write on the filesystem holding `path`; nil when statvfs fails (errno set).
    static func bytes(at path: String) -> Int64? {
        var st = statvfs()
        guard statvfs(path, &st) == 0 else { return nil }
        return Int64(st.f_bavail) * Int64(st.f_frsize)
    }
}
