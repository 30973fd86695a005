import Foundation

/// Finds, reads and validates the configuration file.
public enum ConfigLoader {
    public static let defaultPath = "/etc/pgbak/pgbak.yml"

    /// `--config`, else `$PGBAK_CONFIG`, else `/etc/pgbak/pgbak.yml`.
    public static func resolvePath(explicit: String?, environment: [String: String]) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let env = environment["PGBAK_CONFIG"], !env.isEmpty { return env }
        return defaultPath
    }

    public static func load(path: String) throws -> PgbakConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason =
                FileManager.default.fileExists(atPath: path)
                ? "cannot be read (check its permissions)"
                : "does not exist (pass --config PATH or set PGBAK_CONFIG)"
            throw ConfigError(file: path, keyPath: "", problem: reason)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, keyPath: "", problem: "is not UTF-8 text")
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return try parse(yaml: text, file: path, baseDirectory: base)
    }

    /// Parses configuration text; relative paths (policy files) are resolved against `baseDirectory`.
    public static func parse(yaml: String, file: String, baseDirectory: String) throws -> PgbakConfig {
        var root = try YAMLReader.parse(yaml: yaml, file: file)
        let scope = try root.requiredString("scope")

        var patroniSection = try root.section("patroni")
        let urls = try patroniSection.stringList("urls") ?? []
        if urls.isEmpty {
            throw patroniSection.error(
                "urls", "is required: list at least one Patroni REST URL, e.g. http://10.0.0.1:8008")
        }
        for (i, url) in urls.enumerated() where !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
            throw ConfigError(
                file: file, keyPath: "patroni.urls[\(i)]",
                problem: "'\(url)' is not an http:// or https:// URL")
        }
        let patroni = PgbakConfig.Patroni(
            urls: urls.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 },
            timeoutSeconds: try patroniSection.double("timeout_seconds", range: 0.1...120) ?? 3,
            username: try patroniSection.string("username"),
            password: try password(&patroniSection, allowPassfile: false),
            caFile: try patroniSection.string("ca_file"),
            certFile: try patroniSection.string("cert_file"),
            keyFile: try patroniSection.string("key_file"))
        if patroni.username != nil, patroni.password == .none {
            throw patroniSection.error("username", "is set but no password is: add password_env or password_file")
        }
        if (patroni.certFile == nil) != (patroni.keyFile == nil) {
            throw patroniSection.error("cert_file", "cert_file and key_file go together: set both or neither")
        }
        try patroniSection.finish()

        var pgSection = try root.section("postgres")
        let binDir = try pgSection.string("bin_dir")
        let serverBinDirs = try pgSection.stringList("server_bin_dirs") ?? []
        if let relative = serverBinDirs.first(where: { !$0.hasPrefix("/") }) {
            throw pgSection.error("server_bin_dirs", "'\(relative)' must be an absolute path")
        }
        let connectTimeout = try pgSection.int("connect_timeout_seconds", range: 1...300) ?? 10
        var replSection = try pgSection.section("replication")
        let replication = PostgresLogin(
            user: try replSection.string("user") ?? "replicator",
            password: try password(&replSection, allowPassfile: true),
            configKey: "postgres.replication")
        try replSection.finish()
        var dumpSection = try pgSection.section("dump")
        let dump = PostgresLogin(
            user: try dumpSection.string("user") ?? "postgres",
            password: try password(&dumpSection, allowPassfile: true),
            configKey: "postgres.dump")
        try dumpSection.finish()
        var dbSection = try pgSection.section("databases")
        let include = try dbSection.stringList("include") ?? []
        let exclude = try dbSection.stringList("exclude") ?? []
        try dbSection.finish()
        try pgSection.finish()

        var repoSection = try root.section("repository")
        let repoPath = try repoSection.requiredString("path")
        guard repoPath.hasPrefix("/") else {
            throw repoSection.error("path", "'\(repoPath)' must be an absolute path")
        }
        let owner = try repoSection.string("owner") ?? "postgres"
        var s3Section = try repoSection.section("s3")
        let s3 = try S3SettingsLoader.read(&s3Section)
        try s3Section.finish()
        var encryptionSection = try repoSection.section("encryption")
        let keyFile = try encryptionSection.string("key_file")
        if let keyFile, !keyFile.hasPrefix("/") {
            throw encryptionSection.error("key_file", "'\(keyFile)' must be an absolute path")
        }
        if encryptionSection.isPresent, keyFile == nil {
            throw encryptionSection.error(
                "key_file", "is required: a file holding the 32-byte key (openssl rand -hex 32 > FILE; chmod 600 FILE)")
        }
        try encryptionSection.finish()
        try repoSection.finish()

        var retentionSection = try root.section("retention")
        let retention = try RetentionPolicyLoader.read(&retentionSection, baseDirectory: baseDirectory)
        try retentionSection.finish()

        var compression = try root.section("compression")
        let level = try compression.int("level", range: 1...19) ?? 3
        let threads = try compression.int("threads", range: 0...64) ?? 2
        try compression.finish()

        var base = try root.section("base_backup")
        let checkpoint = try base.choice("checkpoint", PgbakConfig.Checkpoint.self) ?? .fast
        let maxRate = try base.string("max_rate")
        if let maxRate, maxRate.range(of: #"^[0-9]+[kKmM]?$"#, options: .regularExpression) == nil {
            throw base.error("max_rate", "'\(maxRate)' is not a rate like 32000 (kB/s), 500k or 100M")
        }
        let incremental = PgbakConfig.Incremental(
            enabled: try base.bool("incremental") ?? false,
            fullEveryDays: try base.int("full_every_days", range: 1...3650) ?? 7,
            maxChain: try base.int("max_incremental_chain", range: 1...1000) ?? 6)
        try base.finish()

        var dumps = try root.section("dumps")
        let lockWait = try dumps.int("lock_wait_timeout_seconds", range: 1...86400) ?? 60
        let countLimit = try dumps.int("count_rows_max_table_mb", range: 0...100_000_000) ?? 8192
        try dumps.finish()

        var verify = try root.section("verify")
        let scratch = try verify.string("scratch_dir") ?? repoPath + "/scratch"
        guard scratch.hasPrefix("/") else { throw verify.error("scratch_dir", "'\(scratch)' must be an absolute path") }
        let restoreTimeout = try verify.int("restore_test_timeout_seconds", range: 10...86400 * 7) ?? 3600
        try verify.finish()

        var host = try root.section("this_host")
        let thisHost = PgbakConfig.ThisHost(
            member: try host.string("member"),
            whenNotLeader: try host.choice("when_not_leader", PgbakConfig.NotLeaderAction.self) ?? .skip)
        try host.finish()

        var statusSection = try root.section("status")
        let status = StatusThresholds(
            warnAgeHours: try statusSection.double("warn_age_hours", range: 0.1...100_000) ?? 26,
            critAgeHours: try statusSection.double("crit_age_hours", range: 0.1...100_000) ?? 50,
            warnVerifyAgeDays: try statusSection.double("warn_verify_age_days", range: 0.1...10_000) ?? 8)
        if status.critAgeHours < status.warnAgeHours {
            throw statusSection.error("crit_age_hours", "must not be below warn_age_hours")
        }
        try statusSection.finish()
        var metrics = try root.section("metrics")
        let metricsDirectory = try metrics.string("textfile_dir")
        if let metricsDirectory, !metricsDirectory.hasPrefix("/") {
            throw metrics.error("textfile_dir", "'\(metricsDirectory)' must be an absolute path")
        }
        try metrics.finish()
        var checkSection = try root.section("check")
        let check = CheckThresholds(
            maxReplicaLagMB: try checkSection.int("max_replica_lag_mb", range: 0...10_000_000) ?? 16)
        try checkSection.finish()
        var leaderChangeSection = try root.section("leader_change")
        let leaderChange = LeaderChangePolicy(
            retries: try leaderChangeSection.int("retries", range: 0...10) ?? 1,
            waitSeconds: try leaderChangeSection.int("wait_seconds", range: 1...3600) ?? 60)
        try leaderChangeSection.finish()

        try root.finish()
        return PgbakConfig(
            file: file, scope: scope, patroni: patroni,
            postgres: .init(
                binDir: binDir, connectTimeoutSeconds: connectTimeout, replication: replication, dump: dump,
                includeDatabases: include, excludeDatabases: exclude, serverBinDirs: serverBinDirs),
            repositoryPath: repoPath.count > 1 && repoPath.hasSuffix("/") ? String(repoPath.dropLast()) : repoPath,
            repositoryOwner: owner, repositoryS3: s3, encryptionKeyFile: keyFile, retention: retention,
            zstdLevel: level, zstdThreads: threads,
            checkpoint: checkpoint, maxRate: maxRate, incremental: incremental, lockWaitTimeoutSeconds: lockWait,
            countRowsMaxTableMB: countLimit, scratchDirectory: scratch, restoreTestTimeoutSeconds: restoreTimeout,
            thisHost: thisHost, status: status, metricsDirectory: metricsDirectory, check: check,
            leaderChange: leaderChange)
    }

    private static func password(_ section: inout YAMLReader, allowPassfile: Bool) throws -> PasswordSource {
        let env = try section.string("password_env")
        let passfile = allowPassfile ? try section.string("passfile") : nil
        let file = allowPassfile ? nil : try section.string("password_file")
        if try section.string("password") != nil {
            throw section.error(
                "password",
                "passwords are not accepted inline: use password_env (an environment "
                    + "variable's name) or \(allowPassfile ? "passfile (a libpq password file)" : "password_file")")
        }
        let given = [
            env.map { PasswordSource.environment($0) }, passfile.map { .passfile($0) }, file.map { .file($0) },
        ]
        .compactMap { $0 }
        guard given.count <= 1 else {
            throw section.error(
                allowPassfile ? "passfile" : "password_file",
                "set only one of password_env and \(allowPassfile ? "passfile" : "password_file")")
        }
        return given.first ?? .none
    }
}
