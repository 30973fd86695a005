import Foundation

/// What `restore --node` asks of the replica-method entry point (POST /reinitialize carries no parameters), and
/// what the entry point reports back. Both live in `<repository>/requests/`.
public struct RestoreRequest: Codable, Sendable, Equatable {
    public var requestID: String
    public var member: String
    public var backupID: String
    public var requestedAt: Date
    /// `restore --node --force`: the gate's refusals were overridden; no content checks while materializing.
    public var force: Bool?
    /// Where `restore --node` writes the backup beside the member's data directory (see `PreparedSeed`).
    public var seedDirectory: String?

    enum CodingKeys: String, CodingKey {
        case member, force
        case requestID = "request_id", backupID = "backup_id", requestedAt = "requested_at"
        case seedDirectory = "seed_directory"
    }
}

public struct RestoreResult: Codable, Sendable, Equatable {
    public var requestID: String?
    public var member: String?
    public var backupID: String?
    public var dataDirectory: String
    public var ok: Bool
    public var error: String?
    public var startedAt: Date
    public var finishedAt: Date
    /// The data directory is the seed `restore --node` wrote beside it while Patroni removed the old one.
    public var preparedSeed: Bool?

    enum CodingKeys: String, CodingKey {
        case member, ok, error
        case requestID = "request_id", backupID = "backup_id", dataDirectory = "data_directory"
        case startedAt = "started_at", finishedAt = "finished_at", preparedSeed = "prepared_seed"
    }
}

/// Reads and writes requests and results (JSON objects in the repository's `requests/`, each replaced whole).
public struct RequestStore: Sendable {
    public let store: any RepositoryStore
    static let folder = "requests"

    public init(store: any RepositoryStore) {
        self.store = store
    }

    static var encoder: JSONEncoder { PgbakJSON.encoder() }
    static var decoder: JSONDecoder { PgbakJSON.decoder() }

    func write<T: Encodable>(_ value: T, name: String) throws {
        do {
            try store.replace("\(Self.folder)/\(name)", data: try Self.encoder.encode(value))
        } catch {
            throw RestoreError(
                problem: "cannot write \(store.location)/\(Self.folder)/\(name): \(error.localizedDescription)")
        }
    }

    public func post(_ request: RestoreRequest) throws {
        try write(request, name: "\(request.member).request.json")
        removeResults(olderThan: 30 * 86400)
    }

    /// Results are kept a month for the record, then removed.
    func removeResults(olderThan age: TimeInterval) {
        for object in (try? store.listFolder(Self.folder)) ?? []
        where object.key.hasSuffix(".result.json") && Date().timeIntervalSince(object.modified) > age {
            try? store.delete(object.key)
        }
    }

    /// The pending request for `member`, or (when the member is not known) the only pending one, if recent.
    public func pending(member: String?, maxAge: TimeInterval = 3600) -> RestoreRequest? {
        let requests = ((try? store.listFolder(Self.folder)) ?? []).filter { $0.key.hasSuffix(".request.json") }
            .compactMap { object in
                (try? store.read(object.key)).flatMap { $0 }.flatMap {
                    try? Self.decoder.decode(RestoreRequest.self, from: $0)
                }
            }.filter { Date().timeIntervalSince($0.requestedAt) < maxAge }
        if let member { return requests.first { $0.member == member } }
        return requests.count == 1 ? requests[0] : nil
    }

    public func withdraw(_ request: RestoreRequest) {
        try? store.delete("\(Self.folder)/\(request.member).request.json")
    }

    public func report(_ result: RestoreResult) throws {
        try write(result, name: "\(result.requestID ?? "unrequested-\(BackupID.make(result.startedAt))").result.json")
    }

    public func result(for requestID: String) -> RestoreResult? {
        (try? store.read("\(Self.folder)/\(requestID).result.json")).flatMap { $0 }
            .flatMap { try? Self.decoder.decode(RestoreResult.self, from: $0) }
    }
}
