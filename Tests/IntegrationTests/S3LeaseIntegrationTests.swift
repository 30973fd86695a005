import Foundation
import PgbakKit
import Testing

/// The repository lease on the real SeaweedFS: one holder at a time, takeover after a silent holder's TTL, a run that
/// lost its lease refused at confirm.
@Suite(.enabled(if: TestStore.enabled), .serialized)
struct S3LeaseIntegrationTests {
    @Test func secondRunIsRefusedNamingTheHolderUntilTheFirstReleases() throws {
        let client = try S3Client(settings: TestStore.settings())
        let first = try S3Lease.acquire(client: client, scope: "t", waitSeconds: 0)
        let refused = #expect(throws: RepositoryLocked.self) {
            try S3Lease.acquire(client: client, scope: "t", waitSeconds: 1)
        }
        #expect(refused?.localizedDescription.contains("PID \(getpid())") == true)
        #expect(refused?.localizedDescription.contains("pgbak.lease") == true)
        try first.confirm()
        first.release()
        #expect(try client.head(S3Lease.key) == nil)
        let second = try S3Lease.acquire(client: client, scope: "t", waitSeconds: 0)
        second.release()
    }

    @Test func aSilentHoldersLeaseIsTakenOverAfterItsTTLAndTheOldHolderCannotConfirm() throws {
        let client = try S3Client(settings: TestStore.settings())
        // A holder that was killed: its lease stays, nobody renews it.
        let dead = LeaseRecord(token: "dead", host: "elsewhere", pid: 1, scope: "t", ttlSeconds: 2)
        _ = try client.put(S3Lease.key, data: try JSONEncoder().encode(dead), ifNoneMatch: true)
        #expect(throws: RepositoryLocked.self) { try S3Lease.acquire(client: client, scope: "t", waitSeconds: 0) }
        let started = Date()
        let taker = try S3Lease.acquire(client: client, scope: "t", waitSeconds: 10)
        #expect(Date().timeIntervalSince(started) >= 0.5)
        let held = try #require(try client.fetch(S3Lease.key))
        #expect(try JSONDecoder().decode(LeaseRecord.self, from: held.data).token == taker.record.token)

        // Another run overwrites it (as a takeover would): the first run must no longer publish.
        let intruder = LeaseRecord(token: "intruder", host: "elsewhere", pid: 2, scope: "t", ttlSeconds: 120)
        _ = try client.put(S3Lease.key, data: try JSONEncoder().encode(intruder))
        let lost = #expect(throws: RepositoryError.self) { try taker.confirm() }
        #expect(lost?.localizedDescription.contains("lost the repository lease") == true)
        #expect(lost?.localizedDescription.contains("host elsewhere, PID 2") == true)
        taker.release()
        #expect(try client.head(S3Lease.key) != nil, "release must not delete another run's lease")
    }
}
