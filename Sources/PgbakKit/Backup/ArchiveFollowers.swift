import Foundation

/// Follows every compressed archive pg_basebackup writes into its directory (`base.tar.zst` from the start, each
/// tablespace's `<oid>.tar.zst` as soon as it appears) with a `FollowingHasher`: hashed, and stored elsewhere when the
/// staging area says so (uploaded, sealed), while pg_basebackup still writes, instead of after it exits.
/// `NAME.tar.zst` beside a `NAME.tar` is pgbak's own compression of that tar (ClosedTarCompressor), never followed.
final class ArchiveFollowers: @unchecked Sendable {
    static let baseName = "base.tar.zst"
    private let directory: String
    private let relativeDirectory: String
    private let staging: StagingArea
    private let lock = NSLock()
    private var followers: [String: FollowingHasher] = [:]
    private var watching = true
    private let stopped = DispatchSemaphore(value: 0)
    static let pollMicroseconds: useconds_t = 20_000

    init(directory: String, relativeDirectory: String, staging: StagingArea) throws {
        self.directory = directory
        self.relativeDirectory = relativeDirectory
        self.staging = staging
        try follow(Self.baseName)
        Thread { [self] in
            while lock.withLock({ watching }) {
                scan()
                usleep(Self.pollMicroseconds)
            }
            stopped.signal()
        }.start()
    }

    /// Stops looking for new archives, after a last look (call once pg_basebackup has exited); the followers go on
    /// until each is finished.
    func stopWatching() {
        let wasWatching = lock.withLock {
            defer { watching = false }
            return watching
        }
        guard wasWatching else { return }
        stopped.wait()
        scan()
    }

    /// Whether `name` is followed.
    func follows(_ name: String) -> Bool { lock.withLock { followers[name] != nil } }

    /// `name`'s record once its writer has exited; nil when following it failed (see `FollowingHasher.finish`), with
    /// the reason in `failure(of:)`.
    func finish(_ name: String) async -> FileRecord? {
        guard let follower = lock.withLock({ followers[name] }) else { return nil }
        return await follower.finish()
    }

    func failure(of name: String) -> (any Error)? { lock.withLock { followers[name] }?.failure }

    /// Stops watching and finishes every follower (after a failed pg_basebackup: uploads are abandoned).
    func finishAll() async {
        stopWatching()
        for follower in lock.withLock({ Array(followers.values) }) { _ = await follower.finish() }
    }

    private func scan() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        let present = Set(names)
        for name in names where name.hasSuffix(".tar.zst") && !present.contains(String(name.dropLast(4))) {
            try? follow(name)
        }
    }

    private func follow(_ name: String) throws {
        guard lock.withLock({ followers[name] == nil }) else { return }
        let relativePath = "\(relativeDirectory)/\(name)"
        let follower = FollowingHasher(
            path: directory + "/" + name, relativePath: relativePath, upload: try staging.upload(relativePath))
        lock.withLock { followers[name] = follower }
    }
}
