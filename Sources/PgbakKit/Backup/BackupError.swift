import Foundation

/// A backup run that cannot go on, with the reason and what to do.
public struct BackupError: LocalizedError, Sendable {
    public var problem: String
    public var errorDescription: String? { problem }
}
