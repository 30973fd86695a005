import Foundation

/// `RepositoryStore` on an S3 bucket below the settings' prefix. A create is one PUT with `If-None-Match: *`, so an
/// object appears whole or not at all and an existing one is never replaced. Stores that ignore the condition
/// replace instead; pgbak's keys carry their content's checksum, so that replaces an object with its equal.
/// An object's time is when the store received it (S3 keeps no other).
public struct S3Store: RepositoryStore {
    public let client: S3Client

    public init(client: S3Client) { self.client = client }

    public var location: String { client.settings.location }

    public func list(under prefix: String) throws -> [StoredObject] {
        try client.list(prefix: prefix + "/").objects.map(Self.stored)
    }

    public func listFolder(_ prefix: String) throws -> [StoredObject] {
        try client.list(prefix: prefix + "/", delimiter: "/").objects.map(Self.stored)
    }

    public func read(_ key: String) throws -> Data? {
        try client.get(key)
    }

    public func create(_ key: String, data: Data, modified: Date?) throws -> Bool {
        try client.put(key, data: data, ifNoneMatch: true) != .preconditionFailed
    }

    public func replace(_ key: String, data: Data) throws {
        _ = try client.put(key, data: data)
    }

    public func delete(_ key: String) throws {
        try client.delete(key)
    }

    static func stored(_ object: S3Object) -> StoredObject {
        StoredObject(key: object.key, size: object.size, modified: object.modified)
    }
}
