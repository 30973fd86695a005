import Foundation
import Testing

@testable import PgbakKit

@Suite struct LeaderSelectionTests {
    /// Patroni 4.1 `GET /cluster`, as captured from the test cluster.
    static let patroni4 = """
        {"members": [{"name": "node1", "role": "leader", "state": "running", "api_url": "http://127.0.0.1:8008/patroni",
          "host": "127.0.0.1", "port": 5432, "timeline": 1},
         {"name": "node2", "role": "replica", "state": "streaming", "api_url": "http://127.0.0.1:8009/patroni",
          "host": "127.0.0.1", "port": 5433, "timeline": 1, "receive_lag": 0, "receive_lsn": "0/4000000",
          "replay_lag": 0, "replay_lsn": "0/4000000", "lag": 0, "lsn": "0/4000000"},
         {"name": "node3", "role": "quorum_standby", "state": "streaming", "host": "127.0.0.1", "port": 5434,
          "timeline": 1, "lag": 16}], "scope": "pgbak-test"}
        """

    /// Patroni 3.0 shape: no `scope`, lag "unknown", no lsn fields, port as a number.
    static let patroni3 = """
        {"members": [{"name": "a", "role": "replica", "state": "running", "host": "10.0.0.2", "port": 5432,
          "timeline": 3, "lag": "unknown"},
         {"name": "b", "role": "leader", "state": "running", "api_url": "http://10.0.0.3:8008/patroni",
          "host": "10.0.0.3", "port": 5432, "timeline": 4}]}
        """

    func cluster(_ json: String) throws -> PatroniCluster { try PatroniCluster.decode(Data(json.utf8)) }

    @Test func picksTheLeaderOfPatroni4() throws {
        let choice = try LeaderSelection.choose(from: cluster(Self.patroni4), scope: "pgbak-test")
        #expect(
            choice
                == LeaderChoice(
                    name: "node1", host: "127.0.0.1", port: 5432, timeline: 1,
                    apiURL: "http://127.0.0.1:8008/patroni"))
    }

    @Test func readsThePatroni3ShapeWithUnknownLag() throws {
        let parsed = try cluster(Self.patroni3)
        #expect(parsed.scope == nil)
        #expect(parsed.members[0].lag == .unknown)
        let choice = try LeaderSelection.choose(from: parsed, scope: "anything")
        #expect(choice.name == "b")
        #expect(choice.timeline == 4)
    }

    @Test func numericLagAndMissingKeysDecode() throws {
        let parsed = try cluster(Self.patroni4)
        #expect(parsed.members[2].lag == .bytes(16))
        #expect(parsed.members[2].apiURL == nil)
    }

    @Test func noLeaderIsAnError() throws {
        let json = """
            {"members": [{"name": "a", "role": "replica", "state": "streaming", "host": "h", "port": 1},
                         {"name": "b", "role": "replica", "state": "stopped", "host": "h", "port": 2}]}
            """
        #expect(throws: LeaderSelectionError.noLeader(scope: "s", members: "a=replica/streaming, b=replica/stopped")) {
            try LeaderSelection.choose(from: cluster(json), scope: "s")
        }
    }

    @Test func twoLeadersAreRefused() throws {
        let json = """
            {"members": [{"name": "a", "role": "leader", "state": "running", "host": "h", "port": 1},
                         {"name": "b", "role": "leader", "state": "running", "host": "h", "port": 2}]}
            """
        #expect(throws: LeaderSelectionError.multipleLeaders(scope: "s", names: ["a", "b"])) {
            try LeaderSelection.choose(from: cluster(json), scope: "s")
        }
    }

    @Test func staleLeaderThatDoesNotRunIsRefused() throws {
        let json = """
            {"members": [{"name": "a", "role": "leader", "state": "stopped", "host": "h", "port": 1},
                         {"name": "b", "role": "replica", "state": "streaming", "host": "h", "port": 2}]}
            """
        #expect(throws: LeaderSelectionError.leaderNotRunning(name: "a", state: "stopped")) {
            try LeaderSelection.choose(from: cluster(json), scope: "s")
        }
    }

    @Test func standbyLeaderIsNotAPrimary() throws {
        let json = """
            {"members": [{"name": "a", "role": "standby_leader", "state": "streaming", "host": "h", "port": 1}]}
            """
        #expect(throws: LeaderSelectionError.self) { try LeaderSelection.choose(from: cluster(json), scope: "s") }
    }

    @Test func otherScopeIsRefused() throws {
        #expect(throws: LeaderSelectionError.scopeMismatch(expected: "prod", found: "pgbak-test")) {
            try LeaderSelection.choose(from: cluster(Self.patroni4), scope: "prod")
        }
    }

    @Test func emptyClusterIsRefused() throws {
        #expect(throws: LeaderSelectionError.noMembers(scope: "s")) {
            try LeaderSelection.choose(from: cluster(#"{"members": []}"#), scope: "s")
        }
    }

    @Test func leaderWithoutAddressIsRefused() throws {
        let json = #"{"members": [{"name": "a", "role": "leader", "state": "running"}]}"#
        #expect(throws: LeaderSelectionError.leaderWithoutAddress(name: "a")) {
            try LeaderSelection.choose(from: cluster(json), scope: "s")
        }
    }

    @Test func garbageIsAThrownError() {
        #expect(throws: (any Error).self) { try PatroniCluster.decode(Data("{\"members\": 3}".utf8)) }
        #expect(throws: (any Error).self) { try PatroniCluster.decode(Data("<html>".utf8)) }
    }
}
