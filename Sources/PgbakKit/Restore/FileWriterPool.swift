import Foundation

/// Creates and writes files on a few threads of their own while the caller keeps decompressing: creating a file is
/// the costly step on ext4 (more so right after a tree was removed, when it skips recently freed inodes), and one
/// thread doing it between decompressing chunks leaves the other cores idle. Each file goes whole, in order, to the
/// worker with the least data queued, so small files are created beside a large one being written. At most
/// `queueLimit` bytes wait in copies at a time. Large files go to disk around the page cache (DirectWriter); a smaller
/// file's pages are sent to disk while it is written (WriteBehind, keeping them cached), without waiting for them:
/// PostgreSQL fsyncs the whole data directory when it starts from a backup, and then finds little left to write.
final class FileWriterPool: @unchecked Sendable {
    private enum Job {
        case create(path: String, mode: mode_t, size: Int64)
        case data(UnsafeMutableRawBufferPointer)
        case end
    }

    /// One worker's queue and the file it has open; `fd` and the byte counts are touched by the worker alone.
    private final class Worker: @unchecked Sendable {
        var jobs: [Job] = []
        var head = 0
        /// Bytes queued plus `createWeight` per file still to create: how busy it is.
        var load = 0
        var fd: Int32 = -1
        var path = ""
        var fileBytes: Int64 = 0
        var writeBehind = WriteBehind(drops: false)
        /// Whether the open file goes through `direct`.
        var writesDirect = false
        lazy var direct = DirectWriter()

        var isIdle: Bool { head == jobs.count }

        func next() -> Job {
            let job = jobs[head]
            head += 1
            if head == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                head = 0
            }
            return job
        }
    }

    static let queueLimit = 16 << 20
    /// A file creation counts as this many bytes of work when choosing a worker.
    static let createWeight = 256 << 10
    static var defaultWorkers: Int { min(max(ProcessInfo.processInfo.activeProcessorCount, 2), 4) }

    private let condition = NSCondition()
    private let workers: [Worker]
    private var queuedBytes = 0
    private var closing = false
    private var running: Int
    private var failure: (any Error)?
    /// The worker the caller's current file went to.
    private var current: Worker?

    /// Every file through the page cache, none direct: the server replays WAL over them at once (recovery to a
    /// point in time), and a cached data page is read without a disk read.
    private let cached: Bool

    init(workers count: Int = FileWriterPool.defaultWorkers, cached: Bool = false) {
        self.cached = cached
        workers = (0..<max(count, 1)).map { _ in Worker() }
        running = workers.count
        for worker in workers {
            let thread = Thread { [self] in serve(worker) }
            thread.start()
        }
    }

    /// Starts a new file at `path` (created, never opened if it exists) with `mode`, of `size` bytes to come.
    func create(path: String, mode: mode_t, size: Int64) throws {
        condition.lock()
        defer { condition.unlock() }
        try throwIfFailed()
        let worker = workers.min { $0.load < $1.load } ?? workers[0]
        current = worker
        worker.load += Self.createWeight
        enqueue(.create(path: path, mode: mode, size: size), to: worker)
    }

    /// Appends a copy of `data` to the current file; waits while too much is queued.
    func write(_ data: UnsafeRawBufferPointer) throws {
        guard data.count > 0 else { return }
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: data.count, alignment: 16)
        copy.copyMemory(from: data)
        condition.lock()
        defer { condition.unlock() }
        while queuedBytes >= Self.queueLimit && failure == nil { condition.wait() }
        guard failure == nil, let worker = current else {
            copy.deallocate()
            try throwIfFailed()
            return
        }
        queuedBytes += copy.count
        worker.load += copy.count
        enqueue(.data(copy), to: worker)
    }

    /// Ends the current file.
    func endFile() throws {
        condition.lock()
        defer { condition.unlock() }
        try throwIfFailed()
        if let worker = current { enqueue(.end, to: worker) }
        current = nil
    }

    /// Waits until every queued job is done and the workers have stopped; throws the first failure. Call exactly once,
    /// also when the caller itself failed (the workers then stop after what they have).
    func finish() throws {
        condition.lock()
        defer { condition.unlock() }
        closing = true
        condition.broadcast()
        while running > 0 { condition.wait() }
        try throwIfFailed()
    }

    private func throwIfFailed() throws {
        if let failure { throw failure }
    }

    private func enqueue(_ job: Job, to worker: Worker) {
        worker.jobs.append(job)
        condition.broadcast()
    }

    private func serve(_ worker: Worker) {
        condition.lock()
        while true {
            while worker.isIdle && !closing { condition.wait() }
            if worker.isIdle { break }
            let job = worker.next()
            let skip = failure != nil
            condition.unlock()
            var error: (any Error)?
            if !skip {
                do { try perform(job, on: worker) } catch let e { error = e }
            }
            condition.lock()
            if let error, failure == nil { failure = error }
            switch job {
            case .create: worker.load -= Self.createWeight
            case .data(let buffer):
                buffer.deallocate()
                queuedBytes -= buffer.count
                worker.load -= buffer.count
                condition.broadcast()
            case .end: break
            }
        }
        if worker.fd >= 0 {
            close(worker.fd)
            worker.fd = -1
        }
        running -= 1
        condition.broadcast()
        condition.unlock()
    }

    private func perform(_ job: Job, on worker: Worker) throws {
        switch job {
        case .create(let path, let mode, let size):
            worker.writesDirect = !cached && size >= DirectWriter.threshold
            worker.fd =
                worker.writesDirect
                ? worker.direct.create(path: path, mode: mode, size: size)
                : open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
            guard worker.fd >= 0 else { throw RestoreError(problem: "cannot create \(path): \(Errno.text())") }
            worker.path = path
            worker.fileBytes = 0
            worker.writeBehind = WriteBehind(drops: false)
        case .data(let buffer):
            guard worker.fd >= 0 else { return }
            let data = UnsafeRawBufferPointer(buffer)
            if worker.writesDirect {
                try worker.direct.append(data, fd: worker.fd, path: worker.path)
                return
            }
            if let code = Errno.writeAll(worker.fd, data) { throw RestoreError.cannotWrite(worker.path, errno: code) }
            worker.fileBytes += Int64(buffer.count)
            worker.writeBehind.advance(fd: worker.fd, size: worker.fileBytes)
        case .end:
            guard worker.fd >= 0 else { return }
            if worker.writesDirect {
                try worker.direct.finish(fd: worker.fd, path: worker.path)
            } else {
                worker.writeBehind.finish(fd: worker.fd, size: worker.fileBytes)
            }
            close(worker.fd)
            worker.fd = -1
        }
    }
}
