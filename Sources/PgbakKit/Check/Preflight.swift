import Foundation
import Logging

/// `pgbak check`: everything the next `pgbak now` depends on, checked without taking a backup.
public struct Preflight: Sendable {
    public let context: RunContext

    public init(context: RunContext) {
        self.context = context
    }

    var config: PgbakConfig { context.config }

    public func run() async -> CheckReport {
        var items = ConfigAudit.audit(config)
        let client = PatroniClient(config: config.patroni, configFile: config.file, logger: context.logger)
        var answers: [(url: String, result: Result<PatroniCluster, any Error>)] = []
        for url in config.patroni.urls {
            do {
                answers.append((url, .success(try await client.cluster(at: url))))
            } catch {
                answers.append((url, .failure(error)))
            }
        }
        let anyAnswered = answers.contains { if case .success = $0.result { true } else { false } }
        for (url, result) in answers {
            switch result {
            case .success(let cluster):
                items.append(
                    CheckItem(
                        "patroni \(url)", .ok,
                        "answers for scope '\(cluster.scope ?? config.scope)', \(cluster.members.count) members"))
            case .failure(let error):
                let problem = (error as? PatroniError)?.problem ?? error.localizedDescription
                items.append(
                    CheckItem(
                        "patroni \(url)", anyAnswered ? .warn : .fail,
                        problem + (anyAnswered ? " (another URL answered)" : " (patroni.urls in \(config.file))")))
            }
        }
        let cluster = answers.lazy.compactMap { try? $0.result.get() }.first
        if let cluster {
            items += ClusterHealth.evaluate(
                cluster, scope: config.scope, maxLagBytes: Int64(config.check.maxReplicaLagMB) << 20)
        }
        let leader = cluster.flatMap { try? LeaderSelection.choose(from: $0, scope: config.scope) }
        var databaseBytes: Int64?
        if let leader {
            let (leaderItems, bytes) = await checkLeader(leader)
            items += leaderItems
            databaseBytes = bytes
        }
        if let cluster { items.append(guardItem(cluster: cluster, leader: leader)) }
        items += repositoryItems(databaseBytes: databaseBytes)
        // One listing of the backups for the WAL archive's and the encryption's lines.
        let listed = Result { try context.repository.backups(detail: .listing).backups }
        items.append(walArchiveItem(listed))
        let newest = try? listed.get().last { $0.manifest.status == .complete }
        if let item = Self.encryptionItem(
            keyFile: config.encryptionKeyFile, key: context.repository.encryptionKey, newest: newest)
        {
            items.append(item)
        }
        // In a bucket the backups are not on this host's disks: only the scratch area can share one with the data.
        let repositoryArea = Placement.Area(
            name: "repository", path: config.repositoryPath, device: Self.device(of: config.repositoryPath))
        items += Placement.judge(
            (config.repositoryS3 == nil ? [repositoryArea] : []) + [
                Placement.Area(
                    name: "scratch", path: config.scratchDirectory, device: Self.device(of: config.scratchDirectory))
            ],
            dataDirectories: cluster.map(localDataDirectories) ?? [])
        return CheckReport(items: items)
    }

    /// The dump and replication logins, the databases, the tools; returns the databases' total size.
    private func checkLeader(_ leader: LeaderChoice) async -> ([CheckItem], Int64?) {
        var items: [CheckItem] = []
        let probe = LeaderProbe(config: config, logger: context.logger)
        let identity: ServerIdentity
        let databases: [DatabaseInfo]
        do {
            identity = try probe.confirm(leader)
            let connection = try probe.connect(leader, database: "postgres")
            databases = DatabaseInfo.select(
                try DatabaseInfo.list(connection), include: config.postgres.includeDatabases,
                exclude: config.postgres.excludeDatabases)
            let privileged =
                try connection.query(
                    "select rolsuper or pg_has_role(current_user, 'pg_read_all_data', 'member') "
                        + "from pg_roles where rolname = current_user"
                ).first?.first ?? nil
            var reached: [String] = []
            for database in databases {
                do {
                    _ = try probe.connect(leader, database: database.name)
                    reached.append(database.name)
                } catch {
                    items.append(CheckItem("dump login \(database.name)", .fail, error.localizedDescription))
                }
            }
            items.append(
                CheckItem(
                    "dump login", privileged == "t" ? .ok : .warn,
                    "\(config.postgres.dump.user) reaches \(reached.count) of \(databases.count) database(s) on "
                        + "\(leader.name), the primary"
                        + (privileged == "t"
                            ? ""
                            : "; it is neither superuser nor in pg_read_all_data, so tables it cannot read fail "
                                + "their dump")))
        } catch {
            items.append(CheckItem("dump login", .fail, error.localizedDescription))
            return (items, nil)
        }
        items.append(replicationItem(leader, probe: probe))
        if let connection = try? probe.connect(leader, database: "postgres") {
            do {
                items.append(try ArchiverStats.read(connection).item(leader: leader.name))
            } catch {
                items.append(
                    CheckItem("archiving", .warn, "cannot read pg_stat_archiver: \(error.localizedDescription)"))
            }
        }
        if config.incremental.enabled {
            items.append(incrementalItem(leader, probe: probe, major: identity.majorVersion))
        }
        items.append(await toolsItem(serverMajor: identity.majorVersion, serverVersion: identity.version))
        return (items, databases.reduce(0) { $0 + $1.sizeBytes })
    }

