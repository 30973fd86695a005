import Foundation
import Logging

/// The leader as Patroni names it and the database confirms it.
public struct ConfirmedLeader: Sendable {
    public var choice: LeaderChoice
    public var identity: ServerIdentity
    public var patroniURL: String
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
        let identity = try confirm(choice)
        if let dcsTimeline = choice.timeline, let dbTimeline = identity.timeline, dcsTimeline != dbTimeline {
            throw BackupError(
                problem: "Patroni says leader \(choice.name) is on timeline \(dcsTimeline), but its "
                    + "database is on timeline \(dbTimeline); the cluster is changing, try again in a minute")
        }
        return ConfirmedLeader(choice: choice, identity: identity, patroniURL: url)
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
            now = try confirm(leader.choice)
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
        let connection = try connect(choice, database: "postgres")
        let identity = try ServerIdentity.read(connection)
        guard !identity.inRecovery else {
            throw BackupError(
                problem: "Patroni names \(choice.name) (\(choice.host):\(choice.port)) as leader, but "
                    + "its database is in recovery: Patroni's view is stale or a failover is under way; nothing was "
                    + "backed up")
        }
        return identity
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
