import Foundation

/// Compresses the tars pg_basebackup leaves uncompressed (pg_wal.tar) once it has received everything (see
/// `PgBaseBackup.receivedLine`), while it still fsyncs its files and renames its manifest, instead of after it exits.
/// A result counts only if the tar is still the file that was read (device, inode, size, modification time) after
/// pg_basebackup has exited: the caller compresses the usual way every tar `compressed()` does not name (the signal
/// never came, a compression failed, the file changed).
final class ClosedTarCompressor: @unchecked Sendable {
    private struct Compressed {
        var record: FileRecord
        var identity: FileIdentity
    }

    private let directory: String
    private let staging: StagingArea
    private let relativeDirectory: String
    private let level: Int
    private let threads: Int
    private let lock = NSLock()
    private var results: [String: Compressed] = [:]
    private var work: Task<Void, Never>?

    /// Tars are read from `staging`'s `relativeDirectory`; compressed files are written as (and recorded as)
    /// `relativeDirectory/NAME.tar.zst` of the backup.
    init(staging: StagingArea, relativeDirectory: String, level: Int, threads: Int) {
        self.staging = staging
        directory = staging.directory + "/" + relativeDirectory
        self.relativeDirectory = relativeDirectory
        self.level = level
        self.threads = threads
    }

    /// Starts compressing every `*.tar` in the directory on a thread of its own; only the first call does anything.
    func start() {
        lock.withLock {
            guard work == nil else { return }
            work = Task {
                _ = try? await Blocking.run { [self] in
                    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
                    for name in names.sorted() where name.hasSuffix(".tar") { compress(name) }
                }
            }
        }
    }

    /// Waits for the compressions `start` began, if any.
    func finish() async {
        await lock.withLock { work }?.value
    }

    /// The records of the `NAME.zst` files compressed from tars that are still the files that were read, by `NAME`.
    /// Call after `finish`, once pg_basebackup has exited.
    func compressed() -> [String: FileRecord] {
        lock.withLock { results }.filter { name, result in
            FileIdentity(path: directory + "/" + name) == result.identity
        }.mapValues(\.record)
    }

    /// A tar that changes while it is compressed no longer matches `before` at the end, and `compressed()` leaves it
    /// out; the caller then replaces the `.zst` file.
    private func compress(_ name: String) {
        let source = directory + "/" + name
        guard let before = FileIdentity(path: source),
            let record = try? ZstdWriter.compressFile(
                source: source, into: staging, relativePath: relativeDirectory + "/" + name + ".zst",
                level: level, threads: threads)
        else { return }
        lock.withLock { results[name] = Compressed(record: record, identity: before) }
    }
}

/// What tells one version of a file from another without reading it.
struct FileIdentity: Sendable, Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modifiedSeconds: Int
    var modifiedNanoseconds: Int

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        modifiedSeconds = info.st_mtim.tv_sec
        modifiedNanoseconds = info.st_mtim.tv_nsec
    }
}
