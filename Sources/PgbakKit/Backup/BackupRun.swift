import Foundation
import Logging

/// How `pgbak now` ended.
public enum BackupOutcome: Sendable {
    /// Every part succeeded; `pruned` lists what retention removed afterwards.
    case complete(Manifest, pruned: [String])
    /// The physical backup is good but a dump failed: kept, marked partial, retention not run.
    case partial(Manifest)
    /// This host's member does not lead (this_host.member); nothing was done.
    case skipped(String)
}

/// One `pgbak now`: find and confirm the leader, take the physical and logical backups into staging, write the
/// manifest, publish atomically, then apply retention.
public struct BackupRun: Sendable {
    public let context: RunContext
    /// No dumps: the logical part is recorded as skipped (`pgbak now --physical-only`).
    public let physicalOnly: Bool
    /// A full base backup even when an incremental one could be taken (`pgbak now --full`).
    public let forceFull: Bool

    public init(context: RunContext, physicalOnly: Bool = false, forceFull: Bool = false) {
        self.context = context
        self.physicalOnly = physicalOnly
        self.forceFull = forceFull
    }
    /// Receives context.progress text (pg_basebackup's context.progress, each dump); the caller decides whether to show it.

    public func execute() async throws -> BackupOutcome {
        try context.repository.prepare()
        let lock = try context.repository.lock()
        defer { lock.release() }
        let context = context
        for line in try context.repository.cleanStaleStaging() { context.logger.info("\(line)") }

        let probe = LeaderProbe(config: context.config, logger: context.logger)
        let credentials = try RunCredentials(
            directory: context.repository.runDirectory(), configFile: context.config.file)
        defer { credentials.remove() }
        // The newest complete backup sizes the space check and names the member the base backup starts against
        // while Patroni and the database are asked; it is started first, the questions follow at once.
        // With incremental backups on, one listing of the repository serves both.
        let candidates = try incrementalCandidates()
        let previous =
            if let candidates {
                candidates.last { $0.manifest.status == .complete }
            } else {
                try context.repository.newestComplete(detail: .listing)
            }
        let known = candidates ?? []
        var early = startEarly(after: previous, known: known, probe: probe, credentials: credentials)
        // The client tools' version is asked for while Patroni and the database are.
        let earlyTools = Task { await PostgresTools.newest(configured: context.config.postgres.binDir) }
        async let discovered = probe.discover()
        var leader: ConfirmedLeader
        do {
            leader = try await discovered
        } catch {
            await discard(early?.run)
            throw error
        }
        var retriesLeft = context.config.leaderChange.retries
        while true {
            if let member = context.config.thisHost.member, member != leader.choice.name {
                await discard(early?.run)
                let message =
                    "this host's member \(member) is not the leader (\(leader.choice.name) is); no backup taken"
                if context.config.thisHost.whenNotLeader == .skip { return .skipped(message) }
                throw BackupError(problem: message + " (this_host.when_not_leader: fail)")
            }
            do {
                let handed = early
                early = nil
                return try await attempt(
                    leader: leader, probe: probe, credentials: credentials, earlyTools: await earlyTools.value,
                    previous: previous, known: known, early: handed, lastAttempt: retriesLeft == 0, lock: lock)
            } catch {
                guard retriesLeft > 0, !Task.isCancelled,
                    let next = try await newLeader(after: leader, probe: probe, cause: error)
                else { throw error }
                context.logger.warning(
                    "the leader changed during the backup; the partial work was discarded, taking it again",
                    metadata: [
                        "from": "\(leader.choice.name)", "to": "\(next.choice.name)",
                        "timeline": "\(next.identity.timeline ?? 0)", "cause": "\(error.localizedDescription)",
                    ])
                retriesLeft -= 1
                leader = next
            }
        }
    }

