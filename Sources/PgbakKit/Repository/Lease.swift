import Foundation

/// The content of a repository lease: who holds it and for how long a silent holder keeps it.
public struct LeaseRecord: Codable, Sendable, Equatable {
    /// Random per run: tells this run's lease from another run's on the same host.
    public var token: String
    public var host: String
    public var pid: Int32
    public var scope: String
    public var ttlSeconds: Int

    public init(token: String, host: String, pid: Int32, scope: String, ttlSeconds: Int) {
        self.token = token
        self.host = host
        self.pid = pid
        self.scope = scope
        self.ttlSeconds = ttlSeconds
    }

    enum CodingKeys: String, CodingKey {
        case token, host, pid, scope
        case ttlSeconds = "ttl_seconds"
    }

    /// "host db2, PID 4242", for messages.
    public var holder: String { "host \(host), PID \(pid)" }
}

/// The lease found in the store: its content (nil when it cannot be decoded), version and age by the store's clock.
public struct FoundLease: Sendable, Equatable {
    public var record: LeaseRecord?
    public var etag: String
    /// Seconds since the holder last wrote it, both ends measured by the store's clock (Last-Modified against the
    /// answer's Date), so clock differences between hosts do not matter.
    public var age: Double
}

/// What a run does about the lease. A pure decision, unit-tested without a store.
public enum LeaseStep: Sendable, Equatable {
    /// No lease: create it (If-None-Match).
    case create
    /// This run's own lease (a retried write that had taken effect): renew it (If-Match).
    case renew(etag: String)
    /// The holder stopped renewing longer ago than its TTL allows (or the object is garbage): take it over (If-Match,
    /// so only one of several waiting runs succeeds).
    case takeOver(etag: String, from: LeaseRecord?)
    /// Someone else holds it.
    case wait(holder: LeaseRecord, expiresIn: Double)

    public static func decide(found: FoundLease?, token: String) -> LeaseStep {
        guard let found else { return .create }
        guard let record = found.record else { return .takeOver(etag: found.etag, from: nil) }
        if record.token == token { return .renew(etag: found.etag) }
        let left = Double(record.ttlSeconds) - found.age
        return left < 0 ? .takeOver(etag: found.etag, from: record) : .wait(holder: record, expiresIn: left)
    }
}
