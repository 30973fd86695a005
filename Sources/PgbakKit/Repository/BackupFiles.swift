import Foundation

/// The files of one stored backup, in a directory or below a bucket prefix: what verification and restore read.
/// Sealed files (an encrypted repository) are decrypted with `key` as they are read; a sealed file without a key
/// is an error.
public struct BackupFiles: Sendable {
    enum Place: Sendable {
        case directory(String)
        case bucket(S3Client, prefix: String)
    }

    let place: Place
    let key: RepositoryKey?
    /// How the manifest says the files are stored; sizes given to `open` are the plaintext's.
    private var encryption: Manifest.Encryption?

    public init(directory: String, key: RepositoryKey? = nil) {
        place = .directory(directory)
        self.key = key
    }

    public init(client: S3Client, prefix: String, key: RepositoryKey? = nil) {
        place = .bucket(client, prefix: prefix)
        self.key = key
    }

    /// The same files, read as `manifest` describes them.
    func reading(_ manifest: Manifest) -> BackupFiles {
        var files = self
        files.encryption = manifest.encryption
        return files
    }

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

    /// A whole (small) file, decrypted; nil when it does not exist.
    public func contents(_ relative: String) throws -> Data? {
        let stored: Data?
        switch place {
        case .directory(let path): stored = FileManager.default.contents(atPath: path + "/" + relative)
        case .bucket(let client, let prefix): stored = try client.get(prefix + relative)
        }
        return try stored.map { try SealedReading.open($0, key: key, name: describe(relative)) }
    }

    /// Reads `relative` in order, decrypted. `size` (the manifest's) saves asking the store for it.
    public func open(_ relative: String, size: Int64? = nil) throws -> any ByteSource {
        let raw: any ByteSource
        switch place {
        case .directory(let path):
            raw = try FileByteSource(path: path + "/" + relative)
        case .bucket(let client, let prefix):
            let key = prefix + relative
            let stored = size.map { size in encryption.map { $0.storedSize(ofPlaintext: size) } ?? size }
            guard let stored = try stored ?? client.head(key)?.size else {
                throw S3Error(problem: "\(client.describe(key)) does not exist")
            }
            raw = S3RangeReader(client: client, key: key, size: stored)
        }
        return try SealedReading.open(raw, key: key, name: describe(relative))
    }

    /// Hands every chunk of `relative` to `body`, in order.
    public func read(_ relative: String, size: Int64? = nil, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try open(relative, size: size).forEachChunk(body)
    }
}