    /// One backup from `leader`, from the tools check to retention. On the last attempt a leader change during the
    /// dumps leaves a partial backup (the physical part and the dumps taken before the change); before it, an error.
    private func attempt(
        leader: ConfirmedLeader, probe: LeaderProbe, credentials: RunCredentials, earlyTools: PostgresTools?,
        previous: StoredBackup?, known: [StoredBackup], early: EarlyStart?, lastAttempt: Bool, lock: any RunLock
    ) async throws -> BackupOutcome {
        let tools =
            if let earlyTools, earlyTools.majorVersion >= leader.identity.majorVersion {
                earlyTools
            } else {
                try await PostgresTools.locate(
                    configured: context.config.postgres.binDir,
                    serverMajor: leader.identity.majorVersion, configFile: context.config.file)
            }
        let started = Date()
        let plan = basePlan(for: Self.source(of: leader), known: known)
        let run: PhysicalRun
        if let early, early.matches(leader, tools: tools, plan: plan) {
            run = early.run
        } else {
            await discard(early?.run)
            run = try startPhysical(
                from: leader.choice, tools: tools, probe: probe, credentials: credentials, plan: plan, known: known)
        }
        let (id, staging) = (run.id, run.staging)
        var log = context.logger
        log[metadataKey: "backup.id"] = "\(id)"
        do {
            // The base backup runs from the moment the leader is confirmed (or earlier, see EarlyStart); the
            // database list and the space check run beside it. A failed check stops it and is the error reported.
            // Patroni's version is only for the manifest.
            async let patroniVersion = probe.patroniVersion(of: leader.choice)
            let (databases, databaseBytes) = try catalog(leader: leader, probe: probe, last: previous)
            // The dumps run while the base backup streams, each in its own snapshot and followed by a check that
            // the leader is still the same primary on the same timeline.
            async let logicalRun = logicalPart(
                tools: tools, leader: leader, probe: probe, credentials: credentials, staging: staging,
                databases: databases)
            let physical = try await awaitCancellably(run.task)
            if !physical.compressedEarly.isEmpty {
                log.debug(
                    "compressed while pg_basebackup ended",
                    metadata: ["files": "\(physical.compressedEarly.joined(separator: ","))"])
            }
            try reconfirm(leader, probe: probe, after: "the base backup")
            let logical = try await logicalRun
            if let change = logical.leaderChange, !lastAttempt {
                throw BackupError(problem: "during the dumps, \(change); the partial backup was discarded")
            }
            let manifest = try writeManifest(
                id: id, started: started, staging: staging, leader: leader, patroniVersion: await patroniVersion,
                tools: tools, databaseBytes: databaseBytes, physical: physical, logical: logical)
            try await physical.removingTars.value
            try lock.confirm()
            try context.repository.publish(id: id)
            log.debug("backup published", metadata: ["status": "\(manifest.status.rawValue)"])
            guard manifest.status == .complete else { return .partial(manifest) }
            let pruner = Pruner(repository: context.repository, policy: context.config.retention, logger: log)
            let pruned = try pruner.prune(protecting: [id], dryRun: false).deletions
            // The oldest kept backup moves only when one is removed: only then is there archived WAL to remove.
            if !pruned.isEmpty { _ = try pruner.pruneWAL(context.walArchive, dryRun: false) }
            return .complete(manifest, pruned: pruned)
        } catch {
            await discard(run)
            throw error
        }
    }

    /// After a failed attempt: the newly confirmed leader when it differs from `old` (another member, or a new
    /// timeline); nil when `old` still leads (the failure had another cause). Waits up to leader_change.wait_seconds
    /// for a leader to be confirmed.
    private func newLeader(
        after old: ConfirmedLeader, probe: LeaderProbe, cause: any Error
    ) async throws -> ConfirmedLeader? {
        let wait = context.config.leaderChange.waitSeconds
        let deadline = Date().addingTimeInterval(Double(wait))
        while true {
            if let found = try? await probe.discover() {
                let same =
                    found.choice.name == old.choice.name && found.identity.timeline == old.identity.timeline
                    && found.identity.systemIdentifier == old.identity.systemIdentifier
                return same ? nil : found
            }
            guard Date() < deadline else {
                throw BackupError(
                    problem: "\(cause.localizedDescription)\nNo leader was confirmed within \(wait) s "
                        + "(leader_change.wait_seconds in \(context.config.file)); nothing was backed up")
            }
            try await Task.sleep(for: .seconds(1))
        }
    }

    /// The databases to dump and the size of all of them, after checking the repository has room for the backup
    /// (`last`: the newest complete backup).
    private func catalog(leader: ConfirmedLeader, probe: LeaderProbe, last: StoredBackup?) throws -> (
        databases: [DatabaseInfo], bytes: Int64
    ) {
        let allDatabases = try probe.onLeader(leader) { try DatabaseInfo.list($0) }
        let databaseBytes = allDatabases.reduce(0) { $0 + $1.sizeBytes }
        try checkSpace(databaseBytes: databaseBytes, last: last)
        let databases = DatabaseInfo.select(
            allDatabases, include: context.config.postgres.includeDatabases,
            exclude: context.config.postgres.excludeDatabases)
        return (databases, databaseBytes)
    }

