import ArgumentParser
import PgbakKit

/// Where point-in-time recovery stops: restore --standalone and bootstrap-method take the same flags.
struct RecoveryTargetOptions: ParsableArguments {
    @Option(name: .long, help: "Recover to this moment (ISO 8601; UTC without a zone).")
    var toTime: String?

    @Option(name: .long, help: "Recover to this WAL position (e.g. 0/5000060).")
    var toLsn: String?

    @Option(name: .long, help: "Recover up to this transaction's commit.")
    var toXid: UInt64?

    @Option(name: .long, help: "Recover to this restore point (pg_create_restore_point).")
    var toName: String?

    @Flag(name: .long, help: "Recover everything the WAL archive holds.")
    var toLatest = false

    func validate() throws {
        let targets = [toTime != nil, toLsn != nil, toXid != nil, toName != nil, toLatest].filter { $0 }.count
        if targets > 1 {
            throw ValidationError("give at most one of --to-time, --to-lsn, --to-xid, --to-name, --to-latest")
        }
        if let toTime, RecoveryTarget.parseTime(toTime) == nil {
            throw ValidationError(
                "--to-time '\(toTime)' is not a time: give e.g. '2026-12-07 10:15:00+01' or 2026-12-07T09:15:00Z")
        }
        if let toLsn, LSN(toLsn) == nil { throw ValidationError("--to-lsn '\(toLsn)' is not an LSN like 0/5000060") }
    }

    /// The recovery target given, if any.
    var target: RecoveryTarget? {
        if let toTime, let date = RecoveryTarget.parseTime(toTime) { return .time(date) }
        if let toLsn, let lsn = LSN(toLsn) { return .lsn(lsn) }
        if let toXid { return .xid(toXid) }
        if let toName { return .name(toName) }
        return toLatest ? .latest : nil
    }
}