    /// A physical replication connection, as pg_basebackup makes it.
    private func replicationItem(_ leader: LeaderChoice, probe: LeaderProbe) -> CheckItem {
        let login = config.postgres.replication
        do {
            var parameters = probe.replicationTarget(leader).parameters(database: "replication")
            parameters["replication"] = "true"
            parameters.merge(
                try RunCredentials.connectionParameters(for: login, configFile: config.file)
            ) { $1 }
            _ = try PGConnection(
                parameters: parameters,
                context: "replication connection to \(leader.name) at \(leader.host):\(leader.port) as \(login.user) "
                    + "(\(login.configKey) in \(config.file))")
            return CheckItem("replication login", .ok, "\(login.user) opens a replication connection to \(leader.name)")
        } catch {
            return CheckItem("replication login", .fail, error.localizedDescription)
        }
    }

    private func toolsItem(serverMajor: Int, serverVersion: String) async -> CheckItem {
        do {
            let tools = try await PostgresTools.locate(
                configured: config.postgres.binDir, serverMajor: serverMajor, configFile: config.file)
            let dumpVersion = try await ChildProcess.capture(
                ChildCommand(executable: tools.path("pg_dump"), arguments: ["--version"])
            ).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let dumpMajor = PostgresTools.majorVersion(of: dumpVersion), dumpMajor >= serverMajor else {
                return CheckItem(
                    "tools", .fail,
                    "\(tools.path("pg_dump")) is '\(dumpVersion)', older than the server (\(serverVersion))")
            }
            return CheckItem(
                "tools", .ok, "\(tools.clientVersion) in \(tools.binDir); server \(serverVersion)")
        } catch {
            return CheckItem("tools", .fail, error.localizedDescription)
        }
    }

    /// What `pgbak now` will do on this host under the leader-only guard (this_host.member).
    private func guardItem(cluster: PatroniCluster, leader: LeaderChoice?) -> CheckItem {
        guard let member = config.thisHost.member else {
            return CheckItem(
                "this host", .ok,
                "this_host.member not set: `pgbak now` backs up the leader from wherever it runs; install the timer "
                    + "on one host, or set this_host.member on each")
        }
        guard cluster.members.contains(where: { $0.name == member }) else {
            return CheckItem(
                "this host", .fail,
                "this_host.member '\(member)' is not a member of cluster '\(config.scope)' (members: "
                    + cluster.members.map(\.name).joined(separator: ", ") + ") in \(config.file)")
        }
        if leader?.name == member {
            return CheckItem("this host", .ok, "\(member) leads: `pgbak now` here takes the backup")
        }
        let action = config.thisHost.whenNotLeader == .skip ? "skips (exit 0)" : "fails"
        return CheckItem(
            "this host", .ok, "\(member) does not lead: `pgbak now` here \(action) (this_host.when_not_leader)")
    }

