import Foundation
import Logging

/// What a run cost, logged at debug level as pgbak's last line: wall time (from the command's start, after the
/// process's own start-up), CPU and peak resident memory, pgbak's own and its children's (getrusage; for the children,
/// the largest one's peak). A nightly job's log shows its memory without anything watching the process.
public enum RunResources {
    nonisolated(unsafe) private static var logger: Logger?
    nonisolated(unsafe) private static var started = timespec()

    /// Logs the line when the process exits, if `logger` logs at debug level.
    public static func logAtExit(_ logger: Logger) {
        guard logger.logLevel <= .debug, Self.logger == nil else { return }
        clock_gettime(CLOCK_MONOTONIC, &started)
        Self.logger = logger
        atexit { RunResources.log() }
    }

    private static func log() {
        guard let logger else { return }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        var own = rusage()
        var children = rusage()
        getrusage(RUSAGE_SELF.rawValue, &own)
        getrusage(RUSAGE_CHILDREN.rawValue, &children)
        func text(_ seconds: Double) -> String { String(format: "%.3f", seconds) }
        func seconds(_ time: timeval) -> String { text(Double(time.tv_sec) + Double(time.tv_usec) / 1e6) }
        let wall = Double(now.tv_sec - started.tv_sec) + Double(now.tv_nsec - started.tv_nsec) / 1e9
        logger.debug(
            "resources",
            metadata: [
                "wall_s": "\(text(wall))", "user_s": "\(seconds(own.ru_utime))",
                "sys_s": "\(seconds(own.ru_stime))", "peak_rss_kb": "\(own.ru_maxrss)",
                "children_user_s": "\(seconds(children.ru_utime))", "children_sys_s": "\(seconds(children.ru_stime))",
                "children_peak_rss_kb": "\(children.ru_maxrss)",
            ])
    }
}
