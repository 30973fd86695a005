import Foundation

/// pgbak's exit codes (stable; documented in the README).
public enum ExitStatus: Int32, Sendable {
    case ok = 0
    /// The run failed; nothing new is visible in the repository.
    case failure = 1
    /// The backup was kept but is partial (a dump failed); retention was not run.
    case partial = 2
    /// Another pgbak run holds the repository lock.
    case locked = 3
    /// Bad command-line usage.
    case usage = 64
    /// The configuration file is missing or invalid.
    case config = 78
    case interrupted = 130
    case terminated = 143

    public static func of(_ error: any Error) -> ExitStatus {
        switch error {
        case is ConfigError: return .config
        case is RepositoryLocked: return .locked
        default: return .failure
        }
    }
}
