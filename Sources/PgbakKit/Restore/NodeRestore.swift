import Foundation
import Logging

/// `pgbak restore --node NAME`: re-seed a replica from a backup through Patroni. Refuses the leader, unknown members
/// and backups of another cluster before touching anything; chooses a backup the node can catch up from; leaves the
/// choice where the replica-method entry point looks; asks the member's Patroni to reinitialize; waits until it
/// streams; reports whether Patroni used the backup or fell back to another method.
public struct NodeRestore: Sendable {
    public let context: RunContext

    public init(context: RunContext) {
        self.context = context
    }
    public struct Report: Sendable {
        public var member: String
        public var backupID: String
        public var seconds: Double
        public var result: RestoreResult?
    }

    public func execute(member name: String, backupID: String?, timeout: Double, force: Bool = false) async throws
        -> Report
    {
        let started = Date()
        try context.repository.prepare()
        let client = PatroniClient(
            config: context.config.patroni, configFile: context.config.file, logger: context.logger)
        let (cluster, _) = try await client.cluster()
        let leader = try LeaderSelection.choose(from: cluster, scope: context.config.scope)
        guard let member = cluster.members.first(where: { $0.name == name }) else {
            throw RestoreError(
                problem: "\(name) is not a member of cluster \(context.config.scope) (members: "
                    + cluster.members.map(\.name).joined(separator: ", ") + "); nothing was changed")
        }
        guard member.name != leader.name else {
            throw RestoreError(
                problem: "\(name) is the current leader; re-seeding it would take the cluster's "
                    + "primary down. Switch over first (patronictl switchover), then re-seed it as a replica")
        }
        guard let apiURL = member.apiURL else {
            throw RestoreError(problem: "Patroni does not say where \(name)'s REST API is (no api_url in /cluster)")
        }
        let seeder = ReplicaSeeder(context: context)
        let (backup, _, _) = try await seeder.choose(requested: backupID)
        let chain = try context.repository.chain(of: backup)
        try RestoreGate(force: force).admit(chain, repository: context.repository, logger: context.logger)
        try context.repository.markInUse(id: backup.id)
        defer { context.repository.releaseUse(id: backup.id) }

        // Where this host holds the member's data directory, the backup is written beside it while Patroni stops
        // the old PostgreSQL and removes the old data directory; the replica method then renames it into place.
        let (candidate, why) = PreparedSeed.locate(
            member: member, backup: backup, config: context.config, logger: context.logger)
        let writer = candidate.flatMap { PreparedSeed.Writer(seed: $0, logger: context.logger) }
        if writer == nil {
            context.logger.debug("the replica method writes the backup itself", metadata: ["why": "\(why)"])
        }
        defer { writer?.finish() }

        let store = RequestStore(store: context.repository.store)
        let request = RestoreRequest(
            requestID: UUID().uuidString.lowercased(), member: name, backupID: backup.id,
            requestedAt: Date(), force: force ? true : nil, seedDirectory: writer?.seed.path)
        try store.post(request)
        defer { store.withdraw(request) }
        // The member's postmaster start time before: only a PostgreSQL started after it counts as re-seeded.
        let before = try? await client.nodeStatus(apiURL: apiURL)
        context.progress?("asking \(name)'s Patroni to reinitialize from backup \(backup.id)")
        let base = apiURL.hasSuffix("/patroni") ? String(apiURL.dropLast("/patroni".count)) : apiURL
        let response = try await client.request("POST", url: base + "/reinitialize", jsonBody: #"{"force": true}"#)
        switch response.status {
        case 200: break
        case 401, 403:
            throw RestoreError(
                problem: "Patroni at \(base) answered \(response.status) to POST /reinitialize: set "
                    + "patroni.username and patroni.password_file (or password_env) in \(context.config.file) to its "
                    + "restapi.authentication")
        default:
            let body = String(decoding: response.body, as: UTF8.self)
            throw RestoreError(
                problem: "Patroni at \(base) refused POST /reinitialize (HTTP \(response.status)): \(body)")
        }
        writer?.start(chain, seeder: seeder, checkContent: !force)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            // A quarter second between looks. Done when the member's own API shows a new postmaster that runs and
            // streams (replication_state comes from its pg_stat_wal_receiver at the moment of asking). The cluster's
            // view lags by up to one Patroni loop and, within one loop, still shows the state from before; it is
            // consulted only for a Patroni that does not report replication_state.
            try await Task.sleep(for: .milliseconds(250))
            guard let own = try? await client.nodeStatus(apiURL: apiURL) else { continue }
            let streaming: Bool
            if let state = own.replicationState {
                streaming = state == "streaming"
                context.progress?("\(name): \(own.state ?? "unknown"), \(state)")
            } else {
                let listed = (try? await client.cluster())?.cluster.members.first { $0.name == name }?.state
                streaming = listed == "streaming"
                context.progress?("\(name): \(listed ?? "unknown")")
            }
            guard streaming, own.postmasterStartTime != nil,
                own.postmasterStartTime != before?.postmasterStartTime, own.state == "running"
            else { continue }
            return Report(
                member: name, backupID: backup.id, seconds: Date().timeIntervalSince(started),
                result: store.result(for: request.requestID))
        }
        throw RestoreError(problem: "\(name) did not stream again within \(Int(timeout)) s; see its Patroni log")
    }
}
