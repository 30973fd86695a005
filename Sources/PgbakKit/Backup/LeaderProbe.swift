import Foundation
import Logging

/// The leader as Patroni names it and the database confirms it.
public struct ConfirmedLeader: Sendable {
    public var choice: LeaderChoice
    public var identity: ServerIdentity
    public var patroniURL: String
    /// The connection that confirmed it, for the checks that follow.
    public var session: LeaderSession
}

/// The connection that confirmed the leader, kept for what follows on the leader (the database list, the checks
/// after the base backup and after each dump): a query on it costs one round trip, where a new connection costs a
/// TCP and SCRAM handshake on both sides while pg_basebackup keeps the cores busy. One user at a time.
public final class LeaderSession: @unchecked Sendable {
    private let lock = NSLock()
    private var connection: PGConnection?

    init(_ connection: PGConnection?) { self.connection = connection }

    /// `body` on the kept connection; when there is none or `body` fails on it (a connection the server closed,
    /// say), on a new one from `connect`, which is kept instead. Errors on the new connection are thrown.
    func run<T>(_ body: (PGConnection) throws -> T, connect: () throws -> PGConnection) throws -> T {
        try lock.withLock {
            if let connection, let value = try? body(connection) { return value }
            connection = nil
            let fresh = try connect()
            connection = fresh
            return try body(fresh)
        }
    }
}

/// Finds the leader through Patroni and confirms it on the database itself.
public struct LeaderProbe: Sendable {
    public var config: PgbakConfig
    public var logger: Logger

    public init(config: PgbakConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    public func discover() async throws -> ConfirmedLeader {
        let client = PatroniClient(config: config.patroni, configFile: config.file, logger: logger)
        let (cluster, url) = try await client.cluster()
        let choice = try LeaderSelection.choose(from: cluster, scope: config.scope)
        logger.debug("Patroni names the leader", metadata: ["leader": "\(choice.name)", "via": "\(url)"])
        let (identity, connection) = try confirmKeeping(choice)
        if let dcsTimeline = choice.timeline, let dbTimeline = identity.timeline, dcsTimeline != dbTimeline {
            throw BackupError(
                problem: "Patroni says leader \(choice.name) is on timeline \(dcsTimeline), but its "
                    + "database is on timeline \(dbTimeline); the cluster is changing, try again in a minute")
        }
        return ConfirmedLeader(
            choice: choice, identity: identity, patroniURL: url, session: LeaderSession(connection))
    }

    /// The version of Patroni on `choice` (for the manifest), nil when its API does not say.
    public func patroniVersion(of choice: LeaderChoice) async -> String? {
        guard let api = choice.apiURL else { return nil }
        let client = PatroniClient(config: config.patroni, configFile: config.file, logger: logger)
        return (try? await client.nodeStatus(apiURL: api))?.patroni?.version
    }

    /// Nil while `leader` is still a reachable primary on the same timeline of the same cluster; otherwise what
    /// changed (a backup never mixes two sources).
    public func change(since leader: ConfirmedLeader) -> String? {
        let now: ServerIdentity
        do {
            now = try onLeader(leader) { try Self.primary(try ServerIdentity.read($0), choice: leader.choice) }
        } catch {
            return "\(leader.choice.name) is no longer a reachable primary (\(error.localizedDescription))"
        }
        guard now.systemIdentifier == leader.identity.systemIdentifier, now.timeline == leader.identity.timeline else {
            return "\(leader.choice.name) moved from timeline \(leader.identity.timeline ?? 0) to \(now.timeline ?? 0) "
                + "(a failover happened)"
        }
        return nil
    }

    /// Connects to `choice` and checks it is a primary; returns what the database says about itself.
    public func confirm(_ choice: LeaderChoice) throws -> ServerIdentity {
        try confirmKeeping(choice).identity
    }

    /// `confirm`, and the connection it used.
    func confirmKeeping(_ choice: LeaderChoice) throws -> (identity: ServerIdentity, connection: PGConnection) {
        let connection = try connect(choice, database: "postgres")
        return (try Self.primary(try ServerIdentity.read(connection), choice: choice), connection)
    }

    /// `identity`, when it is a primary's.
    private static func primary(_ identity: ServerIdentity, choice: LeaderChoice) throws -> ServerIdentity {
        guard !identity.inRecovery else {
            throw BackupError(
                problem: "Patroni names \(choice.name) (\(choice.host):\(choice.port)) as leader, but "
                    + "its database is in recovery: Patroni's view is stale or a failover is under way; nothing was "
                    + "backed up")
        }
        return identity
    }

    /// `body` on the connection that confirmed `leader` (or a new one to it, see LeaderSession), as the dump user.
    func onLeader<T>(_ leader: ConfirmedLeader, _ body: (PGConnection) throws -> T) throws -> T {
        try leader.session.run(body) { try connect(leader.choice, database: "postgres") }
    }

    /// A libpq connection to `choice` as the dump user.
    public func connect(_ choice: LeaderChoice, database: String) throws -> PGConnection {
        let target = dumpTarget(choice)
        let credentials = try RunCredentials.connectionParameters(for: config.postgres.dump, configFile: config.file)
        let context =
            "connecting to \(choice.name) at \(choice.host):\(choice.port) as \(target.user) "
            + "(\(config.postgres.dump.configKey) in \(config.file))"
        return try PGConnection(
            parameters: target.parameters(database: database).merging(credentials) { $1 },
            context: context)
    }

    public func dumpTarget(_ choice: LeaderChoice) -> ConnectionTarget {
        ConnectionTarget(
            host: choice.host, port: choice.port, user: config.postgres.dump.user,
            connectTimeout: config.postgres.connectTimeoutSeconds)
    }

    public func replicationTarget(_ choice: LeaderChoice) -> ConnectionTarget {
        ConnectionTarget(
            host: choice.host, port: choice.port, user: config.postgres.replication.user,
            connectTimeout: config.postgres.connectTimeoutSeconds)
    }
}
