import Foundation
import Logging

/// Talks to Patroni's REST API through curl (TLS with a private CA, client certificates and basic auth, with the
/// credentials passed on curl's stdin, never on its command line).
public struct PatroniClient: Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var body: Data
    }

    let config: PgbakConfig.Patroni
    let configFile: String
    let logger: Logger

    public init(config: PgbakConfig.Patroni, configFile: String, logger: Logger) {
        self.config = config
        self.configFile = configFile
        self.logger = logger
    }

    /// `GET /cluster` from the first configured URL that answers.
    public func cluster() async throws -> (cluster: PatroniCluster, url: String) {
        var failures: [PatroniError] = []
        for base in config.urls {
            do {
                return (try await cluster(at: base), base)
            } catch let error as PatroniError {
                logger.debug("Patroni URL failed", metadata: ["url": "\(base)", "error": "\(error.problem)"])
                failures.append(error)
            }
        }
        throw PatroniUnreachable(failures: failures, configFile: configFile)
    }

    /// `GET /cluster` from one configured URL.
    public func cluster(at base: String) async throws -> PatroniCluster {
        let response = try await request("GET", url: base + "/cluster")
        guard response.status == 200 else {
            throw PatroniError(url: base, problem: "GET /cluster answered HTTP \(response.status)")
        }
        do {
            return try PatroniCluster.decode(response.body)
        } catch {
            throw PatroniError(url: base, problem: "GET /cluster answered with JSON pgbak cannot read: \(error)")
        }
    }

    /// `GET /patroni` of one member (its api_url).
    public func nodeStatus(apiURL: String) async throws -> PatroniNodeStatus {
        let response = try await request("GET", url: apiURL)
        guard response.status == 200 || response.status == 503 else {
            throw PatroniError(url: apiURL, problem: "answered HTTP \(response.status)")
        }
        do {
            return try JSONDecoder().decode(PatroniNodeStatus.self, from: response.body)
        } catch {
            throw PatroniError(url: apiURL, problem: "answered with JSON pgbak cannot read: \(error)")
        }
    }

    /// One HTTP request; transport failures become `PatroniError`s naming the cause.
    public func request(_ method: String, url: String, jsonBody: String? = nil) async throws -> Response {
        var curlConfig: [String] = []
        if let user = config.username {
            let password = try PasswordResolver.patroniPassword(config.password, configFile: configFile)
            curlConfig.append("user = \(Self.quote(user + ":" + password))")
        }
        if let ca = config.caFile { curlConfig.append("cacert = \(Self.quote(ca))") }
        if let cert = config.certFile { curlConfig.append("cert = \(Self.quote(cert))") }
        if let key = config.keyFile { curlConfig.append("key = \(Self.quote(key))") }
        if let jsonBody {
            curlConfig.append("data = \(Self.quote(jsonBody))")
            curlConfig.append("header = \"Content-Type: application/json\"")
        }
        let timeout = String(format: "%.1f", config.timeoutSeconds)
        let command = ChildCommand(
            executable: "/usr/bin/curl",
            arguments: [
                "--silent", "--show-error", "--config", "-", "--request", method,
                "--connect-timeout", timeout, "--max-time", timeout,
                "--output", "-", "--write-out", "\n%{http_code}", url,
            ],
            input: curlConfig.joined(separator: "\n") + "\n")
        let collector = ByteCollector(limit: 8 << 20)
        let outcome: ChildOutcome
        do {
            outcome = try await ChildProcess.run(command, stdout: { collector.append($0) })
        } catch {
            throw PatroniError(url: url, problem: "cannot run curl: \(error.localizedDescription)")
        }
        guard outcome.succeeded else {
            throw PatroniError(
                url: url,
                problem: Self.explain(
                    curlExit: outcome.exitCode ?? -1,
                    stderr: outcome.stderrTail, timeout: timeout))
        }
        var body = collector.data
        guard let newline = body.lastIndex(of: 0x0A),
            let status = Int(String(decoding: body[(newline + 1)...], as: UTF8.self))
        else {
            throw PatroniError(url: url, problem: "answered something that is not HTTP")
        }
        body = body[..<newline]
        return Response(status: status, body: Data(body))
    }

    static func quote(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    static func explain(curlExit: Int32, stderr: String, timeout: String) -> String {
        let detail = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        switch curlExit {
        case 6: return "host name does not resolve (\(detail))"
        case 7: return "connection refused or unreachable: is Patroni running there? (\(detail))"
        case 28: return "no answer within \(timeout) s (patroni.timeout_seconds)"
        case 35, 53, 54, 58, 59, 66: return "TLS handshake failed: check patroni.cert_file/key_file (\(detail))"
        case 60, 77, 83: return "TLS certificate not trusted: check patroni.ca_file (\(detail))"
        default: return "curl exited \(curlExit): \(detail)"
        }
    }
}
