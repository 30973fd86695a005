import Foundation

/// One writer per repository across hosts: a lease object (`pgbak.lease`) created with `If-None-Match: *` and
/// renewed with `If-Match` every quarter of its TTL while the run lasts. A holder that stops renewing (killed, cut
/// off) loses it once the TTL has passed by the store's own clock; the next run takes it over with `If-Match`, so of
/// several waiting runs exactly one does. A run whose renewal finds the lease taken over stops counting as holder
/// and `confirm()` fails, so it never publishes.
///
/// On a store that ignores the conditions, each write is read back and a run that finds another run's token gives
/// way; two runs writing within the same moment can still both succeed there, which only conditional writes prevent.
public final class S3Lease: RunLock, @unchecked Sendable {
    public static let key = "pgbak.lease"
    private let client: S3Client
    public let record: LeaseRecord
    private let lock = NSLock()
    private var etag: String
    private var lastRenewal: Date
    private var lost: String?
    private var released = false
    private var timer: DispatchSourceTimer?

    private init(client: S3Client, record: LeaseRecord, etag: String) {
        self.client = client
        self.record = record
        self.etag = etag
        lastRenewal = Date()
    }

    /// Takes the lease, waiting up to `waitSeconds` for a live holder to let go; renews it from then on.
    public static func acquire(client: S3Client, scope: String, ttlSeconds: Int = 120, waitSeconds: Int) throws
        -> S3Lease
    {
        let record = LeaseRecord(
            token: UUID().uuidString, host: ProcessInfo.processInfo.hostName, pid: getpid(), scope: scope,
            ttlSeconds: ttlSeconds)
        let body = try PgbakJSON.encoder().encode(record)
        let deadline = Date().addingTimeInterval(Double(waitSeconds))
        while true {
            let found = try client.fetch(key).map { found in
                FoundLease(
                    record: try? JSONDecoder().decode(LeaseRecord.self, from: found.data), etag: found.etag,
                    age: found.storeNow.timeIntervalSince(found.modified))
            }
            let outcome: S3Client.PutOutcome
            switch LeaseStep.decide(found: found, token: record.token) {
            case .create:
                outcome = try client.put(key, data: body, ifNoneMatch: true)
            case .renew(let etag), .takeOver(let etag, _):
                outcome = try client.put(key, data: body, ifMatch: etag)
            case .wait(let holder, let expiresIn):
                guard Date() < deadline else {
                    throw RepositoryLocked(
                        lockFile: client.describe(key),
                        holder: "\(holder.holder); its lease expires in \(Int(expiresIn.rounded(.up))) s unless renewed"
                    )
                }
                usleep(UInt32(min(2.0, max(0.2, expiresIn)) * 1_000_000))
                continue
            }
            guard case .stored(let etag) = outcome else { continue }
            // Read back: on a store that ignored the condition another run may have written in between.
            guard let check = try client.fetch(key),
                (try? JSONDecoder().decode(LeaseRecord.self, from: check.data)) == record
            else { continue }
            let lease = S3Lease(client: client, record: record, etag: check.etag.isEmpty ? etag : check.etag)
            lease.startRenewing()
            return lease
        }
    }

    private func startRenewing() {
        let timer = DispatchSource.makeTimerSource(queue: .global())
        let interval = Double(record.ttlSeconds) / 4
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { [weak self] in _ = try? self?.renew() }
        self.timer = timer
        timer.resume()
    }

    /// Writes the lease again (If-Match the version this run wrote last). Throws once the lease is lost.
    @discardableResult
    private func renew() throws -> Bool {
        let current: String = try lock.withLock {
            if let lost { throw lostError(lost) }
            return etag
        }
        do {
            let outcome = try client.put(Self.key, data: try PgbakJSON.encoder().encode(record), ifMatch: current)
            return try lock.withLock {
                guard case .stored(let newTag) = outcome else {
                    let holder = (try? client.fetch(Self.key)).flatMap { found in
                        try? JSONDecoder().decode(LeaseRecord.self, from: found.data)
                    }
                    lost = "taken over by " + (holder?.holder ?? "another run")
                    throw lostError(lost!)
                }
                etag = newTag
                lastRenewal = Date()
                return true
            }
        } catch let failure as S3Error {
            try lock.withLock {
                if Date().timeIntervalSince(lastRenewal) > Double(record.ttlSeconds) {
                    lost = "not renewed for over \(record.ttlSeconds) s: \(failure.problem)"
                    throw lostError(lost!)
                }
            }
            throw failure
        }
    }

    private func lostError(_ reason: String) -> RepositoryError {
        RepositoryError(
            path: client.describe(Self.key),
            problem: "this run lost the repository lease (\(reason)); nothing was published")
    }

    public func confirm() throws {
        try renew()
    }

    public func release() {
        let (timer, wasReleased) = lock.withLock { () -> (DispatchSourceTimer?, Bool) in
            defer { released = true }
            return (self.timer, released)
        }
        guard !wasReleased else { return }
        timer?.cancel()
        // Delete only this run's lease: after a takeover the object is another run's.
        if let found = try? client.fetch(Self.key),
            (try? JSONDecoder().decode(LeaseRecord.self, from: found.data))?.token == record.token
        {
            try? client.delete(Self.key)
        }
    }

    deinit { timer?.cancel() }
}
