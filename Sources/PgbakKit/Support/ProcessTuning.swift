import CWriteback

/// Process-wide settings every command starts with.
public enum ProcessTuning {
    /// Large buffers (upload parts, read-ahead chunks) go back to the system when freed, so the
    /// peak memory of a run stays what it holds at once, not what its threads ever held.
    public static func apply() {
        _ = pgbak_large_allocations_unmapped()
    }
}
