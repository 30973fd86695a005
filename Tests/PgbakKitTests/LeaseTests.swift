import Foundation
import Testing

@testable import PgbakKit

struct LeaseTests {
    let mine = "token-mine"
    static func record(_ token: String, ttl: Int = 120) -> LeaseRecord {
        LeaseRecord(token: token, host: "db2", pid: 42, scope: "main", ttlSeconds: ttl)
    }

    @Test func noLeaseIsCreated() {
        #expect(LeaseStep.decide(found: nil, token: mine) == .create)
    }

    @Test func aLiveHolderIsWaitedForWithTheTimeItHasLeft() {
        let found = FoundLease(record: Self.record("other"), etag: "e1", age: 100)
        #expect(LeaseStep.decide(found: found, token: mine) == .wait(holder: Self.record("other"), expiresIn: 20))
    }

    @Test func aHolderSilentForLongerThanItsTTLIsTakenOverAtItsVersion() {
        let found = FoundLease(record: Self.record("other", ttl: 30), etag: "e2", age: 30.5)
        #expect(
            LeaseStep.decide(found: found, token: mine) == .takeOver(etag: "e2", from: Self.record("other", ttl: 30)))
    }

    @Test func ownLeaseFoundAfterARetryIsRenewedNotWaitedFor() {
        let found = FoundLease(record: Self.record(mine), etag: "e3", age: 1)
        #expect(LeaseStep.decide(found: found, token: mine) == .renew(etag: "e3"))
    }

    @Test func anUnreadableLeaseIsTakenOver() {
        let found = FoundLease(record: nil, etag: "e4", age: 0)
        #expect(LeaseStep.decide(found: found, token: mine) == .takeOver(etag: "e4", from: nil))
    }

    @Test func theRecordKeepsItsFieldNames() throws {
        let text = String(decoding: try PgbakJSON.encoder().encode(Self.record("t")), as: UTF8.self)
        #expect(text.contains("\"ttl_seconds\""))
        #expect(try JSONDecoder().decode(LeaseRecord.self, from: Data(text.utf8)) == Self.record("t"))
    }
}
