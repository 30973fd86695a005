import Foundation

/// `pgbak verify`'s look at the WAL archive: every archived file decompressed and checked against the SHA-256 it
/// was archived with, and continuity from the oldest kept backup's start to the newest segment along the timeline
/// history.
public struct WALVerification: Codable, Sendable, Equatable {
    public var files: Int
    public var bytes: Int64
    public var seconds: Double
    public var summary: WALArchiveSummary
    public var damaged: [String]

    public var ok: Bool { damaged.isEmpty && summary.problems.isEmpty }
    public var problems: [String] { damaged + summary.problems }
}

public enum WALVerifier {
    /// Nil when the repository has no WAL archive.
    public static func verify(_ archive: WALArchive, backups: [StoredBackup]) throws -> WALVerification? {
        let started = Date()
        guard let info = try archive.info() else { return nil }
        let contents = try archive.contents()
        let slots = ResultSlots<Void>(count: contents.count)
        defer { slots.free() }
        DispatchQueue.concurrentPerform(iterations: contents.count) { i in
            slots.set(i, Result { _ = try archive.content(of: contents[i]) })
        }
        var damaged: [String] = []
        for (i, slot) in slots.buffer.enumerated() {
            if case .failure(let error) = slot { damaged.append("\(contents[i].file): \(error.localizedDescription)") }
        }
        let summary = WALArchiveSummary.make(
            contents: contents, histories: (try? archive.histories(in: contents)) ?? [:],
            info: info, backups: backups)
        return WALVerification(
            files: contents.count, bytes: contents.reduce(0) { $0 + $1.size },
            seconds: Date().timeIntervalSince(started), summary: summary, damaged: damaged)
    }
}