    /// Writable, with room for the next backup; in a bucket, reachable with the keys (the store has no free space to
    /// check) and the working directory writable.
    private func repositoryItems(databaseBytes: Int64?) -> [CheckItem] {
        if let s3 = config.repositoryS3 {
            do {
                try S3Client(settings: s3).checkBucket()
            } catch {
                return [CheckItem("repository", .fail, error.localizedDescription)]
            }
            let local = Self.nearestExisting(config.repositoryPath)
            guard access(local, W_OK) == 0 else {
                return [
                    CheckItem(
                        "repository", .fail,
                        "\(s3.location) reachable, but the working directory \(local) (repository.path) is not writable"
                    )
                ]
            }
            return [
                CheckItem(
                    "repository", .ok,
                    "\(s3.location) reachable with the configured keys; working directory \(config.repositoryPath)")
            ]
        }
        let path = config.repositoryPath
        let existing = Self.nearestExisting(path)
        let probe = existing + "/.pgbak-check-\(getpid())"
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            return [
                CheckItem(
                    "repository", .fail,
                    "cannot write in \(existing) (repository.path \(path)): \(Errno.text())")
            ]
        }
        Glibc.close(fd)
        unlink(probe)
        guard let free = FreeSpace.bytes(at: existing) else {
            return [CheckItem("repository", .fail, "statvfs \(existing) failed: \(Errno.text())")]
        }
        let last = try? context.repository.newestComplete(detail: .listing)
        let written = existing == path ? "writable" : "not created yet; \(existing) is writable"
        guard let databaseBytes else {
            return [CheckItem("repository", .ok, "\(path) \(written), \(ByteFormat.text(free)) free")]
        }
        let needed = SpaceEstimate.requiredBytes(
            databaseBytes: databaseBytes, lastBackupBytes: last?.manifest.totalBytes,
            lastDatabaseBytes: last?.manifest.cluster.databaseBytes)
        let summary =
            "\(path) \(written), \(ByteFormat.text(free)) free, the next backup needs about "
            + ByteFormat.text(needed)
        return [CheckItem("repository", free >= needed ? .ok : .fail, summary)]
    }

    /// Gaps in the WAL archive since the oldest kept backup, and the recoverable window.
    /// Whether the configured key (if any) reads the newest backup; nil when nothing is encrypted. Pure.
    static func encryptionItem(keyFile: String?, key: RepositoryKey?, newest: StoredBackup?) -> CheckItem? {
        let sealed = newest?.manifest.encryption
        guard let keyFile, let key else {
            guard let sealed, let newest else { return nil }
            return CheckItem(
                "encryption", .fail,
                "the newest backup \(newest.id) is encrypted (\(sealed.scheme)) and repository.encryption.key_file is "
                    + "not set: nothing in the repository can be verified or restored without it")
        }
        guard let newest, let sealed else {
            return CheckItem(
                "encryption", .ok,
                "new backups and WAL are sealed (aes-256-gcm) with the key in \(keyFile)"
                    + (newest.map { "; the newest backup \($0.id) is not encrypted and stays readable" } ?? ""))
        }
        do {
            try sealed.check(key, backup: newest.id)
        } catch {
            return CheckItem("encryption", .fail, "\(error.localizedDescription) (\(keyFile))")
        }
        return CheckItem(
            "encryption", .ok,
            "sealed (\(sealed.scheme)) with the key in \(keyFile), which opens the newest backup \(newest.id)")
    }

    private func walArchiveItem(_ listed: Result<[StoredBackup], any Error>) -> CheckItem {
        do {
            let backups = try listed.get()
            return WALArchiveSummary.item(
                try context.walArchive.summary(backups: backups), location: context.repository.location)
        } catch {
            return CheckItem("wal archive", .fail, error.localizedDescription)
        }
    }

    /// Data directories of the members running on this host, as their databases report them.
    private func localDataDirectories(_ cluster: PatroniCluster) -> [Placement.DataDirectory] {
        let probe = LeaderProbe(config: config, logger: context.logger)
        let local = LocalAddresses.current()
        return cluster.members.compactMap { member in
            guard let host = member.host, let port = member.port, local.contains(host) else { return nil }
            let choice = LeaderChoice(name: member.name, host: host, port: port)
            guard let connection = try? probe.connect(choice, database: "postgres"),
                let path = try? connection.query("select current_setting('data_directory')").first?.first ?? nil
            else { return nil }
            return Placement.DataDirectory(member: member.name, path: path, device: Self.device(of: path))
        }
    }

    /// The device of the filesystem holding `path`, or of its nearest existing parent.
    static func device(of path: String) -> UInt64? {
        var st = stat()
        guard stat(nearestExisting(path), &st) == 0 else { return nil }
        return UInt64(st.st_dev)
    }

    static func nearestExisting(_ path: String) -> String {
        var current = path
        while !FileManager.default.fileExists(atPath: current), current != "/" {
            current = (current as NSString).deletingLastPathComponent
        }
        return current
    }
}
