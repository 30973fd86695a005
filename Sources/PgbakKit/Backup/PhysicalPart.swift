import Foundation

/// The physical part of a backup: pg_basebackup (client-side zstd for base and tablespace tars), then pg_wal.tar
/// compressed with libzstd, PostgreSQL's backup_manifest kept, every file hashed (`base.tar.zst` while
/// pg_basebackup writes it).
struct PhysicalPart: Sendable {
    static let directory = "physical"

    struct Result: Sendable {
        var files: [FileRecord]
        var walRange: WALRange
        var seconds: Double
        var finished: Date
        var label: String
        /// Deletes the tars compressed into `.tar.zst` files (pg_wal.tar): begun when the part ends and awaited before
        /// the backup is published, so that the manifest and publishing do not wait for the filesystem to free (and,
        /// mounted with `discard`, trim) their blocks.
        var removingTars: Task<Void, any Error>
        /// The tars compressed while pg_basebackup ended (see ClosedTarCompressor), for the debug log.
        var compressedEarly: [String]
        /// Set when the base backup is incremental.
        var incremental: Manifest.Incremental? = nil
        /// Why it is a full one although incremental backups are on.
        var fullReason: String? = nil

        func section(toolVersion: String) -> Manifest.Physical {
            Manifest.Physical(
                status: .complete, label: label, startLSN: walRange.startLSN, stopLSN: walRange.stopLSN,
                startTimeline: walRange.startTimeline, stopTimeline: walRange.stopTimeline,
                toolVersion: toolVersion, files: files.map(\.path), seconds: seconds, stopTime: finished,
                incremental: incremental, fullReason: fullReason)
        }
    }

    /// The server refused the incremental backup when it started; nothing was written.
    struct IncrementalRefused: Error {
        var reason: String
    }

    var tools: PostgresTools
    var target: ConnectionTarget
    var environment: [String: String]
    var config: PgbakConfig
    var label: String
    /// Receives pg_basebackup's progress; nil when nobody watches.
    var progress: (@Sendable (String) -> Void)?
    /// What the base backup is: full (with the reason when incremental ones are on) or incremental on a parent.
    var plan: BaseBackupPlan = .full(reason: nil)
    /// For an incremental plan: the parent's backup_manifest on this host.
    var parentManifest: String? = nil

    static func isCredentialProblem(_ stderr: String) -> Bool {
        ["password authentication failed", "no pg_hba.conf entry", "fe_sendauth: no password supplied"]
            .contains { stderr.contains($0) }
    }

    /// Takes the base backup as planned. An incremental one the server refuses as it starts (WAL summaries off or
    /// not reaching back to the parent) is taken again as a full one, the refusal recorded as the reason.
    func run(staging: StagingArea) async throws -> Result {
        guard let link = plan.incremental, let parentManifest else {
            var result = try await take(staging: staging, incrementalOn: nil)
            result.fullReason = plan.fullReason
            return result
        }
        do {
            var result = try await take(staging: staging, incrementalOn: parentManifest)
            result.incremental = link
            return result
        } catch let refused as IncrementalRefused {
            progress?("base backup: the server refused an incremental backup (\(refused.reason)); taking a full one")
            var result = try await take(staging: staging, incrementalOn: nil)
            result.fullReason = "the server refused an incremental backup: \(refused.reason)"
            return result
        }
    }

