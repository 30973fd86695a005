import Foundation

/// The files of one stored backup, in a directory or below a bucket prefix: what verification and restore read.
public struct BackupFiles: Sendable {
    enum Place: Sendable {
        case directory(String)
        case bucket(S3Client, prefix: String)
    }

    let place: Place

    public init(directory: String) { place = .directory(directory) }
    public init(client: S3Client, prefix: String) { place = .bucket(client, prefix: prefix) }

    /// The directory, when the files are on this host's filesystem.
    public var localDirectory: String? {
        if case .directory(let path) = place { return path }
        return nil
    }

    /// A path or `s3://` URL, for messages.
    public func describe(_ relative: String) -> String {
        switch place {
        case .directory(let path): return path + "/" + relative
        case .bucket(let client, let prefix): return client.describe(prefix + relative)
        }
    }

    /// A whole (small) file; nil when it does not exist.
    public func contents(_ relative: String) throws -> Data? {
        switch place {
        case .directory(let path): return FileManager.default.contents(atPath: path + "/" + relative)
        case .bucket(let client, let prefix): return try client.get(prefix + relative)
        }
    }

    /// Reads `relative` in order. `size` (from the manifest) saves asking the store for it.
    public func open(_ relative: String, size: Int64? = nil) throws -> any ByteSource {
        switch place {
        case .directory(let path):
            return try FileByteSource(path: path + "/" + relative)
        case .bucket(let client, let prefix):
            let key = prefix + relative
            guard let size = try size ?? client.head(key)?.size else {
                throw S3Error(problem: "\(client.describe(key)) does not exist")
            }
            return S3RangeReader(client: client, key: key, size: size)
        }
    }

    /// Hands every chunk of `relative` to `body`, in order.
    public func read(_ relative: String, size: Int64? = nil, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try open(relative, size: size).forEachChunk(body)
    }
}
