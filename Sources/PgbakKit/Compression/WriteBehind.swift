import CWriteback

/// Keeps a large backup file from piling up in the page cache while it is written: each 8 MiB is sent to disk as
/// soon as it is complete, and the 8 MiB before it, on disk by then, is dropped from the cache. So the database on
/// the same host keeps its cache, the final fsync finds little left to write, removing an old backup does not first
/// have to evict it, and `pgbak verify` reads what is on disk rather than what is still in memory. Advisory: a
/// failing call only leaves pages in the cache; durability stays with fsync.
struct WriteBehind {
    static let step: Int64 = 8 << 20
    private var started: Int64 = 0
    private var dropped: Int64 = 0

    /// Call as the file grows; `size`: the bytes written so far, all at offsets below it.
    mutating func advance(fd: Int32, size: Int64) {
        guard size - started >= Self.step else { return }
        if started - dropped >= Self.step {
            _ = pgbak_drop_behind(fd, dropped, started - dropped)
            dropped = started
        }
        Self.startWriteback(fd: fd, from: started, to: size)
        started = size
    }

    /// Starts writing bytes [from, to) of `fd` to disk without waiting for them (advisory).
    static func startWriteback(fd: Int32, from: Int64, to: Int64) {
        _ = pgbak_start_writeback(fd, from, to - from)
    }

    /// Call once the file is complete and fsynced: drops the rest of a file that grew past one step (smaller files,
    /// manifests and records, are read again soon and stay cached).
    func finish(fd: Int32, size: Int64) {
        guard size >= Self.step else { return }
        _ = pgbak_drop_behind(fd, dropped, 0)
    }
}
