import Foundation
import Testing

@testable import PgbakKit

@Suite struct MonitoringTests {
    static let now = Date(timeIntervalSince1970: 1_795_100_000)

    static func stored(
        hoursAgo: Double, status: Manifest.PartStatus = .complete,
        verified: Bool? = nil, verifiedHoursAgo: Double = 1
    ) -> StoredBackup {
        var m = ManifestTests.sample(status: status)
        m.finishedAt = now.addingTimeInterval(-hoursAgo * 3600)
        m.backupID = BackupID.make(m.finishedAt)
        let records =
            verified.map {
                [
                    VerificationRecord(
                        backupID: m.backupID, level: .standard, startedAt: now,
                        finishedAt:
                            now.addingTimeInterval(-verifiedHoursAgo * 3600), ok: $0, problems: [], steps: [])
                ]
            } ?? []
        return StoredBackup(id: m.backupID, manifest: m, verifications: records)
    }

    func evaluate(_ backups: [StoredBackup]) -> StatusReport {
        StatusReport.evaluate(backups, now: Self.now, thresholds: StatusThresholds())
    }

    @Test func levels() {
        #expect(evaluate([]).level == .critical)
        let fresh = evaluate([Self.stored(hoursAgo: 3, verified: true)])
        #expect(fresh.level == .ok)
        #expect(fresh.lastBackupAgeHours == 3)
        #expect(fresh.lastVerification?.ok == true)
        #expect(evaluate([Self.stored(hoursAgo: 30, verified: true)]).level == .warning)
        #expect(evaluate([Self.stored(hoursAgo: 60, verified: true)]).level == .critical)
        #expect(evaluate([Self.stored(hoursAgo: 3)]).messages == ["no backup has passed a verification yet"])
        #expect(evaluate([Self.stored(hoursAgo: 3, verified: false)]).level == .critical)
        #expect(evaluate([Self.stored(hoursAgo: 3, verified: true, verifiedHoursAgo: 24 * 9)]).level == .warning)
        let partialNewest = evaluate([
            Self.stored(hoursAgo: 20, verified: true), Self.stored(hoursAgo: 2, status: .partial),
        ])
        #expect(partialNewest.level == .warning)
        #expect(partialNewest.messages.contains { $0.contains("partial") })
        #expect(StatusReport.Level.critical.exitCode == 2)
    }

    @Test func metricsText() {
        let text = MetricsFile.render(
            scope: "prod\"x", command: "now", success: true, finished: Self.now, seconds: 1.5,
            bytes: 42, backups: [Self.stored(hoursAgo: 1)], verifyOK: nil)
        #expect(text.contains("pgbak_last_run_success{scope=\"prod\\\"x\",command=\"now\"} 1\n"))
        #expect(text.contains("pgbak_last_backup_bytes{scope=\"prod\\\"x\",command=\"now\"} 42\n"))
        #expect(text.contains("status=\"complete\"} 1\n"))
        #expect(text.contains("pgbak_last_success_timestamp_seconds"))
        let failed = MetricsFile.render(
            scope: "s", command: "verify", success: false, finished: Self.now, seconds: 1,
            bytes: nil, backups: [], verifyOK: false)
        #expect(!failed.contains("pgbak_last_success_timestamp_seconds"))
        #expect(failed.contains("pgbak_last_verify_ok{scope=\"s\",command=\"verify\"} 0"))
    }
}
