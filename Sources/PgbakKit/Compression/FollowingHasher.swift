import CWriteback
import Foundation

/// Checksums a file while another process is still appending to it (pg_basebackup's `base.tar.zst`), so that its
/// checksum is ready moments after the writer exits instead of after reading the whole file a second time. Runs on a
/// thread of its own. `finish()` returns nil when the result cannot be trusted (the file never appeared, was
/// replaced, or its final size differs from what was read); the caller then hashes the file the usual way.
/// The thread runs at the lowest priority: on a busy host it must not take a core from pg_basebackup's compression,
/// and what it lags behind it catches up with while pg_basebackup waits for the end of the WAL and fsyncs. It also
/// writes the file behind pg_basebackup (WriteBehind), which leaves pg_basebackup's final fsync little to do.
///
/// With an `upload` (a repository in a bucket), what it reads is also uploaded as it goes, and what the store has
/// acknowledged is punched out of the local file (its blocks freed), so the local disk holds only the part not yet
/// uploaded. The upload is completed only when the file checked out whole; otherwise it is abandoned and `finish()`
/// returns nil, which then fails the backup (there is no local copy left to read again).
final class FollowingHasher: @unchecked Sendable {
    private let path: String
    private let relativePath: String
    private let upload: (any ObjectUpload)?
    private let lock = NSLock()
    private var writerDone = false
    private var record: FileRecord?
    private var uploadFailure: (any Error)?
    private let stopped = DispatchSemaphore(value: 0)
    static let pollMicroseconds: useconds_t = 5_000

    init(path: String, relativePath: String, upload: (any ObjectUpload)? = nil) {
        self.path = path
        self.relativePath = relativePath
        self.upload = upload
        let thread = Thread { [self] in
            let result = follow()
            lock.withLock { record = result }
            stopped.signal()
        }
        thread.start()
    }

    /// Call once the writer has exited: reads what is left and returns the record, or nil (see the type's comment).
    /// Later calls return the same.
    func finish() async -> FileRecord? {
        lock.withLock { writerDone = true }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                self.stopped.wait()
                self.stopped.signal()
                done.resume()
            }
        }
        return lock.withLock { record }
    }

    private var isWriterDone: Bool { lock.withLock { writerDone } }

    /// Why the upload failed, when it did (after `finish()`).
    var failure: (any Error)? { lock.withLock { uploadFailure } }

    private func follow() -> FileRecord? {
        let record = followFile()
        guard let upload else { return record }
        do {
            guard record != nil else { throw CompressionError(path: path, problem: "could not be followed") }
            try upload.finish()
            return record
        } catch {
            lock.withLock { uploadFailure = uploadFailure ?? error }
            upload.abort()
            return nil
        }
    }

    private func followFile() -> FileRecord? {
        // On Linux a thread's nice value is its own: this lowers only this thread. Not when it uploads: what it has
        // not sent when pg_basebackup ends is sent after, while the backup waits.
        if upload == nil { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19) }
        var fd: Int32 = -1
        while fd < 0 {
            fd = open(path, (upload == nil ? O_RDONLY : O_RDWR) | O_CLOEXEC)
            if fd >= 0 { break }
            if isWriterDone { return nil }
            usleep(Self.pollMicroseconds)
        }
        defer { close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        var hasher = ContentHasher()
        var total: Int64 = 0
        var writeBehind = WriteBehind(drops: true)
        var punched: Int64 = 0
        while true {
            // Read the flag before reading the file: an empty read after the writer exited is the true end.
            let done = isWriterDone
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n > 0 {
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
                hasher.update(chunk)
                total += Int64(n)
                if let upload {
                    do {
                        try upload.write(chunk)
                    } catch {
                        lock.withLock { uploadFailure = error }
                        return nil
                    }
                    let confirmed = upload.confirmedBytes
                    if confirmed - punched >= 32 << 20 {
                        // A filesystem without hole punching keeps the blocks until the staging directory goes.
                        _ = pgbak_punch_hole(fd, punched, confirmed - punched)
                        punched = confirmed
                    }
                } else {
                    writeBehind.advance(fd: fd, size: total)
                }
            } else if n < 0 {
                if errno == EINTR { continue }
                return nil
            } else if done {
                break
            } else {
                usleep(Self.pollMicroseconds)
            }
        }
        var opened = stat()
        var named = stat()
        guard fstat(fd, &opened) == 0, stat(path, &named) == 0, opened.st_ino == named.st_ino,
            opened.st_dev == named.st_dev, Int64(named.st_size) == total
        else { return nil }
        // pg_basebackup fsyncs its files before it exits, and the writer has exited.
        writeBehind.finish(fd: fd, size: total)
        return FileRecord(path: relativePath, bytes: total, checksum: hasher.finalize())
    }
}
