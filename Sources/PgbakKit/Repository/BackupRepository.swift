import Foundation

/// One backup found in a repository, with its manifest.
public struct StoredBackup: Sendable {
    public var id: String
    public var manifest: Manifest
    /// Verifications recorded for it, oldest first.
    public var verifications: [VerificationRecord] = []
}

/// Where backups live. Backups are written into a staging area and become visible only through `publish`.
public protocol BackupRepository: Sendable {
    /// A human-readable location, for messages.
    var location: String { get }
    /// Checks ownership and permissions and creates the layout.
    func prepare() throws
    /// The repository's objects outside backups: the WAL archive, restore requests and results.
    var store: any RepositoryStore { get }
    /// The key backups and WAL are sealed with (`repository.encryption.key_file`); nil: stored as they are.
    var encryptionKey: RepositoryKey? { get }
    /// Takes the repository's run lock: one writer at a time.
    func lock() throws -> any RunLock
    /// Complete (published) backups, oldest first; unreadable ones are reported in `problems`. With `.listing`,
    /// the manifests carry no per-database detail (see `Manifest.Detail`): enough to list, prune and report.
    func backups(detail: Manifest.Detail) throws -> (backups: [StoredBackup], problems: [String])
    /// The newest complete backup (unreadable manifests skipped), reading manifests from the newest down only as far
    /// as it has to; nil when there is none.
    func newestComplete(detail: Manifest.Detail) throws -> StoredBackup?
    /// Ids of published and staged backups (to keep new ids unique).
    func takenIDs() throws -> Set<String>
    /// Creates a private staging area for `id`.
    func createStaging(id: String) throws -> StagingArea
    /// Makes a staged backup visible after everything in it is durable.
    func publish(id: String) throws
    /// Removes a staging directory.
    func discardStaging(id: String) throws
    /// Removes a published backup: first made invisible by a rename, then deleted.
    func delete(id: String) throws
    /// Removes staging directories left by dead runs, except those a process still has open. Returns what it did.
    func cleanStaleStaging() throws -> [String]
    /// Free bytes on the repository's filesystem.
    func freeBytes() throws -> Int64
    /// A directory private to this run, for secrets; removed by the caller.
    func runDirectory() -> String
    /// The files of a published backup as stored (sealed files are decrypted with `encryptionKey` when read);
    /// readers use `files(of:)` with the backup, which checks the key first.
    func files(of id: String) -> BackupFiles
    /// Every file of a published backup (relative path → size), except the manifest, its checksum and
    /// `verification/`.
    func listFiles(id: String) throws -> [String: Int64]
    /// Marks a backup as in use by this process (verify, restore) until `releaseUse`; retention never removes it.
    func markInUse(id: String) throws
    func releaseUse(id: String)
    /// Backups that live processes have marked in use.
    func backupsInUse() -> Set<String>
    /// Stores a verification record next to the backup without touching the files its manifest lists.
    func record(_ verification: VerificationRecord) throws
}

/// Where verification records live inside a backup's directory; never listed in, nor checked against, the manifest.
public let verificationDirectoryName = "verification"

extension BackupRepository {
    /// The files of `backup`, to read (verification, restore, copy). Refuses, before anything is read, an encrypted
    /// backup without a key or with another key than the one it was written with.
    public func files(of backup: StoredBackup) throws -> BackupFiles {
        if let encryption = backup.manifest.encryption {
            try encryption.check(encryptionKey, backup: backup.id)
        }
        return files(of: backup.id).reading(backup.manifest)
    }

    /// The WAL archive, sealed with the repository's key when it has one.
    public var walArchive: WALArchive { WALArchive(store: store, key: encryptionKey) }

    /// Complete backups with their whole manifests.
    public func backups() throws -> (backups: [StoredBackup], problems: [String]) {
        try backups(detail: .full)
    }
}
