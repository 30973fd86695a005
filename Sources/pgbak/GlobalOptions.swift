import ArgumentParser
import Foundation
import Logging
import PgbakKit

/// Flags every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (default: $PGBAK_CONFIG, else /etc/pgbak/pgbak.yml).")
    var config: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .warning

    @Flag(name: .long, help: "Print only errors.")
    var quiet = false

    /// Sets up logging, loads the configuration and opens the repository it names. `progress` text is shown as one
    /// self-overwriting line on stderr when that is a terminal and --quiet is not given.
    func context(label: String, progress: Bool = true) throws -> (RunContext, ProgressLine) {
        let (config, logger) = try start(label: label)
        let line = ProgressLine(enabled: progress && !quiet && isatty(STDERR_FILENO) == 1)
        let repository = try Repositories.open(config)
        return (
            RunContext(
                config: config, repository: repository, logger: logger, progress: line.enabled ? line.show : nil),
            line
        )
    }

    /// Sets up logging on stderr and loads the configuration.
    func start(label: String) throws -> (PgbakConfig, Logger) {
        signal(SIGPIPE, SIG_IGN)  // a child that exits early must not kill pgbak through a pipe write
        ProcessTuning.apply()
        let level: Logger.Level = quiet ? .error : logLevel
        LoggingSystem.bootstrap { name in
            var handler = StreamLogHandler.standardError(label: name)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "pgbak.\(label)")
        RunResources.logAtExit(logger)
        let path = ConfigLoader.resolvePath(explicit: config, environment: ProcessInfo.processInfo.environment)
        let config = try ConfigLoader.load(path: path)
        for finding in ConfigAudit.audit(config) where finding.status != .ok {
            logger.warning("\(finding.detail)")
        }
        return (config, logger)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Prints an error on stderr and exits with pgbak's documented code for it.
func fail(_ error: any Error) -> ExitCode {
    FileHandle.standardError.write(Data(("pgbak: error: " + error.localizedDescription + "\n").utf8))
    return ExitCode(ExitStatus.of(error).rawValue)
}

enum PgbakKitVersion {
    static let text = PgbakKit.pgbakVersion
}
