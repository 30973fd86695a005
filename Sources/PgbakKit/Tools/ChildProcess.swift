import Foundation
import Subprocess

#if canImport(Glibc)
    import Glibc
#endif

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// One external program to run: what, with which arguments and which extra environment.
public struct ChildCommand: Sendable {
    public var executable: String
    public var arguments: [String]
    /// Added to (and overriding) pgbak's own environment, from which libpq's password variables are removed.
    public var environment: [String: String]
    /// Small input for the child's stdin (e.g. curl's config with credentials), never on argv.
    public var input: String?

    public init(executable: String, arguments: [String], environment: [String: String] = [:], input: String? = nil) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.input = input
    }

    /// The program's base name, for messages.
    public var toolName: String { URL(fileURLWithPath: executable).lastPathComponent }
}

/// A child program that failed: its name, how it ended, and the tail of its stderr.
public struct ChildFailure: LocalizedError, Sendable {
    public var tool: String
    public var status: String
    public var stderrTail: String

    public var errorDescription: String? {
        let tail = stderrTail.trimmingCharacters(in: .whitespacesAndNewlines)
        return tail.isEmpty ? "\(tool) \(status)" : "\(tool) \(status):\n\(tail)"
    }
}

/// How a child ended, with what it wrote to stderr (last few KiB).
public struct ChildOutcome: Sendable {
    public var exitCode: Int32?
    public var signal: Int32?
    public var stderrTail: String

    public var succeeded: Bool { exitCode == 0 }

    public var statusText: String {
        if let exitCode { return "exited with status \(exitCode)" }
        return "was killed by signal \(signal ?? 0)"
    }
}

/// Runs external programs so that they never outlive pgbak: each child runs in its own process group behind a
/// guard shell that gets a parent-death signal (util-linux `setpriv --pdeathsig`) and also watches pgbak's process
/// itself; cancellation sends SIGTERM then SIGKILL to the whole group; stdout is streamed in chunks to a consumer
/// instead of being buffered whole.
public enum ChildProcess {
    static let stderrTailLimit = 8192
    static let setprivPath = "/usr/bin/setpriv"
    /// When pgbak dies, even by SIGKILL, the kernel sends this shell SIGTERM and it kills the child's whole process
    /// group, including what the child forked (pg_basebackup's WAL streamer, pg_restore's workers), which a
    /// parent-death signal on the child alone would miss. The kernel ties that signal to the thread that forked, not
    /// to the process: a pool thread that ends between the fork and `setpriv` setting it leaves the child without
    /// one. So the shell also checks every second that pgbak (`$1`) is alive and does the same when it is not (the
    /// watcher holds none of the child's pipes, so the end of the child's output is seen at once).
    /// `$!` is reported with its own exit status (128 + signal when killed).
    static let guardScript =
        #"trap 'trap - TERM; kill -KILL 0' TERM; parent=$1; shift; "$@" 0<&0 & child=$!; "#
        + #"( while kill -0 "$parent" 2>/dev/null; do sleep 1; done; kill -TERM $$ ) </dev/null >/dev/null 2>&1 & "#
        + #"watcher=$!; "#
        + #"wait $child; status=$?; kill $watcher 2>/dev/null; exit $status"#

