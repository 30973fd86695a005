import Foundation

/// A problem with the backup repository, naming the path and what to do.
public struct RepositoryError: LocalizedError, Sendable {
    public var path: String
    public var problem: String
    public var errorDescription: String? { "repository \(path): \(problem)" }
}

/// Another pgbak run holds the repository's lock.
public struct RepositoryLocked: LocalizedError, Sendable {
    public var lockFile: String
    public var holderPID: Int32?
    /// Who holds it, when more is known than a PID on this host (a lease's host, PID and expiry).
    public var holder: String?

    public init(lockFile: String, holderPID: Int32? = nil, holder: String? = nil) {
        self.lockFile = lockFile
        self.holderPID = holderPID
        self.holder = holder
    }

    public var errorDescription: String? {
        let holder = holder ?? holderPID.map { "PID \($0)" } ?? "a process whose PID is unknown"
        return "another pgbak run (\(holder)) holds \(lockFile); wait for it to finish"
    }
}
