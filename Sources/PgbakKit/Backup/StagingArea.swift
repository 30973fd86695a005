import Foundation

/// Where the files of a backup being taken go. For a repository in a directory, the staging directory itself. For
/// one in a bucket, each file the run produces is uploaded as it is written (`sink`), the local directory holding
/// only what tools write themselves (pg_basebackup), until it is uploaded (`adopt`, or `FollowingHasher` while
/// pg_basebackup still writes), and the manifest until `publish`.
public struct StagingArea: Sendable {
    /// The local directory (the backup's files themselves for a POSIX repository).
    public let directory: String
    let objects: (any StagedObjects)?

    public init(directory: String, objects: (any StagedObjects)? = nil) {
        self.directory = directory
        self.objects = objects
    }

    /// Whether files leave this host as they are written.
    public var isRemote: Bool { objects != nil }

    /// A new file of the backup at `relativePath`.
    func sink(_ relativePath: String, checksum: FileChecksum.Algorithm = .crc32c) throws -> FileSink {
        guard let objects else { return try FileSink(path: directory + "/" + relativePath, checksum: checksum) }
        return FileSink(
            upload: try objects.upload(relativePath), name: objects.describe(relativePath), checksum: checksum)
    }

    /// The upload of `relativePath` (remote staging only).
    func upload(_ relativePath: String) throws -> (any ObjectUpload)? {
        try objects?.upload(relativePath)
    }

    /// Removes a file the backup will not list after all.
    func remove(_ relativePath: String) throws {
        if let objects { return try objects.delete(relativePath) }
        unlink(directory + "/" + relativePath)
    }

    /// The record of a file a tool wrote into the local directory; in a bucket it is uploaded on the way (the local
    /// copy goes with the staging directory).
    func adopt(_ relativePath: String) throws -> FileRecord {
        let path = directory + "/" + relativePath
        guard let objects else { return try FileDigest.record(path: path, relativePath: relativePath) }
        let sink = FileSink(upload: try objects.upload(relativePath), name: objects.describe(relativePath))
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
