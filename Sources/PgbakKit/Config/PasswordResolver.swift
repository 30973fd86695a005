import Foundation

/// A credential that could not be read, naming where it is configured.
public struct CredentialError: LocalizedError, Sendable {
    public var problem: String
    public var errorDescription: String? { problem }
}

/// Turns configured password sources into what libpq and child tools need, without a password ever reaching argv.
public enum PasswordResolver {
    static func readEnvironment(_ name: String, key: String, configFile: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw CredentialError(
                problem: "environment variable \(name) (\(key).password_env in \(configFile)) "
                    + "is not set or empty")
        }
        return value
    }

    static func patroniPassword(_ source: PasswordSource, configFile: String) throws -> String {
        switch source {
        case .environment(let name):
            return try readEnvironment(name, key: "patroni", configFile: configFile)
        case .file(let path), .passfile(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CredentialError(problem: "cannot read \(path) (patroni.password_file in \(configFile))")
            }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
        case .none:
            return ""
        }
    }

    /// A libpq password-file line matching any host, port and database for `user`.
    static func passfileLine(user: String, password: String) -> String {
        func escape(_ s: String) -> String {
            s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: ":", with: "\\:")
        }
        return "*:*:*:\(escape(user)):\(escape(password))\n"
    }
}

/// The credentials of one run: a private 0600 password file per login for child tools (removed by `remove()`), and
/// libpq connection parameters for pgbak's own connections.
public final class RunCredentials: @unchecked Sendable {
    private let directory: String
    private let configFile: String
    private var passfiles: [String: String] = [:]
    private let lock = NSLock()

    /// `directory` must be private to this run (mode 0700); it is removed by `remove()`.
    public init(directory: String, configFile: String) throws {
        self.directory = directory
        self.configFile = configFile
        let parent = (directory as NSString).deletingLastPathComponent
        _ = mkdir(parent, 0o700)
        guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
            throw CredentialError(problem: "cannot create the private directory \(directory): \(Errno.text())")
        }
    }

    /// A path in the run's private directory, for a file a child tool reads (removed with the directory).
    public func privatePath(_ name: String) -> String { directory + "/" + name }

    /// Environment for a child tool connecting as `login`.
    public func environment(for login: PostgresLogin) throws -> [String: String] {
        switch login.password {
        case .passfile(let path):
            return ["PGPASSFILE": path]
        case .environment(let name):
            return ["PGPASSFILE": try temporaryPassfile(login: login, variable: name)]
        case .file(let path):
            return ["PGPASSFILE": path]
        case .none:
            return [:]
        }
    }

    /// libpq connection parameters (password or passfile) for pgbak's own connection as `login`.
    public static func connectionParameters(for login: PostgresLogin, configFile: String) throws -> [String: String] {
        switch login.password {
        case .passfile(let path), .file(let path):
            return ["passfile": path]
        case .environment(let name):
            return [
                "password": try PasswordResolver.readEnvironment(name, key: login.configKey, configFile: configFile)
            ]
        case .none:
            return [:]
        }
    }

    private func temporaryPassfile(login: PostgresLogin, variable: String) throws -> String {
        let password = try PasswordResolver.readEnvironment(variable, key: login.configKey, configFile: configFile)
        return try lock.withLock {
            if let existing = passfiles[login.configKey] { return existing }
            let path = directory + "/" + login.configKey.replacingOccurrences(of: ".", with: "-") + ".pgpass"
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw CredentialError(
                    problem: "cannot create a private password file in \(directory): "
                        + String(cString: strerror(errno)))
            }
            defer { Glibc.close(fd) }
            let line = PasswordResolver.passfileLine(user: login.user, password: password)
            let written = line.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, line.utf8.count) }
            guard written == line.utf8.count else {
                throw CredentialError(problem: "cannot write a private password file in \(directory)")
            }
            passfiles[login.configKey] = path
            return path
        }
    }

    /// Removes the run's password files.
    public func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { remove() }
}
