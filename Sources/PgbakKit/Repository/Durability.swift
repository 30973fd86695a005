import Foundation

/// fsync helpers: a backup is published only after its files and directories are on disk.
enum Durability {
    static func syncFile(_ path: String, directory: Bool = false) throws {
        let fd = open(path, (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC)
        guard fd >= 0 else { throw RepositoryError(path: path, problem: "cannot open to fsync: \(Errno.text())") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw RepositoryError(path: path, problem: "fsync failed: \(Errno.text())") }
    }

    static func syncDirectory(_ path: String) throws { try syncFile(path, directory: true) }

    /// fsyncs every file and directory below `root`, and `root` itself.
    static func syncTree(_ root: String) throws {
        let fm = FileManager.default
        for entry in (try? fm.subpathsOfDirectory(atPath: root)) ?? [] {
            let path = root + "/" + entry
            var isDir: ObjCBool = false
            _ = fm.fileExists(atPath: path, isDirectory: &isDir)
            try syncFile(path, directory: isDir.boolValue)
        }
        try syncDirectory(root)
    }
}

/// Ownership and permission checks on the repository.
enum RepositoryOwnership {
    static func currentUserName() -> String {
        guard let pw = getpwuid(geteuid()) else { return "uid \(geteuid())" }
        return String(cString: pw.pointee.pw_name)
    }

    static func check(path: String, owner: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else { throw RepositoryError(path: path, problem: "cannot stat: \(Errno.text())") }
        let actual = getpwuid(st.st_uid).map { String(cString: $0.pointee.pw_name) } ?? "uid \(st.st_uid)"
        guard actual == owner else {
            throw RepositoryError(
                path: path,
                problem: "is owned by '\(actual)', not by the PostgreSQL OS user "
                    + "'\(owner)' (repository.owner); fix with: chown -R \(owner): \(path)")
        }
    }
}

/// Which processes have files open below a directory (from /proc/*/fd and /proc/*/cwd).
enum OpenFiles {
    struct Use {
        var pid: Int32
        var path: String
    }

    static func pathsInUse(under directory: String) -> [Use] {
        var uses: [Use] = []
        let fm = FileManager.default
        for entry in (try? fm.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), pid != getpid() else { continue }
            var links = ["/proc/\(entry)/cwd"]
            links += ((try? fm.contentsOfDirectory(atPath: "/proc/\(entry)/fd")) ?? []).map {
                "/proc/\(entry)/fd/\($0)"
            }
            for link in links {
                if let target = try? fm.destinationOfSymbolicLink(atPath: link),
                    target == directory || target.hasPrefix(directory + "/")
                {
                    uses.append(Use(pid: pid, path: target))
                }
            }
        }
        return uses
    }
}
