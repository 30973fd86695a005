import Foundation
import Testing

/// The systemd units and the crontab in cron/ are valid as shipped.
@Suite struct ShippedUnitsTests {
    let cron = TestCluster.repoRoot + "/cron"

    @Test func systemdAcceptsTheUnits() throws {
        let analyze = "/usr/bin/systemd-analyze"
        try #require(
            FileManager.default.isExecutableFile(atPath: analyze) || TestCluster.isCI,
            "systemd-analyze is missing (scripts/install-deps.sh installs systemd)")
        // systemd-analyze checks that ExecStart exists: point the units at a binary that does.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pgbak-units-\(getpid())").path
        // The templates (one backup host, several clusters) are checked as an instance, `clusterA`.
        try Shell.must(
            "rm -rf '\(dir)' && mkdir -p '\(dir)' && cp '\(cron)'/*.service '\(cron)'/*.timer '\(dir)'/ && "
                + "for f in '\(dir)'/*@.*; do mv \"$f\" \"${f/@./@clusterA.}\"; done && "
                + "sed -i 's#/usr/local/bin/pgbak#/bin/true#' '\(dir)'/*.service")
        defer { _ = try? Shell.bash("rm -rf '\(dir)'") }
        let plain = ["backup", "verify", "status"].flatMap { ["pgbak-\($0).service", "pgbak-\($0).timer"] }
        let instances = ["backup", "verify"].flatMap { ["pgbak-\($0)@clusterA.service", "pgbak-\($0)@clusterA.timer"] }
        let result = try Shell.run(analyze, ["verify"] + (plain + instances).map { "\(dir)/\($0)" })
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.isEmpty, "\(result)")
        let units = plain + instances.map { $0.replacingOccurrences(of: "@clusterA.", with: "@.") }
        for service in units where service.hasSuffix(".service") {
            let text = try String(contentsOfFile: "\(cron)/\(service)", encoding: .utf8)
            if service.contains("@") {
                #expect(text.contains("--config /etc/pgbak/%i.yml"), "\(service) must read its instance's file")
            }
            for setting in [
                "User=postgres", "ProtectSystem=strict", "PrivateTmp=true", "NoNewPrivileges=true",
                "ReadWritePaths=/var/backups/pgbak", "Nice=",
            ] {
                #expect(text.contains(setting), "\(service) lacks \(setting)")
            }
        }
        for timer in units where timer.hasSuffix(".timer") {
            let text = try String(contentsOfFile: "\(cron)/\(timer)", encoding: .utf8)
            #expect(text.contains("Persistent=true") && text.contains("RandomizedDelaySec="), "\(timer)")
        }
    }

    @Test func everyCrontabLineHasFiveFieldsAUserAndAnExistingCommandShape() throws {
        let text = try String(contentsOfFile: "\(cron)/pgbak.cron", encoding: .utf8)
        let jobs = text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.contains("=") && !$0.isEmpty }
        #expect(jobs.count == 3)
        for job in jobs {
            let fields = job.split(separator: " ", omittingEmptySubsequences: true)
            #expect(fields.count > 7, "\(job)")
            #expect(fields[5] == "postgres", "\(job)")
            #expect(job.contains("/usr/local/bin/pgbak "), "\(job)")
            for field in fields.prefix(5) {
                #expect(field.allSatisfy { "0123456789*/,-".contains($0) }, "\(job): \(field)")
            }
        }
    }
}

/// scripts/install.sh and scripts/uninstall.sh, staged under a DESTDIR.
@Suite struct InstallScriptTests {
    @Test func installKeepsAnExistingConfigurationAndUninstallKeepsItToo() throws {
        let dest = FileManager.default.temporaryDirectory.appendingPathComponent("pgbak-install-\(getpid())").path
        defer { _ = try? Shell.bash("rm -rf '\(dest)'") }
        let env = ["DESTDIR": dest, "PGBAK_BIN": TestCluster.binary]
        let first = try Shell.run("/bin/bash", [TestCluster.repoRoot + "/scripts/install.sh"], environment: env)
        #expect(first.status == 0, "\(first)")
        let modes = try Shell.must(
            "cd '\(dest)' && stat -c '%n %a %U' usr/local/bin/pgbak etc/pgbak etc/pgbak/pgbak.yml "
                + "etc/pgbak/policies/keep-last-7.yml etc/systemd/system/pgbak-backup.timer")
        #expect(
            modes.split(separator: "\n") == [
                "usr/local/bin/pgbak 755 root", "etc/pgbak 750 postgres", "etc/pgbak/pgbak.yml 600 postgres",
                "etc/pgbak/policies/keep-last-7.yml 640 postgres", "etc/systemd/system/pgbak-backup.timer 644 root",
            ])
        try Shell.must("echo '# edited' >> '\(dest)/etc/pgbak/pgbak.yml'")
        let second = try Shell.run("/bin/bash", [TestCluster.repoRoot + "/scripts/install.sh"], environment: env)
        #expect(second.status == 0, "\(second)")
        #expect(second.stdout.contains("kept the existing"))
        #expect(try Shell.must("tail -1 '\(dest)/etc/pgbak/pgbak.yml'") == "# edited\n")
        let removed = try Shell.run("/bin/bash", [TestCluster.repoRoot + "/scripts/uninstall.sh"], environment: env)
        #expect(removed.status == 0, "\(removed)")
        #expect(!FileManager.default.fileExists(atPath: dest + "/usr/local/bin/pgbak"))
        #expect(!FileManager.default.fileExists(atPath: dest + "/etc/systemd/system/pgbak-verify.service"))
        #expect(!FileManager.default.fileExists(atPath: dest + "/etc/systemd/system/pgbak-status.timer"))
        #expect(FileManager.default.fileExists(atPath: dest + "/etc/pgbak/pgbak.yml"))
    }
}
