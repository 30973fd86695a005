import Foundation

/// What kind of base backup `pgbak now` takes.
public enum BaseBackupPlan: Sendable, Equatable {
    /// A full one; `reason` says why when incremental backups are on (nil when they are off).
    case full(reason: String?)
    /// An incremental one against `link.parent` (pg_basebackup --incremental with its backup_manifest).
    case incremental(Manifest.Incremental)

    /// Why a full backup is taken although incremental ones are on.
    public var fullReason: String? {
        if case .full(let reason) = self { return reason }
        return nil
    }

    public var incremental: Manifest.Incremental? {
        if case .incremental(let link) = self { return link }
        return nil
    }
}

/// Pure choice between a full and an incremental base backup. An incremental one is taken only when it can be
/// restored later from backups pgbak keeps and PostgreSQL can build it: PostgreSQL 17 or later, an earlier base
/// backup of the same cluster, major version, timeline and key, whose own chain is whole and verified, while the
/// chain is shorter than `max_incremental_chain` and its full backup younger than `full_every_days`.
public enum IncrementalPlanner {
    /// The leader the backup is taken from.
    public struct Source: Sendable, Equatable {
        public var serverMajor: Int
        public var systemIdentifier: String
        public var timeline: Int?

        public init(serverMajor: Int, systemIdentifier: String, timeline: Int?) {
            self.serverMajor = serverMajor
            self.systemIdentifier = systemIdentifier
            self.timeline = timeline
        }
    }

    /// `backups`: the repository's, any order. `keyCheck`: the configured key's check (nil: no encryption).
    public static func plan(
        settings: PgbakConfig.Incremental, forceFull: Bool, source: Source, backups: [StoredBackup],
        keyCheck: String?, now: Date
    ) -> BaseBackupPlan {
        guard settings.enabled else { return .full(reason: nil) }
        if forceFull { return .full(reason: "a full backup was asked for (--full)") }
        guard source.serverMajor >= 17 else {
            return .full(reason: "PostgreSQL \(source.serverMajor) takes no incremental backups (17 and later do)")
        }
        let candidates = backups.filter {
            $0.manifest.physical.status == .complete
                && $0.manifest.cluster.systemIdentifier == source.systemIdentifier
        }
        guard let parent = candidates.max(by: { $0.id < $1.id }) else {
            return .full(reason: "no earlier base backup of this cluster to take an incremental one against")
        }
        let parentMajor = parent.manifest.cluster.serverVersionNum / 10000
        guard parentMajor == source.serverMajor else {
            return .full(reason: "the newest backup \(parent.id) is of PostgreSQL \(parentMajor)")
        }
        let parentTimeline = parent.manifest.physical.stopTimeline ?? parent.manifest.cluster.timeline
        if let timeline = source.timeline, timeline != parentTimeline {
            return .full(
                reason: "the timeline changed since backup \(parent.id) (\(parentTimeline) → \(timeline): a failover "
                    + "or switchover)")
        }
        guard parent.manifest.encryption?.keyCheck == keyCheck else {
            return .full(reason: "backup \(parent.id) is stored with another key (or without one)")
        }
        if let last = parent.verifications.last, !last.ok {
            return .full(reason: "backup \(parent.id) failed its last verification")
        }
        let chain: [StoredBackup]
        do {
            chain = try BackupChain.of(parent, among: backups).backups
        } catch {
            return .full(reason: "backup \(parent.id) cannot be built on: \(error.localizedDescription)")
        }
        if let failed = chain.first(where: { $0.verifications.last?.ok == false }) {
            return .full(
                reason: "backup \(failed.id), which backup \(parent.id) depends on, failed its last verification")
        }
        let full = chain[0]
        let depth = chain.count
        guard depth <= settings.maxChain else {
            return .full(
                reason: "full backup \(full.id) already has \(depth - 1) incremental backups on it "
                    + "(base_backup.max_incremental_chain: \(settings.maxChain))")
        }
        if let taken = BackupID.date(of: full.id) {
            let age = now.timeIntervalSince(taken)
            if age >= Double(settings.fullEveryDays) * 86400 {
                return .full(
                    reason: "full backup \(full.id) is \(String(format: "%.1f", age / 86400)) days old "
                        + "(base_backup.full_every_days: \(settings.fullEveryDays))")
            }
        }
        return .incremental(Manifest.Incremental(parent: parent.id, full: full.id, depth: depth))
    }
}
