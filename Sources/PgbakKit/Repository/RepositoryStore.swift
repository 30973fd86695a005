import Foundation

/// One object of a repository store: its key (a relative path with `/`), size and when it was written.
public struct StoredObject: Sendable, Equatable {
    public var key: String
    public var size: Int64
    public var modified: Date
}

/// Objects by key, the way every repository driver can hold them: written once, whole and durably, never
/// overwritten in place. The WAL archive lives behind it, so a driver for object storage serves it unchanged.
public protocol RepositoryStore: Sendable {
    /// A human-readable location, for messages.
    var location: String { get }
    /// Every object whose key starts with `prefix` followed by `/` (the whole tree below it), in no set order.
    func list(under prefix: String) throws -> [StoredObject]
    /// The objects directly below `prefix` (no deeper), for a cheap look-up in one folder.
    func listFolder(_ prefix: String) throws -> [StoredObject]
    /// The whole object; nil when it does not exist.
    func read(_ key: String) throws -> Data?
    /// Stores `data` under `key` durably and atomically (a reader sees all of it or nothing), with `modified` as its
    /// time when given. Returns false, changing nothing, when `key` exists already.
    func create(_ key: String, data: Data, modified: Date?) throws -> Bool
    /// Stores `data` under `key` durably and atomically, replacing what is there (small records: requests, results).
    func replace(_ key: String, data: Data) throws
    /// Removes an object; one that does not exist is no error.
    func delete(_ key: String) throws
}
