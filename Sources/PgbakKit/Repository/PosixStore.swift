import Foundation

/// `RepositoryStore` on a POSIX filesystem below `root`: a key is a relative path. An object is written to a
/// temporary file, fsynced and linked to its name (link never replaces an existing file), then its directory is
/// fsynced: a crash leaves either no object or the whole one.
public struct PosixStore: RepositoryStore {
    public let root: String

    public init(root: String) { self.root = root }

    public var location: String { root }

    public func list(under prefix: String) throws -> [StoredObject] {
        let base = root + "/" + prefix
        guard let walker = FileManager.default.enumerator(atPath: base) else { return [] }
        var found: [StoredObject] = []
        while let entry = walker.nextObject() as? String {
            if let object = object(prefix + "/" + entry) { found.append(object) }
        }
        return found
    }

    public func listFolder(_ prefix: String) throws -> [StoredObject] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root + "/" + prefix)) ?? []
        return names.compactMap { object(prefix + "/" + $0) }
    }

    /// A regular file's object; nil for directories and the temporary files of writes under way.
    private func object(_ key: String) -> StoredObject? {
        guard !(key.split(separator: "/").last?.hasPrefix(".") ?? true) else { return nil }
        var st = stat()
        guard stat(root + "/" + key, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        let modified = Date(
            timeIntervalSince1970: Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1_000_000_000)
        return StoredObject(key: key, size: Int64(st.st_size), modified: modified)
    }

    public func read(_ key: String) throws -> Data? {
        let path = root + "/" + key
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RepositoryError(path: path, problem: "cannot be read: \(Errno.text())")
        }
        return data
    }

    public func create(_ key: String, data: Data, modified: Date?) throws -> Bool {
        let path = root + "/" + key
        let directory = (path as NSString).deletingLastPathComponent
        try makeDirectories(directory)
        let temporary = directory + "/." + (path as NSString).lastPathComponent + ".\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RepositoryError(path: temporary, problem: "cannot create: \(Errno.text())") }
        defer { unlink(temporary) }
        do {
            defer { close(fd) }
            if let code = data.withUnsafeBytes({ Errno.writeAll(fd, $0) }) {
                throw RepositoryError(path: temporary, problem: "write failed: \(Errno.text(code))")
            }
            if let modified {
                let seconds = modified.timeIntervalSince1970
                var times = [
                    timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9)),
                    timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9)),
                ]
                futimens(fd, &times)
            }
            guard fsync(fd) == 0 else {
                throw RepositoryError(path: temporary, problem: "fsync failed: \(Errno.text())")
            }
        }
        if link(temporary, path) != 0 {
            if errno == EEXIST { return false }
            throw RepositoryError(path: path, problem: "cannot be linked into place: \(Errno.text())")
        }
        try Durability.syncDirectory(directory)
        return true
    }

    public func replace(_ key: String, data: Data) throws {
        let path = root + "/" + key
        let directory = (path as NSString).deletingLastPathComponent
        try makeDirectories(directory)
        let temporary = directory + "/." + (path as NSString).lastPathComponent + ".\(getpid()).tmp"
        do {
            try data.write(to: URL(fileURLWithPath: temporary))
            chmod(temporary, 0o600)
            try Durability.syncFile(temporary)
        } catch {
            unlink(temporary)
            throw RepositoryError(path: temporary, problem: "cannot write: \(error.localizedDescription)")
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw RepositoryError(path: path, problem: "cannot be renamed into place: \(Errno.text())")
        }
        try Durability.syncDirectory(directory)
    }

    public func delete(_ key: String) throws {
        let path = root + "/" + key
        guard unlink(path) == 0 || errno == ENOENT else {
            throw RepositoryError(path: path, problem: "cannot be removed: \(Errno.text())")
        }
    }

    /// Creates the missing directories of `directory` (mode 0700), each made durable in its parent.
    private func makeDirectories(_ directory: String) throws {
        var missing: [String] = []
        var cursor = directory
        while !FileManager.default.fileExists(atPath: cursor), cursor.count > root.count {
            missing.append(cursor)
            cursor = (cursor as NSString).deletingLastPathComponent
        }
        for dir in missing.reversed() {
            if mkdir(dir, 0o700) != 0, errno != EEXIST {
                throw RepositoryError(path: dir, problem: "cannot create: \(Errno.text())")
            }
            try Durability.syncDirectory((dir as NSString).deletingLastPathComponent)
        }
    }
}
