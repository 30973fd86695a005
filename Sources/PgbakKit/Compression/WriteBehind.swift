import CWriteback

/// Sends a file's pages to disk while it is written, 8 MiB at a time, instead of leaving them all to the final fsync.
/// A backup file (`drops`) also leaves the page cache one step behind, once on disk: the database on the same host
/// keeps its cache, removing an old backup does not first have to evict it, and `pgbak verify` reads what is on disk
/// rather than what is still in memory. A restored data directory's smaller files keep their pages: PostgreSQL reads
/// them soon (its large files are written around the page cache, see DirectWriter).
/// Advisory: a failing call only leaves pages dirty or cached; durability stays with fsync.
struct WriteBehind {
    static let step: Int64 = 8 << 20
    /// Whether ranges on disk leave the page cache.
    let drops: Bool
    private var started: Int64 = 0
    private var dropped: Int64 = 0

    init(drops: Bool) {
        self.drops = drops
    }

    /// Call as the file grows; `size`: the bytes written so far, all at offsets below it.
    mutating func advance(fd: Int32, size: Int64) {
        guard size - started >= Self.step else { return }
        if drops, started - dropped >= Self.step {
            _ = pgbak_drop_behind(fd, dropped, started - dropped)
            dropped = started
        }
        _ = pgbak_start_writeback(fd, started, size - started)
        started = size
    }

    /// Call once the file is complete (and, when it drops, fsynced): its last pages are sent to disk, or dropped
    /// from the cache when it grew past one step (smaller backup files, manifests and records, are read again soon
    /// and stay cached).
    mutating func finish(fd: Int32, size: Int64) {
        if drops {
            if size >= Self.step { _ = pgbak_drop_behind(fd, dropped, 0) }
        } else if size > started {
            _ = pgbak_start_writeback(fd, started, size - started)
            started = size
        }
    }
}