    func checkSpace(databaseBytes: Int64, last: StoredBackup?) throws {
        let needed = SpaceEstimate.requiredBytes(
            databaseBytes: databaseBytes, lastBackupBytes: last?.manifest.totalBytes,
            lastDatabaseBytes: last?.manifest.cluster.databaseBytes)
        let free = try context.repository.freeBytes()
        guard free >= needed else {
            throw BackupError(
                problem: "repository \(context.repository.location) has \(ByteFormat.text(free)) free, but the "
                    + "next backup needs about \(ByteFormat.text(needed)) (databases: \(ByteFormat.text(databaseBytes))"
                    + (last.map { ", last backup: \(ByteFormat.text($0.manifest.totalBytes))" } ?? "")
                    + "); free some space or lower retention.keep_last")
        }
    }

    /// The dumps and the globals; recorded as skipped with --physical-only.
    private func logicalPart(
        tools: PostgresTools, leader: ConfirmedLeader, probe: LeaderProbe, credentials: RunCredentials,
        staging: StagingArea, databases: [DatabaseInfo]
    ) async throws -> LogicalPart.Result {
        guard !physicalOnly else {
            return LogicalPart.Result(
                section: .init(
                    status: .skipped, toolVersion: tools.clientVersion, globalsFile: nil, databases: [], seconds: 0),
                files: [], leaderChange: nil)
        }
        return try await LogicalPart(
            dump: PgDump(
                tools: tools, target: probe.dumpTarget(leader.choice),
                environment: try credentials.environment(for: context.config.postgres.dump),
                lockWaitTimeoutSeconds: context.config.lockWaitTimeoutSeconds, zstdLevel: context.config.zstdLevel,
                zstdThreads: context.config.zstdThreads),
            probe: probe, leader: leader, logger: context.logger,
            progress: context.progress, maxCountedTableBytes: Int64(context.config.countRowsMaxTableMB) << 20
        ).run(staging: staging, databases: databases)
    }

    /// Writes the manifest and its checksum into staging, last.
    private func writeManifest(
        id: String, started: Date, staging: StagingArea, leader: ConfirmedLeader, patroniVersion: String?,
        tools: PostgresTools, databaseBytes: Int64, physical: PhysicalPart.Result, logical: LogicalPart.Result
    ) throws -> Manifest {
        let identity = leader.identity
        let status: Manifest.PartStatus = [.complete, .skipped].contains(logical.section.status) ? .complete : .partial
        let manifest = Manifest(
            format: Manifest.formatName,
            version: Manifest.version(encrypted: staging.encryption != nil, incremental: physical.incremental != nil),
            backupID: id, pgbakVersion: pgbakVersion,
            status: status, startedAt: started, finishedAt: Date(),
            cluster: .init(
                scope: context.config.scope, systemIdentifier: identity.systemIdentifier,
                timeline: physical.walRange.stopTimeline, serverVersion: identity.version,
                serverVersionNum: identity.versionNumber, databaseBytes: databaseBytes),
            leader: .init(
                name: leader.choice.name, host: leader.choice.host, port: leader.choice.port,
                patroniVersion: patroniVersion),
            physical: physical.section(toolVersion: tools.clientVersion),
            logical: logical.section,
            files: (physical.files + logical.files).sorted { $0.path < $1.path }, encryption: staging.encryption)
        // Both stay in the local directory: for a bucket, publishing is uploading them, the manifest last.
        let sink = try FileSink(path: staging.directory + "/" + Manifest.fileName, checksum: .sha256)
        try manifest.encoded().withUnsafeBytes { try sink.write($0) }
        let written = try sink.finish(relativePath: Manifest.fileName)
        let checksum = try FileSink(path: staging.directory + "/" + Manifest.checksumFileName)
        try Array((written.checksum.hex + "\n").utf8).withUnsafeBytes { try checksum.write($0) }
        _ = try checksum.finish(relativePath: Manifest.checksumFileName)
        return manifest
    }

    /// The leader must still be the same primary on the same timeline: a backup never mixes two sources.
    private func reconfirm(_ leader: ConfirmedLeader, probe: LeaderProbe, after step: String) throws {
        if let change = probe.change(since: leader) {
            throw BackupError(problem: "after \(step), \(change); the partial backup was discarded")
        }
    }
}

public enum ByteFormat {
    public static func text(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }
}
