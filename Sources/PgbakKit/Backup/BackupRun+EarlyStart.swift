import Foundation

/// A base backup running into a staging directory of its own.
struct PhysicalRun: Sendable {
    var id: String
    var staging: StagingArea
    var task: Task<PhysicalPart.Result, any Error>
}

/// A base backup started against the member that led at the newest complete backup, while Patroni and the database
/// are asked who leads now: they almost always name the same member, and then asking costs the backup nothing. When
/// they name another member (or the tools are too old for its server), the early base backup is stopped and its
/// staging directory removed before the backup starts again from the confirmed leader; nothing of it is published.
struct EarlyStart: Sendable {
    var choice: LeaderChoice
    /// Where the pg_basebackup it runs is (the newest installed, or postgres.bin_dir).
    var binDir: String
    var run: PhysicalRun
    /// Full or incremental, as planned from the newest backup's leader.
    var plan: BaseBackupPlan

    /// Whether the base backup runs against `leader` with `tools`, the ones the backup would use, as `plan` says.
    func matches(_ leader: ConfirmedLeader, tools: PostgresTools, plan: BaseBackupPlan) -> Bool {
        leader.choice.name == choice.name && leader.choice.host == choice.host && leader.choice.port == choice.port
            && tools.binDir == binDir && tools.majorVersion >= leader.identity.majorVersion && plan == self.plan
    }
}

extension BackupRun {
    /// Creates a staging directory under a new id and starts the base backup from `choice` into it.
    func startPhysical(
        from choice: LeaderChoice, tools: PostgresTools, probe: LeaderProbe, credentials: RunCredentials,
        plan: BaseBackupPlan, known: [StoredBackup]
    ) throws -> PhysicalRun {
        let environment = try credentials.environment(for: context.config.postgres.replication)
        let parentManifest = try parentManifest(for: plan, known: known, credentials: credentials)
        let id = BackupID.next(after: Date(), taken: try context.repository.takenIDs()).id
        let staging = try context.repository.createStaging(id: id)
        let part = PhysicalPart(
            tools: tools, target: probe.replicationTarget(choice), environment: environment, config: context.config,
            label: "pgbak \(id)", progress: context.progress, plan: plan,
            parentManifest: parentManifest)
        return PhysicalRun(id: id, staging: staging, task: Task { try await part.run(staging: staging) })
    }

    /// Stops a base backup whose result will not be used and removes its staging directory.
    func discard(_ run: PhysicalRun?) async {
        guard let run else { return }
        run.task.cancel()
        _ = await run.task.result
        try? context.repository.discardStaging(id: run.id)
    }

    /// Starts the base backup against `previous`'s leader; nil when there is no earlier backup, this host's member is
    /// another one (a member's cron must not back up from elsewhere), or no pg_basebackup is installed.
    func startEarly(
        after previous: StoredBackup?, known: [StoredBackup], probe: LeaderProbe, credentials: RunCredentials
    ) -> EarlyStart? {
        guard let previous else { return nil }
        let leader = previous.manifest.leader
        if let member = context.config.thisHost.member, member != leader.name { return nil }
        // Its version is not waited for: `matches` checks it once `pg_basebackup --version` has answered.
        guard let binDir = PostgresTools.candidates(configured: context.config.postgres.binDir).first,
            FileManager.default.isExecutableFile(atPath: binDir + "/pg_basebackup")
        else { return nil }
        let choice = LeaderChoice(name: leader.name, host: leader.host, port: leader.port, timeline: nil, apiURL: nil)
        // Planned as if the cluster were as the newest backup found it; `matches` compares with the real plan.
        let cluster = previous.manifest.cluster
        let plan = basePlan(
            for: IncrementalPlanner.Source(
                serverMajor: cluster.serverVersionNum / 10000, systemIdentifier: cluster.systemIdentifier,
                timeline: previous.manifest.physical.stopTimeline ?? cluster.timeline),
            known: known)
        guard
            let run = try? startPhysical(
                from: choice, tools: PostgresTools(binDir: binDir, majorVersion: 0, versionText: ""), probe: probe,
                credentials: credentials, plan: plan, known: known)
        else { return nil }
        context.logger.debug(
            "base backup started before the leader is confirmed",
            metadata: ["backup.id": "\(run.id)", "from": "\(choice.name)"])
        return EarlyStart(choice: choice, binDir: binDir, run: run, plan: plan)
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
