import Foundation

extension WALPush {
    /// Stores files the way every push must: an identical copy is success, a different one is a conflict unless
    /// its WAL records are the same, and nothing new is written before the system identifier and Patroni say this
    /// member may write it (Patroni is asked once per call of wal-push).
    struct Guardrail: Sendable {
        let push: WALPush
        let info: WALArchiveInfo
        let view = PatroniView()

        func store(_ incoming: Incoming) async throws -> Outcome {
            let archive = push.archive
            let versions = try archive.versions(of: incoming.file)
            if versions.contains(where: { $0.sha256 == incoming.sha256 }) { return .alreadyArchived }
            if let other = versions.first {
                try sameRecords(incoming, archived: other)
                return .alreadyArchived
            }
            try checkSystemIdentifier(incoming)
            let permission = try await view.permission(for: incoming.file, push: push, segmentSize: info.segmentSize)
            if case .refused(let why) = permission { throw WALArchiveError(problem: why) }
            if case .fillsGap(let leader) = permission {
                push.context.logger.notice(
                    "archiving a segment of an earlier timeline that the archive lacks",
                    metadata: ["wal": "\(incoming.file)", "leader": "\(leader)"])
            }
            let written = try archive.store(
                incoming.file, content: incoming.content, sha256: incoming.sha256,
                level: push.context.config.zstdLevel, modified: incoming.modified)
            // Not written: the same key appeared meanwhile, so an identical copy is there.
            return written ? .stored : .alreadyArchived
        }

        /// A segment's own header must name this archive's cluster.
        func checkSystemIdentifier(_ incoming: Incoming) throws {
            guard case .segment(let segment) = incoming.file else { return }
            let pages = WALPages(incoming.content, segmentStart: segment.start(size: info.segmentSize))
            if let own = pages.systemIdentifier, String(own) != info.systemIdentifier {
                throw WALArchiveError(
                    problem: "\(incoming.file) belongs to the cluster with system identifier \(own), but the archive "
                        + "in \(push.archive.store.location) to \(info.systemIdentifier): refusing to archive it")
            }
        }

        /// Same name, other bytes: the same WAL records are no conflict (a replica's copy differs where it had
        /// not streamed yet); anything else is split brain, never overwritten.
        func sameRecords(_ incoming: Incoming, archived: ArchivedWAL) throws {
            if case .segment(let segment) = incoming.file {
                let start = segment.start(size: info.segmentSize)
                let theirs = try push.archive.content(of: archived)
                if WALPages(incoming.content, segmentStart: start).sameRecords(
                    as: WALPages(theirs, segmentStart: start))
                {
                    push.context.logger.notice(
                        "already archived with other bytes but the same WAL records; kept the archived copy",
                        metadata: ["wal": "\(incoming.file)"])
                    return
                }
            }
            throw WALArchiveError(
                problem: "\(incoming.file) is already archived with other content (archived SHA-256 "
                    + "\(archived.sha256), this server's \(incoming.sha256)): two servers wrote different WAL under one "
                    + "name (split brain?). The archived copy is kept; find out which server is right before you "
                    + "remove \(push.archive.store.location)/\(archived.key)")
        }
    }

    /// Patroni's view of the cluster and the leader timeline's history, fetched once, when a first new file needs it.
    actor PatroniView {
        private var cached: (cluster: PatroniCluster, history: TimelineHistory?)?

        func permission(for file: WALFileName, push: WALPush, segmentSize: UInt64) async throws -> PushPermission {
            let view = try await load(push)
            let local = LocalAddresses.current()
            return PushPermission.decide(
                file: file, member: push.context.config.thisHost.member, port: Self.postmasterPort(push.dataDirectory),
                isLocal: local.contains, cluster: view.cluster, scope: push.context.config.scope,
                leaderHistory: view.history, segmentSize: segmentSize)
        }

        /// Patroni's view of the cluster, as the permissions of this call of wal-push use it.
        func cluster(push: WALPush) async throws -> PatroniCluster {
            try await load(push).cluster
        }

        private func load(_ push: WALPush) async throws -> (cluster: PatroniCluster, history: TimelineHistory?) {
            if let cached { return cached }
            let context = push.context
            let client = PatroniClient(
                config: context.config.patroni, configFile: context.config.file, logger: context.logger)
            let cluster = try await client.cluster().cluster
            var history: TimelineHistory?
            if let timeline = (try? LeaderSelection.choose(from: cluster, scope: context.config.scope))?.timeline,
                timeline > 1, let text = try push.archive.fetch(.history(timeline: UInt32(timeline)))
            {
                history = try TimelineHistory(
                    timeline: UInt32(timeline), text: String(decoding: text, as: UTF8.self))
            }
            cached = (cluster, history)
            return (cluster, history)
        }

        /// The port PostgreSQL listens on, line 4 of postmaster.pid.
        static func postmasterPort(_ dataDirectory: String) -> Int? {
            guard let text = try? String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8) else {
                return nil
            }
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            return lines.count > 3 ? Int(lines[3].trimmingCharacters(in: .whitespaces)) : nil
        }
    }
}
