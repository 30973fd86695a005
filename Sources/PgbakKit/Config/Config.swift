import Foundation

/// Where a password comes from. Never the password itself on a command line.
public enum PasswordSource: Sendable, Equatable {
    /// A libpq password file (`hostname:port:database:username:password` lines, mode 0600).
    case passfile(String)
    /// The name of an environment variable holding the password.
    case environment(String)
    /// A file holding only the password (used for Patroni's basic auth).
    case file(String)
    case none
}

/// How pgbak connects to PostgreSQL as one role.
public struct PostgresLogin: Sendable, Equatable {
    public var user: String
    public var password: PasswordSource
    /// The config key path of this login, for error messages.
    public var configKey: String
}

/// The whole configuration of one pgbak installation.
public struct PgbakConfig: Sendable, Equatable {
    public struct Patroni: Sendable, Equatable {
        public var urls: [String]
        public var timeoutSeconds: Double
        public var username: String?
        public var password: PasswordSource
        public var caFile: String?
        public var certFile: String?
        public var keyFile: String?
    }

    public struct Postgres: Sendable, Equatable {
        public var binDir: String?
        public var connectTimeoutSeconds: Int
        public var replication: PostgresLogin
        public var dump: PostgresLogin
        public var includeDatabases: [String]
        public var excludeDatabases: [String]
        /// Where the server programs of other major versions live (restore tests, standalone copies, recovery of a
        /// backup of that major), searched before `/usr/lib/postgresql/<major>/bin`.
        public var serverBinDirs: [String] = []
    }

    /// When `pgbak now` takes an incremental base backup instead of a full one (see `IncrementalPlanner`).
    public struct Incremental: Sendable, Equatable {
        public var enabled: Bool
        /// A full backup at least this often: an incremental is never based on a full one older than this.
        public var fullEveryDays: Int
        /// At most this many incremental backups on one full one.
        public var maxChain: Int

        public init(enabled: Bool, fullEveryDays: Int = 7, maxChain: Int = 6) {
            self.enabled = enabled
            self.fullEveryDays = fullEveryDays
            self.maxChain = maxChain
        }
    }

    public enum Checkpoint: String, Sendable, CaseIterable { case fast, spread }

    public enum NotLeaderAction: String, Sendable, CaseIterable { case skip, fail }

    public struct ThisHost: Sendable, Equatable {
        /// The Patroni member running on this host; when set, `pgbak now` acts only while it leads.
        public var member: String?
        public var whenNotLeader: NotLeaderAction
    }

    public var file: String
    public var scope: String
    public var patroni: Patroni
    public var postgres: Postgres
    public var repositoryPath: String
    public var repositoryOwner: String
    /// The repository's bucket when it lives on S3; `repositoryPath` is then this host's local working directory
    /// (spool, run files), holding no backup.
    public var repositoryS3: S3Settings?
    /// `repository.encryption.key_file`: backups and WAL are stored sealed with the key it holds.
    public var encryptionKeyFile: String?
    public var retention: RetentionPolicy
    public var zstdLevel: Int
    public var zstdThreads: Int
    public var checkpoint: Checkpoint
    public var maxRate: String?
    /// `base_backup.incremental` and its limits: PostgreSQL 17+ base backups taken against the previous one.
    public var incremental: Incremental
    public var lockWaitTimeoutSeconds: Int
    /// Tables larger than this many MiB are not row-counted while dumping.
    public var countRowsMaxTableMB: Int
    /// Where `verify --restore-test` materializes backups (default `<repository>/scratch`).
    public var scratchDirectory: String
    /// Upper bound for a whole restore test.
    public var restoreTestTimeoutSeconds: Int
    public var thisHost: ThisHost
    /// `pgbak status` thresholds.
    public var status: StatusThresholds
    /// Where node_exporter's textfile collector reads metrics (nil: no metrics written).
    public var metricsDirectory: String?
    /// `pgbak check` thresholds.
    public var check: CheckThresholds
    /// What `pgbak now` does when the leader changes under it.
    public var leaderChange: LeaderChangePolicy
}

/// The `leader_change:` section: after a switchover or failover during a backup, the partial work is discarded and
/// the backup taken again from the new leader, at most `retries` times, waiting up to `waitSeconds` for it.
public struct LeaderChangePolicy: Sendable, Equatable {
    public var retries: Int
    public var waitSeconds: Int
}

/// `pgbak check` thresholds (the `check:` section).
public struct CheckThresholds: Sendable, Equatable {
    /// A streaming replica further behind than this is reported as a warning.
    public var maxReplicaLagMB: Int
}