    /// Runs `command`, handing each stdout chunk to `stdout` and each stderr line (split on `\n` and `\r`) to
    /// `stderrLine`. A throwing consumer kills the child and the error is rethrown.
    public static func run(
        _ command: ChildCommand,
        stdout: @escaping @Sendable (UnsafeRawBufferPointer) throws -> Void = { _ in },
        stderrLine: (@Sendable (String) -> Void)? = nil,
        onStart: (@Sendable (pid_t) -> Void)? = nil
    ) async throws -> ChildOutcome {
        var options = PlatformOptions()
        options.processGroupID = 0
        options.teardownSequence = [.gracefulShutDown(allowedDurationToNextStep: .seconds(5))]
        let tail = StderrTail(limit: stderrTailLimit, onLine: stderrLine)
        let input: String = command.input ?? ""
        let result = try await Subprocess.run(
            .path(FilePath(setprivPath)),
            arguments: Arguments(
                [
                    "--pdeathsig", "TERM", "--", "/bin/bash", "-c", guardScript, "pgbak-guard", "\(getpid())",
                    command.executable,
                ]
                    + command.arguments),
            environment: .custom(childEnvironment(command.environment)),
            platformOptions: options,
            input: .inputWriter,
            output: .sequence,
            error: .sequence
        ) { execution in
            let pid = execution.processIdentifier.value
            onStart?(pid)
            do {
                try await withTaskCancellationHandler {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            let writer = execution.standardInputWriter
                            if !input.isEmpty { _ = try await writer.write(input) }
                            try await writer.finish()
                        }
                        group.addTask {
                            for try await chunk in execution.standardOutput {
                                try chunk.withUnsafeBytes { try stdout($0) }
                            }
                        }
                        group.addTask {
                            for try await chunk in execution.standardError {
                                chunk.withUnsafeBytes { tail.append($0) }
                            }
                        }
                        try await group.waitForAll()
                    }
                } onCancel: {
                    terminateGroup(pid)
                }
            } catch {
                kill(-pid, SIGKILL)
                throw error
            }
            // Stragglers of the group (e.g. pg_basebackup's WAL streamer) must not outlive the tool itself.
            kill(-pid, SIGKILL)
        }
        tail.flush()
        switch result.terminationStatus {
        case .exited(let code):
            return ChildOutcome(exitCode: code, signal: nil, stderrTail: tail.text)
        case .signaled(let signal):
            return ChildOutcome(exitCode: nil, signal: signal, stderrTail: tail.text)
        }
    }

    /// Runs `command` and collects its stdout (up to `limit` bytes); throws `ChildFailure` on a non-zero exit.
    public static func capture(_ command: ChildCommand, limit: Int = 16 << 20) async throws -> String {
        let collector = ByteCollector(limit: limit)
        let outcome = try await run(command, stdout: { collector.append($0) })
        guard outcome.succeeded else {
            throw ChildFailure(tool: command.toolName, status: outcome.statusText, stderrTail: outcome.stderrTail)
        }
        return collector.string
    }

    /// SIGTERM to the group now, SIGKILL five seconds later if anything of it is left.
    static func terminateGroup(_ pid: pid_t) {
        kill(-pid, SIGTERM)
        Task.detached {
            try? await Task.sleep(for: .seconds(5))
            kill(-pid, SIGKILL)
        }
    }

    /// pgbak's environment without libpq's password variables, plus `extra`.
    static func childEnvironment(_ extra: [String: String]) -> [[UInt8]] {
        var env = ProcessInfo.processInfo.environment
        for key in ["PGPASSWORD", "PGPASSFILE", "PGSERVICEFILE", "PGSERVICE"] { env[key] = nil }
        env["LC_MESSAGES"] = "C"
        for (key, value) in extra { env[key] = value }
        return env.map { Array("\($0.key)=\($0.value)\0".utf8) }
    }
}

/// Collects stdout bytes up to a limit.
final class ByteCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes: [UInt8] = []
    private let limit: Int

    init(limit: Int) { self.limit = limit }

    func append(_ buffer: UnsafeRawBufferPointer) {
        lock.withLock {
            let room = max(0, limit - bytes.count)
            bytes.append(contentsOf: buffer.prefix(room))
        }
    }

    var string: String { lock.withLock { String(decoding: bytes, as: UTF8.self) } }
    var data: Data { lock.withLock { Data(bytes) } }
}

/// Keeps the last few KiB of a child's stderr and reports whole lines as they arrive.
final class StderrTail: @unchecked Sendable {
    private let lock = NSLock()
    private var kept: [UInt8] = []
    private var line: [UInt8] = []
    private let limit: Int
    private let onLine: (@Sendable (String) -> Void)?

    init(limit: Int, onLine: (@Sendable (String) -> Void)?) {
        self.limit = limit
        self.onLine = onLine
    }

    func append(_ buffer: UnsafeRawBufferPointer) {
        var lines: [String] = []
        lock.withLock {
            kept.append(contentsOf: buffer)
            if kept.count > limit * 2 { kept.removeFirst(kept.count - limit) }
            guard onLine != nil else { return }
            for byte in buffer {
                if byte == 0x0A || byte == 0x0D {
                    if !line.isEmpty { lines.append(String(decoding: line, as: UTF8.self)) }
                    line.removeAll(keepingCapacity: true)
                } else {
                    line.append(byte)
                }
            }
        }
        for l in lines { onLine?(l) }
    }

    func flush() {
        let rest: String? = lock.withLock {
            defer { line.removeAll() }
            return line.isEmpty ? nil : String(decoding: line, as: UTF8.self)
        }
        if let rest { onLine?(rest) }
    }

    var text: String {
        lock.withLock { String(decoding: kept.suffix(limit), as: UTF8.self) }
    }
}