    /// `parentManifest`: the backup_manifest an incremental backup is taken against; nil for a full one.
    private func take(staging: StagingArea, incrementalOn parentManifest: String?) async throws -> Result {
        let started = Date()
        let dir = staging.directory + "/" + Self.directory
        var basebackup = PgBaseBackup(
            tools: tools, target: target, environment: environment,
            checkpoint: config.checkpoint, maxRate: config.maxRate,
            zstdLevel: config.zstdLevel, zstdThreads: config.zstdThreads, label: label)
        basebackup.incrementalManifest = parentManifest
        let level = config.zstdLevel, threads = config.zstdThreads
        let followers = try ArchiveFollowers(directory: dir, relativeDirectory: Self.directory, staging: staging)
        let closedTars = ClosedTarCompressor(
            staging: staging, relativeDirectory: Self.directory, level: level, threads: threads)
        do {
            let lines = progress.map { show -> @Sendable (String) -> Void in { show("base backup: " + $0) } }
            try await basebackup.run(into: dir, progress: lines, received: { closedTars.start() })
        } catch {
            await followers.finishAll()
            await closedTars.finish()
            if parentManifest != nil, let failure = error as? ChildFailure,
                let reason = PgBaseBackup.incrementalRefusal(failure.stderrTail)
            {
                try? FileManager.default.removeItem(atPath: dir)
                throw IncrementalRefused(reason: reason)
            }
            throw Self.explained(error, config: config)
        }
        followers.stopWatching()
        await closedTars.finish()

        // pg_basebackup's client-side zstd leaves pg_wal.tar (and, depending on the version, tablespace tars)
        // uncompressed: what ClosedTarCompressor did not compress while pg_basebackup ended is compressed now with
        // libzstd, checksumming as it writes; the tar is removed. This starts as soon as pg_basebackup exits, beside
        // the hasher's catching up with base.tar.zst.
        guard let listed = try? FileManager.default.contentsOfDirectory(atPath: dir) else {
            await followers.finishAll()
            throw BackupError(problem: "cannot list \(dir) after pg_basebackup")
        }
        // NAME.tar.zst beside NAME.tar is ClosedTarCompressor's: it is reported with its tar.
        let written = listed.filter { !($0.hasSuffix(".tar.zst") && listed.contains(String($0.dropLast(4)))) }.sorted()
        let early = closedTars.compressed()
        let files: [FileRecord]
        do {
            files = try await records(of: written, in: dir, early: early, followers: followers, staging: staging)
        } catch {
            await followers.finishAll()
            throw error
        }
        await followers.finishAll()
        let tars = written.filter { $0.hasSuffix(".tar") }.map { dir + "/" + $0 }
        let removingTars = Task {
            try await Blocking.run {
                for path in tars where unlink(path) != 0 {
                    throw BackupError(problem: "cannot remove \(path) after compressing it: \(Errno.text())")
                }
            }
        }
        // In an encrypted repository in a directory, backup_manifest has been replaced by its sealed form.
        guard let stored = FileManager.default.contents(atPath: dir + "/backup_manifest") else {
            _ = await removingTars.result
            throw BackupError(problem: "pg_basebackup finished without writing backup_manifest in \(dir)")
        }
        let manifestData = try SealedReading.open(stored, key: staging.key, name: dir + "/backup_manifest")
        return Result(
            files: files, walRange: try WALRange.parse(backupManifest: manifestData),
            seconds: Date().timeIntervalSince(started), finished: Date(), label: label, removingTars: removingTars,
            compressedEarly: early.keys.sorted())
    }

    /// The records of the files pg_basebackup left in `dir` (`written`): tars compressed (or taken from `early`),
    /// followed archives from their followers, the rest adopted as they are.
    private func records(
        of written: [String], in dir: String, early: [String: FileRecord], followers: ArchiveFollowers,
        staging: StagingArea
    ) async throws -> [FileRecord] {
        let level = config.zstdLevel, threads = config.zstdThreads
        return try await withThrowingTaskGroup(of: FileRecord.self) { group in
            for name in written {
                let path = dir + "/" + name
                let relativePath = "\(Self.directory)/\(name)"
                if name.hasSuffix(".tar") {
                    group.addTask {
                        try await Blocking.run {
                            if let record = early[name] { return record }
                            unlink(path + ".zst")
                            return try ZstdWriter.compressFile(
                                source: path, into: staging, relativePath: relativePath + ".zst",
                                level: level, threads: threads)
                        }
                    }
                } else if followers.follows(name) {
                    group.addTask {
                        if let followed = await followers.finish(name) { return followed }
                        guard !staging.transformsToolFiles else {
                            throw BackupError(
                                problem: "\(relativePath) could not be stored while pg_basebackup wrote it: "
                                    + (followers.failure(of: name)?.localizedDescription ?? "the file changed under it")
                            )
                        }
                        return try await Blocking.run { try FileDigest.record(path: path, relativePath: relativePath) }
                    }
                } else {
                    group.addTask { try await Blocking.run { try staging.adopt(relativePath) } }
                }
            }
            return try await group.reduce(into: [FileRecord]()) { $0.append($1) }
        }
    }

    /// pg_basebackup's failure, with what to check when the replication login was refused.
    private static func explained(_ failure: any Error, config: PgbakConfig) -> any Error {
        if let failure = failure as? ChildFailure, Self.isCredentialProblem(failure.stderrTail) {
            return BackupError(
                problem: "\(failure.localizedDescription)\nThe replication login failed: check "
                    + "postgres.replication (user, passfile or password_env) in \(config.file), and that the leader's "
                    + "pg_hba.conf admits it for replication")
        }
        return failure
    }
}
