import Foundation

/// A lag value from Patroni: bytes, or the string "unknown" (replica not streaming), or absent.
public enum PatroniLag: Sendable, Equatable, Decodable {
    case bytes(Int64)
    case unknown

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(Int64.self) {
            self = .bytes(n)
        } else if let s = try? c.decode(String.self) {
            self = Int64(s).map { .bytes($0) } ?? .unknown
        } else {
            self = .unknown
        }
    }
}

/// One member of `GET /cluster`, tolerant of the Patroni 3.x and 4.x shapes (missing keys are nil).
public struct PatroniMember: Sendable, Equatable, Decodable {
    public var name: String
    public var role: String
    public var state: String?
    public var apiURL: String?
    public var host: String?
    public var port: Int?
    public var timeline: Int?
    public var lag: PatroniLag?

    enum CodingKeys: String, CodingKey {
        case name, role, state, host, port, timeline, lag
        case apiURL = "api_url"
    }

    public init(
        name: String, role: String, state: String?, apiURL: String? = nil, host: String?, port: Int?,
        timeline: Int? = nil, lag: PatroniLag? = nil
    ) {
        self.name = name
        self.role = role
        self.state = state
        self.apiURL = apiURL
        self.host = host
        self.port = port
        self.timeline = timeline
        self.lag = lag
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        role = try c.decode(String.self, forKey: .role)
        state = try c.decodeIfPresent(String.self, forKey: .state)
        apiURL = try c.decodeIfPresent(String.self, forKey: .apiURL)
        host = try c.decodeIfPresent(String.self, forKey: .host)
        if let p = try? c.decodeIfPresent(Int.self, forKey: .port) {
            port = p
        } else {
            port = (try? c.decodeIfPresent(String.self, forKey: .port)).flatMap { $0.flatMap { Int($0) } }
        }
        timeline = try? c.decodeIfPresent(Int.self, forKey: .timeline)
        lag = try? c.decodeIfPresent(PatroniLag.self, forKey: .lag)
    }
}

/// The answer of `GET /cluster`.
public struct PatroniCluster: Sendable, Equatable, Decodable {
    public var members: [PatroniMember]
    /// Absent before Patroni 3.2.
    public var scope: String?

    public init(members: [PatroniMember], scope: String?) {
        self.members = members
        self.scope = scope
    }

    public static func decode(_ data: Data) throws -> PatroniCluster {
        try JSONDecoder().decode(PatroniCluster.self, from: data)
    }
}

/// The parts of `GET /patroni` pgbak reads.
public struct PatroniNodeStatus: Sendable, Equatable, Decodable {
    public struct Info: Sendable, Equatable, Decodable {
        public var version: String?
        public var scope: String?
        public var name: String?
    }

    public var state: String?
    public var role: String?
    public var timeline: Int?
    public var serverVersion: Int?
    public var systemIdentifier: String?
    public var patroni: Info?
    /// When the member's postmaster started: a new value means PostgreSQL was started again.
    public var postmasterStartTime: String?
    /// A replica's WAL receiver state ("streaming"), from Patroni 3.0 on.
    public var replicationState: String?

    enum CodingKeys: String, CodingKey {
        case state, role, timeline, patroni
        case serverVersion = "server_version"
        case systemIdentifier = "database_system_identifier"
        case postmasterStartTime = "postmaster_start_time"
        case replicationState = "replication_state"
    }
}
