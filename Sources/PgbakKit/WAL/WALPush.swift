import Foundation
import Logging

/// `pgbak wal-push %p`, PostgreSQL's archive_command: stores one WAL file durably, after checking it belongs to
/// this archive's cluster and that this member may write it, then pushes the next `.ready` files ahead in parallel
/// (PostgreSQL's later calls for them find them archived and return at once). A new timeline's `.history` file
/// also fills the archive with the parent timeline's segments it lacks, from this member's `pg_wal` or else the other
/// members' (the failover gap: WAL the old leader had not archived yet).
public struct WALPush: Sendable {
    public let context: RunContext
    public let archive: WALArchive
    /// PostgreSQL runs archive_command in the data directory.
    public let dataDirectory: String
    public var pushAhead = 8

    public init(context: RunContext, archive: WALArchive, dataDirectory: String) {
        self.context = context
        self.archive = archive
        self.dataDirectory = dataDirectory
    }

    public struct Report: Sendable {
        public var file: String
        public var stored: Bool
        public var pushedAhead: [String] = []
        public var backfilled: [String] = []
    }

    /// One file to archive: read, checksummed and checked against the archive.
    struct Incoming {
        var file: WALFileName
        var content: Data
        var sha256: String
        var modified: Date?
    }

    enum Outcome { case stored, alreadyArchived }

    public func push(path: String) async throws -> Report {
        let name = (path as NSString).lastPathComponent
        guard let file = WALFileName(name) else {
            throw WALArchiveError(
                problem: "'\(path)' is not a WAL file name; archive_command should be: pgbak wal-push %p")
        }
        let incoming = try read(path.hasPrefix("/") ? path : dataDirectory + "/" + path, as: file)
        let systemIdentifier = try WALPages.systemIdentifier(dataDirectory: dataDirectory)
        let info = try archive.adopt(
            WALArchiveInfo(systemIdentifier: String(systemIdentifier), segmentSize: try segmentSize(incoming)))
        let guardrail = Guardrail(push: self, info: info)
        var report = Report(file: name, stored: false)
        report.stored = try await guardrail.store(incoming) == .stored
        if case .history(let timeline) = file {
            report.backfilled = try await backfill(timeline: timeline, historyText: incoming.content, guardrail)
        }
        report.pushedAhead = await pushAhead(after: name, guardrail)
        return report
    }

    /// The data directory of a push: PostgreSQL runs archive_command in it with a relative `%p`; Patroni, archiving
    /// a former leader's finished files before pg_rewind, passes `<data directory>/pg_wal/<file>` from elsewhere.
    public static func dataDirectory(for path: String, workingDirectory: String) -> String {
        guard path.hasPrefix("/") else { return workingDirectory }
        let walDirectory = (path as NSString).deletingLastPathComponent
        guard (walDirectory as NSString).lastPathComponent == "pg_wal" else { return workingDirectory }
        return (walDirectory as NSString).deletingLastPathComponent
    }

    func read(_ path: String, as file: WALFileName) throws -> Incoming {
        guard let content = FileManager.default.contents(atPath: path) else {
            throw WALArchiveError(problem: "cannot read \(path): \(Errno.text())")
        }
        let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
        return Incoming(file: file, content: content, sha256: WALArchive.sha256(content), modified: modified)
    }

    /// A segment's own size, else the archive's, else that of any segment in pg_wal.
    func segmentSize(_ incoming: Incoming) throws -> UInt64 {
        if case .segment = incoming.file { return UInt64(incoming.content.count) }
        if let info = try archive.info() { return info.segmentSize }
        let walDirectory = dataDirectory + "/pg_wal"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: walDirectory)) ?? [] {
            if case .segment = WALFileName(name),
                let size = (try? FileManager.default.attributesOfItem(atPath: walDirectory + "/" + name))?[.size]
                    as? NSNumber
            {
                return size.uint64Value
            }
        }
        return 16 << 20
    }

    /// The `.ready` files after `name`, oldest first, pushed in parallel; failures are left for PostgreSQL's own
    /// call (which reports them).
    func pushAhead(after name: String, _ guardrail: Guardrail) async -> [String] {
        let statusDirectory = dataDirectory + "/pg_wal/archive_status"
        let ready = ((try? FileManager.default.contentsOfDirectory(atPath: statusDirectory)) ?? [])
            .filter { $0.hasSuffix(".ready") }.map { String($0.dropLast(6)) }
            .filter { $0 != name && WALFileName($0) != nil }.sorted().prefix(pushAhead)
        return await withTaskGroup(of: String?.self) { group in
            var pushed: [String] = []
            var pending = ready.makeIterator()
            func next() {
                guard let item = pending.next(), let file = WALFileName(item) else { return }
                group.addTask {
                    do {
                        let incoming = try read(dataDirectory + "/pg_wal/" + item, as: file)
                        return try await guardrail.store(incoming) == .stored ? item : nil
                    } catch {
                        context.logger.debug("push ahead failed", metadata: ["wal": "\(item)", "error": "\(error)"])
                        return nil
                    }
                }
            }
            for _ in 0..<2 { next() }
            while let result = await group.next() {
                if let result { pushed.append(result) }
                next()
            }
            return pushed.sorted()
        }
    }

    /// After a promotion: the parent timeline's segments below the switch point that the archive lacks, from this
    /// member's pg_wal (it streamed them as a replica), then from the other members'. What no member has stays a
    /// gap that check and verify report.
    func backfill(timeline: UInt32, historyText: Data, _ guardrail: Guardrail) async throws -> [String] {
        let history = try TimelineHistory(timeline: timeline, text: String(decoding: historyText, as: UTF8.self))
        guard let parent = history.ancestors.last else { return [] }
        let size = guardrail.info.segmentSize
        let end = parent.switchPoint.segment(size: size)
        var archived = Set(
            try archive.contents().compactMap { item -> UInt64? in
                guard case .segment(let s) = item.file, s.timeline == parent.timeline else { return nil }
                return s.number(size: size)
            })
        let walDirectory = dataDirectory + "/pg_wal"
        var filled: [String] = []
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: walDirectory)) ?? []).sorted() {
            guard case .segment(let segment) = WALFileName(name), segment.timeline == parent.timeline,
                segment.number(size: size) < end, !archived.contains(segment.number(size: size))
            else { continue }
            let incoming = try read(walDirectory + "/" + name, as: .segment(segment))
            if try await guardrail.store(incoming) == .stored { filled.append(name) }
            archived.insert(segment.number(size: size))
        }
        if !filled.isEmpty {
            context.logger.notice(
                "filled the failover gap from this member's pg_wal",
                metadata: ["timeline": "\(parent.timeline)", "segments": "\(filled.count)"])
        }
        guard let span = history.path.first(where: { $0.timeline == parent.timeline }) else { return filled }
        let missing = Self.missing(parent: span, archived: archived, size: size)
        return filled + (await backfillFromMembers(missing, switchPoint: parent.switchPoint, guardrail))
    }
}
