import Foundation

extension WALPush {
    /// From the first segment after the newest archived one of the parent timeline (or the parent timeline's start,
    /// when none is) up to the segment of its end, the switch point, which the new timeline holds: those not in
    /// `archived`.
    static func missing(parent: TimelineSpan, archived: Set<UInt64>, size: UInt64) -> [WALSegment] {
        guard let end = parent.end?.segment(size: size) else { return [] }
        // Segment 0 holds no WAL: a placeholder before the first one wanted must be a segment.
        let from = max(1, archived.filter { $0 < end }.max().map { $0 + 1 } ?? parent.begin.segment(size: size))
        guard from < end else { return [] }
        return (from..<end).filter { !archived.contains($0) }.map {
            WALSegment(timeline: parent.timeline, number: $0, size: size)
        }
    }

    /// Receives `missing` from the other running members with pg_receivewal (a standby serves what its pg_wal
    /// holds, earlier timelines included) and stores what arrives; what no member has stays a gap.
    func backfillFromMembers(
        _ missing: [WALSegment], switchPoint: LSN, _ guardrail: Guardrail
    ) async -> [String] {
        guard let first = missing.first else { return [] }
        let size = guardrail.info.segmentSize
        guard let cluster = try? await guardrail.view.cluster(push: self),
            let leader = try? LeaderSelection.choose(from: cluster, scope: context.config.scope),
            let tools = await PostgresTools.newest(configured: context.config.postgres.binDir)
        else { return [] }
        let run = context.repository.runDirectory() + "/wal-backfill"
        guard (try? FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)) != nil,
            let credentials = try? RunCredentials(directory: run + "/credentials", configFile: context.config.file)
        else { return [] }
        defer {
            credentials.remove()
            try? FileManager.default.removeItem(atPath: run)
        }
        var wanted = Set(missing)
        var filled: [String] = []
        // Every other member Patroni lists: a replica may be streaming or still in archive recovery (it cannot
        // fetch the new timeline from an archive that failed); one that is down refuses the connection at once.
        let donors = cluster.members.filter { $0.name != leader.name && $0.host != nil && $0.port != nil }
        let before = WALSegment(timeline: first.timeline, number: first.number(size: size) - 1, size: size)
        for (index, member) in donors.enumerated() where !wanted.isEmpty {
            let directory = run + "/member-\(index)"
            let received: [WALSegment]
            do {
                received = try await receive(
                    from: member, after: before, until: switchPoint, size: size, into: directory, tools: tools,
                    credentials: credentials)
            } catch {
                context.logger.info(
                    "no WAL received from a member", metadata: ["member": "\(member.name)", "error": "\(error)"])
                continue
            }
            for segment in received.sorted() where wanted.contains(segment) {
                guard let incoming = try? read(directory + "/" + segment.name, as: .segment(segment)),
                    (try? await guardrail.store(incoming)) != nil
                else { continue }
                wanted.remove(segment)
                filled.append(segment.name)
            }
            context.logger.notice(
                "filled the failover gap from another member's pg_wal",
                metadata: [
                    "member": "\(member.name)", "segments": "\(filled.count)", "still missing": "\(wanted.count)",
                ])
        }
        return filled
    }

    /// How long pg_receivewal may take for one member: one that lags behind the switch point would keep it
    /// waiting, and archiving with it.
    static let receiveSeconds = 60.0

    /// Streams the WAL after segment `before` up to `switchPoint` from `member` into `directory` (pg_receivewal
    /// starts after the newest complete segment it finds there, so a sparse placeholder of `before` sets the start)
    /// and returns the complete segments (of `size` bytes) it received. pg_receivewal stops at the first segment
    /// the member lacks.
    func receive(
        from member: PatroniMember, after before: WALSegment, until switchPoint: LSN, size: UInt64,
        into directory: String, tools: PostgresTools, credentials: RunCredentials
    ) async throws -> [WALSegment] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let placeholder = directory + "/" + before.name
        let fd = open(placeholder, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw WALArchiveError(problem: "cannot create \(placeholder): \(Errno.text())") }
        defer { close(fd) }
        guard ftruncate(fd, off_t(size)) == 0 else {
            throw WALArchiveError(problem: "cannot size \(placeholder): \(Errno.text())")
        }
        let login = context.config.postgres.replication
        let target = ConnectionTarget(
            host: member.host ?? "", port: member.port ?? 5432, user: login.user,
            connectTimeout: context.config.postgres.connectTimeoutSeconds)
        let command = ChildCommand(
            executable: tools.path("pg_receivewal"),
            arguments: [
                "--directory", directory, "--dbname", target.conninfo(), "--no-loop", "--no-password",
                "--endpos", switchPoint.description, "--no-sync",
            ],
            environment: try credentials.environment(for: login))
        let outcome = try await withTimeout(seconds: Self.receiveSeconds, limit: "pg_receivewal from \(member.name)") {
            try await ChildProcess.run(command)
        }
        if !outcome.succeeded {
            context.logger.info(
                "pg_receivewal from a member ended early",
                metadata: [
                    "member": "\(member.name)", "status": "\(outcome.statusText)", "error": "\(outcome.stderrTail)",
                ])
        }
        return ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).compactMap { name in
            guard name != before.name, case .segment(let segment) = WALFileName(name),
                (try? FileManager.default.attributesOfItem(atPath: directory + "/" + name))?[.size] as? NSNumber
                    == NSNumber(value: size)
            else { return nil }
            return segment
        }
    }
}
