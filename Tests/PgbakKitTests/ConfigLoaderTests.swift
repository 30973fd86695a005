import Foundation
import Testing

@testable import PgbakKit

@Suite struct ConfigLoaderTests {
    static let minimal = """
        scope: prod
        patroni:
          urls: [http://10.0.0.1:8008, "https://10.0.0.2:8008/"]
        repository:
          path: /var/backups/pgbak
        retention:
          keep_last: 7
        """

    func parse(_ yaml: String, base: String = "/etc/pgbak") throws -> PgbakConfig {
        try ConfigLoader.parse(yaml: yaml, file: "/etc/pgbak/pgbak.yml", baseDirectory: base)
    }

    func problem(_ yaml: String) -> ConfigError? {
        do {
            _ = try parse(yaml)
            return nil
        } catch let error as ConfigError {
            return error
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    @Test func minimalConfigGetsSafeDefaults() throws {
        let config = try parse(Self.minimal)
        #expect(config.scope == "prod")
        #expect(config.patroni.urls == ["http://10.0.0.1:8008", "https://10.0.0.2:8008"])
        #expect(config.postgres.replication.user == "replicator")
        #expect(config.postgres.dump.user == "postgres")
        #expect(config.repositoryOwner == "postgres")
        #expect(config.retention.keepLast == 7)
        #expect(config.zstdLevel == 3)
        #expect(config.checkpoint == .fast)
        #expect(config.thisHost.member == nil)
    }

    @Test func incrementalBaseBackupsAreOffUntilAskedForWithTheirLimits() throws {
        #expect(try parse(Self.minimal).incremental == .init(enabled: false, fullEveryDays: 7, maxChain: 6))
        let on = try parse(
            Self.minimal + "\nbase_backup:\n  incremental: true\n  full_every_days: 3\n  max_incremental_chain: 2\n")
        #expect(on.incremental == .init(enabled: true, fullEveryDays: 3, maxChain: 2))
        #expect(
            problem(Self.minimal + "\nbase_backup:\n  max_incremental_chain: 0\n")?.keyPath
                == "base_backup.max_incremental_chain")
    }

    @Test func unknownKeyNamesItsPath() {
        let error = problem(Self.minimal + "\ncompression:\n  levle: 5\n")
        #expect(error?.keyPath == "compression.levle")
        #expect(error?.file == "/etc/pgbak/pgbak.yml")
        #expect(error?.errorDescription?.contains("unknown key") == true)
        #expect(error?.line == 9)
    }

    @Test func wrongTypeNamesItsPath() {
        let error = problem(Self.minimal + "\ncompression:\n  level: fast\n")
        #expect(error?.keyPath == "compression.level")
        #expect(error?.problem.contains("integer") == true)
        #expect(problem(Self.minimal + "\npatroni2: 1\n")?.keyPath == "patroni2")
        #expect(
            problem(Self.minimal.replacingOccurrences(of: "keep_last: 7", with: "keep_last: [1]"))?.keyPath
                == "retention.keep_last")
    }

