import Foundation

/// A failure talking to Patroni's REST API, naming the URL and what to check.
public struct PatroniError: LocalizedError, Sendable {
    public var url: String
    public var problem: String

    public var errorDescription: String? { "Patroni at \(url): \(problem)" }
}

/// Every configured Patroni URL failed.
public struct PatroniUnreachable: LocalizedError, Sendable {
    public var failures: [PatroniError]
    public var configFile: String

    public var errorDescription: String? {
        "no Patroni REST URL answered (patroni.urls in \(configFile)):\n"
            + failures.map { "  - " + ($0.errorDescription ?? "") }.joined(separator: "\n")
    }
}
