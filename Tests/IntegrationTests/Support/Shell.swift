import Foundation

/// What a finished command returned.
struct CommandResult: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String

    var description: String { "exit \(status)\nstdout:\n\(stdout)\nstderr:\n\(stderr)" }
}

/// Runs commands for the integration tests (as root, or as the postgres OS user).
enum Shell {
    /// Runs `executable` with `arguments`; stdout and stderr are collected through temporary files.
    static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:],
        asPostgres: Bool = false
    ) throws -> CommandResult {
        let process = try start(executable, arguments, environment: environment, asPostgres: asPostgres)
        process.process.waitUntilExit()
        return process.result()
    }

    /// `bash -c script` as root.
    @discardableResult
    static func bash(_ script: String, environment: [String: String] = [:]) throws -> CommandResult {
        try run("/bin/bash", ["-c", script], environment: environment)
    }

    /// `bash -c script`, failing the test's precondition when it exits non-zero.
    @discardableResult
    static func must(_ script: String, environment: [String: String] = [:]) throws -> String {
        let result = try bash(script, environment: environment)
        guard result.status == 0 else { throw ShellFailure(script: script, result: result) }
        return result.stdout
    }

    /// Starts a process without waiting.
    static func start(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:],
        asPostgres: Bool = false
    ) throws -> RunningCommand {
        let process = Process()
        if asPostgres {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=postgres", "--regid=postgres", "--init-groups", executable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        if asPostgres { env["HOME"] = "/var/lib/postgresql" }
        process.environment = env
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pgbak-it-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let out = dir.appendingPathComponent("out")
        let err = dir.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        process.currentDirectoryURL = URL(fileURLWithPath: "/")
        try process.run()
        return RunningCommand(process: process, dir: dir)
    }
}

/// A started command whose output lands in files.
struct RunningCommand {
    var process: Process
    var dir: URL

    var pid: Int32 { process.processIdentifier }

    func result() -> CommandResult {
        let out = (try? String(contentsOf: dir.appendingPathComponent("out"), encoding: .utf8)) ?? ""
        let err = (try? String(contentsOf: dir.appendingPathComponent("err"), encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: dir)
        return CommandResult(status: process.terminationStatus, stdout: out, stderr: err)
    }

    /// Kills it (SIGKILL: a child may inherit an ignored SIGTERM) and waits for it.
    func stop() {
        kill(pid, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: dir)
    }

    /// Waits at most `seconds`; returns nil when still running.
    func wait(seconds: Double) -> CommandResult? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning { return nil }
        return result()
    }
}

struct ShellFailure: Error, CustomStringConvertible {
    var script: String
    var result: CommandResult
    var description: String { "command failed: \(script)\n\(result)" }
}