    @Test func missingRequiredKeys() {
        #expect(problem("patroni:\n  urls: [http://a:1]\n")?.keyPath == "scope")
        #expect(problem("scope: x\nrepository:\n  path: /r\nretention:\n  keep_last: 1\n")?.keyPath == "patroni.urls")
        #expect(
            problem(Self.minimal.replacingOccurrences(of: "  path: /var/backups/pgbak", with: ""))?.keyPath
                == "repository.path")
        #expect(
            problem(Self.minimal.replacingOccurrences(of: "  keep_last: 7", with: ""))?.keyPath
                == "retention.keep_last")
    }

    @Test func outOfRangeAndBadValues() {
        #expect(problem(Self.minimal + "\ncompression:\n  level: 40\n")?.problem.contains("out of range") == true)
        #expect(
            problem(Self.minimal + "\nbase_backup:\n  checkpoint: slow\n")?.problem.contains("fast, spread")
                == true)
        #expect(problem(Self.minimal + "\nbase_backup:\n  max_rate: lots\n")?.keyPath == "base_backup.max_rate")
        #expect(
            problem(Self.minimal.replacingOccurrences(of: "/var/backups/pgbak", with: "backups"))?.keyPath
                == "repository.path")
        #expect(
            problem(Self.minimal.replacingOccurrences(of: "http://10.0.0.1:8008", with: "10.0.0.1:8008"))?.keyPath
                == "patroni.urls[0]")
    }

    @Test func inlinePasswordsAreRefused() {
        let error = problem(Self.minimal + "\npostgres:\n  dump:\n    password: secret\n")
        #expect(error?.keyPath == "postgres.dump.password")
        #expect(error?.errorDescription?.contains("secret") == false)
    }

    @Test func passwordSources() throws {
        let config = try parse(
            Self.minimal + """

                postgres:
                  replication:
                    passfile: /etc/pgbak/pgpass
                  dump:
                    user: backup
                    password_env: PGBAK_DUMP_PASSWORD
                """)
        #expect(config.postgres.replication.password == .passfile("/etc/pgbak/pgpass"))
        #expect(config.postgres.dump.password == .environment("PGBAK_DUMP_PASSWORD"))
        #expect(config.postgres.dump.user == "backup")
        let both = problem(Self.minimal + "\npostgres:\n  dump:\n    passfile: /a\n    password_env: B\n")
        #expect(both?.keyPath == "postgres.dump.passfile")
    }

    @Test func malformedYAMLIsAConfigError() {
        let error = problem("scope: [unclosed\n")
        #expect(error?.problem.contains("not valid YAML") == true)
        #expect(problem("")?.problem == "is empty")
        #expect(problem("- a\n- b\n")?.problem.contains("expected a mapping") == true)
    }

    @Test func retentionFromAPolicyFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pgbak-policy-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir + "/policies", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "description: two\nkeep_last: 2\n".write(
            toFile: dir + "/policies/two.yml", atomically: true,
            encoding: .utf8)
        let yaml = Self.minimal.replacingOccurrences(of: "keep_last: 7", with: "policy: policies/two.yml")
        let config = try parse(yaml, base: dir)
        #expect(config.retention == RetentionPolicy(keepLast: 2, policyFile: dir + "/policies/two.yml"))
        try "keep_last: 2\nkeep_yearly: 3\n".write(toFile: dir + "/policies/two.yml", atomically: true, encoding: .utf8)
        #expect(throws: ConfigError.self) { try parse(yaml, base: dir) }
    }

    @Test func missingFileSaysHowToPointAtOne() {
        #expect {
            try ConfigLoader.load(path: "/nonexistent/pgbak.yml")
        } throws: { error in
            (error as? ConfigError)?.problem.contains("PGBAK_CONFIG") == true
        }
    }

    @Test func pathResolutionOrder() {
        #expect(ConfigLoader.resolvePath(explicit: "/a.yml", environment: ["PGBAK_CONFIG": "/b.yml"]) == "/a.yml")
        #expect(ConfigLoader.resolvePath(explicit: nil, environment: ["PGBAK_CONFIG": "/b.yml"]) == "/b.yml")
        #expect(ConfigLoader.resolvePath(explicit: nil, environment: [:]) == "/etc/pgbak/pgbak.yml")
    }
}

@Suite struct ShippedFilesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    @Test func theCommentedExampleIsValid() throws {
        let config = try ConfigLoader.load(path: Self.root + "/examples/pgbak.yml")
        #expect(config.patroni.urls.count == 3)
        #expect(config.postgres.replication.password == .passfile("/etc/pgbak/pgpass"))
        #expect(config.retention.keepLast == 7)
    }

    @Test func everyShippedPolicyLoads() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.root + "/policies")
            .filter { $0.hasSuffix(".yml") }
        #expect(!names.isEmpty)
        for name in names {
            let policy = try RetentionPolicyLoader.load(path: Self.root + "/policies/" + name)
            #expect(policy.keepLast + policy.keepDaily + policy.keepWeekly + policy.keepMonthly > 0)
            #expect(policy.policyFile == Self.root + "/policies/" + name)
        }
    }
}
