/// Reads the leader's WAL horizon: timeline, timeline history, oldest WAL segment still on disk.
enum WALHorizonReader {
    static func read(_ connection: PGConnection, identity: ServerIdentity) throws -> WALHorizon {
        let timeline = identity.timeline ?? 1
        let size =
            UInt64(
                try connection.query("select pg_size_bytes(current_setting('wal_segment_size'))::text")
                    .first?.first.flatMap { $0 } ?? "") ?? 16 << 20
        var history: [TimelineHistory.Branch] = []
        if timeline > 1 {
            let file = String(format: "pg_wal/%08X.history", timeline)
            if let text = try? connection.query("select pg_read_file($1)", [file]).first?.first ?? nil {
                history = (try? TimelineHistory(timeline: UInt32(timeline), text: text))?.ancestors ?? []
            }
        }
        let oldest =
            try connection.query(
                "select min(name) from pg_ls_waldir() where name ~ '^[0-9A-F]{24}$'"
            ).first?.first ?? nil
        return WALHorizon(
            systemIdentifier: identity.systemIdentifier, timeline: timeline, history: history,
            oldestSegment: oldest.flatMap(WALSegment.init(name:))?.number(size: size),
            segmentSize: size)
    }
}
