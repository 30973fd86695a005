import Foundation

/// What a run holds while it writes to a repository: an flock on a POSIX repository, a lease object on S3.
public protocol RunLock: AnyObject, Sendable {
    /// Fails when the lock was lost (a lease taken over after it expired): called before a backup is published, so a
    /// run that lost the repository never publishes into it.
    func confirm() throws
    /// Gives the lock up; safe to call twice.
    func release()
}

extension RepositoryLock: RunLock {
    /// An flock is held until released: nothing to confirm.
    public func confirm() throws {}
}
