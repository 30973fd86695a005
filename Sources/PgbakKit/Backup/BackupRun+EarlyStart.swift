import Foundation

/// A base backup started against the member that led at the newest backup, while Patroni and the database are asked
/// who leads now: they almost always name the same member, and then asking costs the backup nothing. When they name
/// another member (or the tools are too old for its server), the early base backup is stopped and its staging
/// directory removed before the backup starts again from the confirmed leader; nothing of it is ever published.
struct EarlyStart: Sendable {
    var id: String
    var staging: String
    var choice: LeaderChoice
    /// Where the pg_basebackup it runs is (the newest installed, or postgres.bin_dir).
    var binDir: String
    var physical: Task<PhysicalPart.Result, any Error>

    /// Whether the base backup runs against `leader` with `tools`, the ones the backup would use.
    func matches(_ leader: ConfirmedLeader, tools: PostgresTools) -> Bool {
        leader.choice.name == choice.name && leader.choice.host == choice.host && leader.choice.port == choice.port
            && tools.binDir == binDir && tools.majorVersion >= leader.identity.majorVersion
    }
}

extension BackupRun {
    /// Starts the base backup against the newest backup's leader; nil when there is no earlier backup, this host's
    /// member is another one (a member's cron must not back up from elsewhere), or the client tools are not known.
    func startEarly(probe: LeaderProbe, credentials: RunCredentials) -> EarlyStart? {
        guard let previous = context.repository.newest(detail: .listing)?.manifest.leader else { return nil }
        if let member = context.config.thisHost.member, member != previous.name { return nil }
        // Its version is not waited for: `matches` checks it once `pg_basebackup --version` has answered.
        guard let binDir = PostgresTools.candidates(configured: context.config.postgres.binDir).first,
            FileManager.default.isExecutableFile(atPath: binDir + "/pg_basebackup"),
            let environment = try? credentials.environment(for: context.config.postgres.replication),
            let taken = try? context.repository.takenIDs()
        else { return nil }
        let tools = PostgresTools(binDir: binDir, majorVersion: 0, versionText: "")
        let (id, _) = BackupID.next(after: Date(), taken: taken)
        guard let staging = try? context.repository.createStaging(id: id) else { return nil }
        let choice = LeaderChoice(
            name: previous.name, host: previous.host, port: previous.port, timeline: nil, apiURL: nil)
        let part = PhysicalPart(
            tools: tools, target: probe.replicationTarget(choice), environment: environment, config: context.config,
            label: "pgbak \(id)", progress: context.progress)
        context.logger.debug(
            "base backup started before the leader is confirmed",
            metadata: ["backup.id": "\(id)", "from": "\(choice.name)"])
        return EarlyStart(
            id: id, staging: staging, choice: choice, binDir: binDir,
            physical: Task { try await part.run(staging: staging) })
    }

    /// Stops an early base backup that is not used and removes what it wrote.
    func discard(_ early: EarlyStart?) async {
        guard let early else { return }
        early.physical.cancel()
        _ = await early.physical.result
        try? context.repository.discardStaging(id: early.id)
    }
}

/// Waits for `task`, cancelling it when the waiting task is cancelled (an unstructured task does not inherit that).
func awaitCancellably<T: Sendable>(_ task: Task<T, any Error>) async throws -> T {
    try await withTaskCancellationHandler {
        try await task.value
    } onCancel: {
        task.cancel()
    }
}
