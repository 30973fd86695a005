import Foundation
import Testing

/// `pgbak check` against the real cluster: a healthy set-up passes, each broken part is a listed failure.
extension ClusterTests {
    @Suite struct CheckIntegrationTests {
        struct Report: Decodable {
            struct Item: Decodable {
                var name: String
                var status: String
                var detail: String
            }
            var items: [Item]

            subscript(_ name: String) -> Item? { items.first { $0.name == name } }
        }

        func check(_ config: TestConfig) throws -> (CommandResult, Report) {
            let result = try TestCluster.pgbak(["check", "--config", config.file, "--json"])
            return (result, try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8)))
        }

        @Test func aHealthySetUpPassesAndNamesWhatItSaw() throws {
            let config = try TestCluster.config("check-ok")
            let leader = try TestCluster.leader()
            let replicas = try TestCluster.members().filter { $0.role != "leader" }.map(\.name)
            // Patroni reports each member's position once per HA loop: right after another test wrote a burst of
            // WAL its view of the lag is up to a loop old. A healthy cluster's replicas are within the limit by then.
            var (result, report) = try check(config)
            _ = TestCluster.poll(seconds: 30, every: 1) {
                if replicas.allSatisfy({ report["replica \($0)"]?.status == "ok" }) { return true }
                if let again = try? check(config) { (result, report) = again }
                return false
            }
            #expect(result.status == 0, "\(result)")
            #expect(report["leader"]?.status == "ok")
            #expect(report["leader"]?.detail.hasPrefix("\(leader.name) at 127.0.0.1:\(leader.port ?? 0)") == true)
            for name in replicas {
                #expect(report["replica \(name)"]?.status == "ok", "\(result)")
                #expect(report["replica \(name)"]?.detail.hasPrefix("streaming") == true)
            }
            for name in ["dump login", "replication login", "tools", "repository", "config file", "this host"] {
                #expect(report[name]?.status == "ok", "\(name): \(result)")
            }
            #expect(report["tools"]?.detail.contains("PostgreSQL 15") == true)
            // Every member's data directory is under the lab, on the same filesystem as the repository.
            let placement = try #require(report["placement repository"])
            #expect(placement.status == "warn")
            #expect(placement.detail.contains("\(TestCluster.lab)/data/\(leader.name)"))
            #expect(try config.backupIDs().isEmpty, "check takes no backup")

            let table = try TestCluster.pgbak(["check", "--config", config.file])
            #expect(table.status == 0)
            #expect(table.stdout.hasPrefix("CHECK "))
            #expect(table.stdout.contains("no failures"))
        }

        @Test func everyBrokenPartIsListedAndTheExitCodeSaysSo() throws {
            let config = try TestCluster.config("check-bad", extra: "this_host:\n  member: node9\n")
            try Shell.must(
                """
                cd '\(config.dir)' && printf '127.0.0.1:*:*:replicator:wrong\\n' > bad.pgpass && \
                chown postgres: bad.pgpass && chmod 644 bad.pgpass && \
                sed -i -e '0,/passfile: .*/s##passfile: \(config.dir)/bad.pgpass#' \
                  -e 's#^    - https://127.0.0.1:8008#    - http://127.0.0.1:1\\n&#' pgbak.yml
                """)
            let (result, report) = try check(config)
            #expect(result.status == 1, "\(result)")
            #expect(report["patroni http://127.0.0.1:1"]?.status == "warn", "another URL answers: \(result)")
            #expect(report["leader"]?.status == "ok")
            let secret = try #require(report["secret postgres.replication.passfile"])
            #expect(secret.status == "fail")
            #expect(secret.detail.contains("chmod 600 \(config.dir)/bad.pgpass"))
            #expect(report["replication login"]?.status == "fail")
            #expect(report["this host"]?.status == "fail")
            #expect(report["this host"]?.detail.contains("node9") == true)
            #expect(report["dump login"]?.status == "ok")
            #expect(result.stderr.contains("3 check(s) failed"), "\(result)")
            #expect(result.stderr.contains("replication login:"))

            // Every other command warns about the readable secret too.
            let list = try TestCluster.pgbak(["list", "--config", config.file])
            #expect(list.stderr.contains("bad.pgpass"), "\(list)")
            #expect(list.stderr.contains("group or others can read"))

            // With no Patroni at all, the URLs themselves fail.
            try Shell.must("sed -i 's#https://127.0.0.1:80[0-9]*#http://127.0.0.1:1#' '\(config.file)'")
            let (down, downReport) = try check(config)
            #expect(down.status == 1)
            #expect(downReport["patroni http://127.0.0.1:1"]?.status == "fail")
            #expect(downReport["leader"] == nil)
        }
    }
}
