import Foundation

/// Where the files of a backup being taken go. For a repository in a directory, the staging directory itself. For
/// one in a bucket, each file the run produces is uploaded as it is written (`sink`), the local directory holding
/// only what tools write themselves (pg_basebackup), until it is uploaded (`adopt`, or `FollowingHasher` while
/// pg_basebackup still writes), and the manifest until `publish`.
///
/// With a `key` (an encrypted repository), every file of the backup is stored sealed: the files pgbak writes as they
/// are written, pg_basebackup's while it writes them or once it is done (in a directory: a sealed copy renamed over
/// the plaintext). The manifest stays readable, and records the key's check.
public struct StagingArea: Sendable {
    /// The local directory (the backup's files themselves for a POSIX repository).
    public let directory: String
    let objects: (any StagedObjects)?
    let key: RepositoryKey?

    public init(directory: String, objects: (any StagedObjects)? = nil, key: RepositoryKey? = nil) {
        self.directory = directory
        self.objects = objects
        self.key = key
    }

    /// Whether files leave this host as they are written.
    public var isRemote: Bool { objects != nil }

    /// Whether files a tool writes here are replaced by (or uploaded as) another form while they are read: there is
    /// then no plaintext copy to read a second time.
    var transformsToolFiles: Bool { objects != nil || key != nil }

    /// The encryption the manifest records for the files staged here.
    var encryption: Manifest.Encryption? { key.map(Manifest.Encryption.init) }

    /// A new file of the backup at `relativePath`.
    func sink(_ relativePath: String, checksum: FileChecksum.Algorithm = .crc32c) throws -> FileSink {
        guard let objects else {
            return try FileSink(path: directory + "/" + relativePath, checksum: checksum, key: key)
        }
        return FileSink(
            upload: try objects.upload(relativePath), name: objects.describe(relativePath), checksum: checksum,
            key: key)
    }

    /// Where a file a tool is still writing into the local directory goes as it is read: uploaded (in a bucket),
    /// sealed (encrypted), both, or nowhere (nil: the file stays as it is).
    func upload(_ relativePath: String) throws -> (any ObjectUpload)? {
        let inner: any ObjectUpload
        if let objects {
            inner = try objects.upload(relativePath)
        } else if key != nil {
            // Beside the backup's directories, not in the one the tool writes (and pgbak lists).
            let temporary = directory + "/.sealing-" + relativePath.replacingOccurrences(of: "/", with: "-")
            inner = LocalFileUpload(replacing: directory + "/" + relativePath, through: temporary)
        } else {
            return nil
        }
        return key.map { SealingUpload(inner, key: $0) } ?? inner
    }

    /// Removes a file the backup will not list after all.
    func remove(_ relativePath: String) throws {
        if let objects { return try objects.delete(relativePath) }
        unlink(directory + "/" + relativePath)
    }

    /// The record of a file a tool wrote into the local directory; in a bucket it is uploaded on the way (the local
    /// copy goes with the staging directory), in an encrypted directory it is replaced by its sealed form.
    func adopt(_ relativePath: String) throws -> FileRecord {
        let path = directory + "/" + relativePath
        guard let upload = try upload(relativePath) else {
            return try FileDigest.record(path: path, relativePath: relativePath)
        }
        let sink = FileSink(upload: upload, name: objects?.describe(relativePath) ?? path)
        do {
            try FileChunks.read(path: path) { try sink.write($0) }
            return try sink.finish(relativePath: relativePath)
        } catch {
            sink.abort()
            throw error
        }
    }
}

/// The objects a remote staging area uploads into.
public protocol StagedObjects: Sendable {
    func upload(_ relativePath: String) throws -> any ObjectUpload
    func describe(_ relativePath: String) -> String
    func delete(_ relativePath: String) throws
}
