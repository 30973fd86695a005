import Logging

/// What every pgbak operation works with: the configuration, the repository, a logger, and a sink for progress
/// text (shown on a terminal only; the caller decides).
public struct RunContext: Sendable {
    public var config: PgbakConfig
    public var repository: any BackupRepository
    public var logger: Logger
    /// Nil when nobody watches: tools that work harder to report progress are asked to only when it is set.
    public var progress: (@Sendable (String) -> Void)?

    public init(
        config: PgbakConfig, repository: any BackupRepository, logger: Logger,
        progress: (@Sendable (String) -> Void)? = nil
    ) {
        self.config = config
        self.repository = repository
        self.logger = logger
        self.progress = progress
    }
}

extension RunContext {
    /// The WAL archive, inside the repository.
    public var walArchive: WALArchive { repository.walArchive }
}
