import Logging

/// What every pgbak operation works with: the configuration, the repository, a logger, and a sink for progress
/// text (shown on a terminal only; the caller decides).
public struct RunContext: Sendable {
    public var config: PgbakConfig
    public var repository: any BackupRepository
    public var logger: Logger
    public var progress: @Sendable (String) -> Void
    /// Whether `progress` reaches anyone: tools that work harder to report progress are asked to only then.
    public var showsProgress: Bool

    public init(
        config: PgbakConfig, repository: any BackupRepository, logger: Logger,
        progress: @escaping @Sendable (String) -> Void = { _ in }, showsProgress: Bool = false
    ) {
        self.config = config
        self.repository = repository
        self.logger = logger
        self.progress = progress
        self.showsProgress = showsProgress
    }
}
