import Foundation
import Testing

/// Patroni's REST API over HTTPS (the test cluster's certificate comes from a throw-away CA) with basic auth on its
/// POST endpoints: the right CA and password work; a wrong CA or password is an error naming the key to fix.
extension ClusterTests {
    @Suite struct PatroniAccessTests {
        init() throws {
            try TestData.prepare()
        }

        @Test func theRightCAIsTrustedAndAnyOtherIsRefusedByName() throws {
            let config = try TestCluster.config("tls")
            let yaml = try Shell.must("cat '\(config.file)'")
            #expect(yaml.contains("https://127.0.0.1:8008"), "the test cluster's API must be HTTPS")
            #expect(yaml.contains("ca_file: \(TestCluster.caFile)"))
            let good = try config.now()
            #expect(good.status == 0, "\(good)")
            #expect(try config.backupIDs().count == 1)

            // Another CA: curl cannot verify Patroni's certificate.
            try Shell.must(
                """
                cd '\(config.dir)' && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj '/CN=other CA' \
                  -keyout other-ca.key -out other-ca.crt 2>/dev/null && chmod 644 other-ca.crt && \
                sed -i 's#^  ca_file: .*#  ca_file: \(config.dir)/other-ca.crt#' pgbak.yml
                """)
            let wrongCA = try config.now()
            #expect(wrongCA.status == 1, "\(wrongCA)")
            #expect(wrongCA.stderr.contains("TLS certificate not trusted: check patroni.ca_file"), "\(wrongCA)")
            #expect(wrongCA.stderr.contains(config.file))
            let check = try TestCluster.pgbak(["check", "--config", config.file])
            #expect(check.status == 1)
            #expect(check.stdout.contains("TLS certificate not trusted"))

            // No CA at all: the system's store does not know the throw-away CA either.
            try Shell.must("sed -i '/^  ca_file: /d' '\(config.file)'")
            let noCA = try config.now()
            #expect(noCA.status == 1, "\(noCA)")
            #expect(noCA.stderr.contains("TLS certificate not trusted"), "\(noCA)")
            #expect(try config.backupIDs().count == 1, "nothing new after a refused run")
            #expect(config.staging().isEmpty)
        }

        @Test func aWrongPatroniPasswordIsNamedAndTheReplicaIsLeftAlone() throws {
            let config = try TestCluster.config("patroni401")
            let taken = try config.now()
            try #require(taken.status == 0, "\(taken)")
            try Shell.must(
                """
                cd '\(config.dir)' && printf 'not-the-password\\n' > wrong.password && chown postgres: wrong.password && \
                chmod 600 wrong.password && sed -i 's#^  password_file: .*#  password_file: \(config.dir)/wrong.password#' pgbak.yml
                """)
            let replica = try #require(
                try TestCluster.members().first { $0.role != "leader" && $0.state == "streaming" })
            let apiPort = 8008 + ((replica.port ?? 5432) - 5432)
            let startTime = {
                try Shell.must(TestCluster.apiGet(port: apiPort, "/patroni") + " | jq -r .postmaster_start_time")
            }
            let before = try startTime()
            let result = try TestCluster.pgbak(["restore", "--node", replica.name, "--config", config.file])
            #expect(result.status == 1, "\(result)")
            #expect(result.stderr.contains("answered 401 to POST /reinitialize"), "\(result)")
            #expect(result.stderr.contains("patroni.username and patroni.password_file"))
            #expect(!result.stderr.contains("not-the-password"))
            usleep(500_000)
            #expect(try startTime() == before, "the replica must not have been restarted")
            let requests = "\(config.repository)/requests"
            let pending = (try? FileManager.default.contentsOfDirectory(atPath: requests))?.filter {
                !$0.hasSuffix(".result.json")
            }
            #expect(pending?.isEmpty ?? true, "a refused restore leaves no request behind: \(pending ?? [])")
        }
    }
}
