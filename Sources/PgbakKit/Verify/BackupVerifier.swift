import Crypto
import Foundation

/// `pgbak verify` at the default level: read-only, nothing extracted. Every listed file has its size and checksum,
/// nothing unlisted is there, every zstd file decompresses to the end, every member of the base and tablespace
/// archives matches PostgreSQL's backup_manifest, every dump archive is read to its end, the globals decompress.
public struct BackupVerifier: Sendable {
    public var repository: any BackupRepository

    public init(repository: any BackupRepository) {
        self.repository = repository
    }

    /// `among`: the repository's backups, to find an incremental backup's chain; `verdicts`: outcomes of this run's
    /// verifications so far (backup id → passed), which take the place of the recorded ones.
    public func verify(
        _ backup: StoredBackup, among: [StoredBackup] = [], verdicts: [String: Bool] = [:]
    ) async -> VerificationRecord {
        let started = Date()
        var problems: [String] = []
        var steps: [VerificationRecord.Step] = []
        func step(_ name: String, _ body: () async throws -> [String]) async {
            let t0 = Date()
            var found: [String]
            do {
                found = try await body()
            } catch {
                found = [error.localizedDescription]
            }
            problems += found
            steps.append(.init(name: name, seconds: Date().timeIntervalSince(t0), ok: found.isEmpty))
        }
        let manifest = backup.manifest
        let stored: BackupFiles
        do {
            stored = try repository.files(of: backup)
        } catch {
            return VerificationRecord(
                backupID: backup.id, level: .standard, startedAt: started, finishedAt: Date(), ok: false,
                problems: ["\(backup.id): \(error.localizedDescription)"],
                steps: [.init(name: "encryption key", seconds: Date().timeIntervalSince(started), ok: false)])
        }
        if backup.manifest.physical.incremental != nil {
            await step("chain") { try Self.checkChain(backup, among: among, verdicts: verdicts) }
        }
        var actual: [String: Int64] = [:]
        await step("file list") {
            let list = try Self.fileList(backup, repository: repository)
            actual = list.actual
            return list.problems
        }
        let present = manifest.files.filter { actual[$0.path] == manifest.storedSize(of: $0) }
        // The physical archives (CPU in this process) and the dumps (mostly pg_restore's CPU) run side by side.
        let physicalFiles = present.filter { $0.path.hasPrefix(PhysicalPart.directory + "/") }
        let t0 = Date()
        let physical = Task { try await Blocking.run { try Self.checkPhysical(physicalFiles, stored: stored) } }
        let logicalFiles = present.filter { $0.path.hasPrefix(LogicalPart.directory + "/") }
        await step("dumps and globals") { try await Blocking.run { Self.checkLogical(logicalFiles, stored: stored) } }
        await step("physical archives") { try await physical.value }
        steps[steps.count - 1].seconds = Date().timeIntervalSince(t0)
        return VerificationRecord(
            backupID: backup.id, level: .standard, startedAt: started, finishedAt: Date(),
            ok: problems.isEmpty, problems: problems.map { "\(backup.id): \($0)" }, steps: steps)
    }

    /// An incremental backup is restorable only with every backup it depends on: each is there, of the same
    /// cluster, with a complete physical part, and none failed its last verification.
    static func checkChain(
        _ backup: StoredBackup, among: [StoredBackup], verdicts: [String: Bool]
    ) throws -> [String] {
        let chain = try BackupChain.of(backup, among: among)
        return chain.earlier.compactMap { earlier in
            let passed = verdicts[earlier.id] ?? earlier.verifications.last?.ok
            guard passed == false else { return nil }
            return
                "depends on backup \(earlier.id) (incremental chain of full \(chain.backups[0].id)), which failed its last "
                + "verification: this backup cannot be restored until that one is; take a full backup (pgbak now --full)"
        }
    }

    /// What is on disk (relative path → size) and what is wrong with it without reading any file's content: the
    /// manifest's own checksum, files missing, added or of the wrong size.
    static func fileList(_ backup: StoredBackup, repository: any BackupRepository) throws -> (
        actual: [String: Int64], problems: [String]
    ) {
        let actual = try repository.listFiles(id: backup.id)
        let problems =
            try checkManifestChecksum(stored: repository.files(of: backup))
            + ManifestConsistency.check(backup.manifest, actual: actual)
        return (actual, problems)
    }

    /// backup_manifest first (its checksum, then the archive members against it), then every archive.
    static func checkPhysical(_ files: [FileRecord], stored: BackupFiles) throws -> [String] {
        var problems: [String] = []
        var checker: ArchiveChecker?
        var prefixes: [String] = []
        if let pgManifest = files.first(where: { $0.path.hasSuffix("/backup_manifest") }) {
            problems += try Self.hashOnly(pgManifest, stored: stored)
            if let data = try stored.contents(pgManifest.path) {
                do {
                    checker = ArchiveChecker(manifest: try PostgresBackupManifest.parse(data))
                } catch {
                    problems.append("\(pgManifest.path): \(error.localizedDescription)")
                }
            }
        }
        for file in files where !file.path.hasSuffix("/backup_manifest") {
            let name = URL(fileURLWithPath: file.path).lastPathComponent
            guard name.hasSuffix(".tar.zst") else {
                problems += try Self.hashOnly(file, stored: stored)
                continue
            }
            let archive = String(name.dropLast(".tar.zst".count))
            let prefix = archive == "base" ? "" : archive == "pg_wal" ? "pg_wal/" : "pg_tblspc/\(archive)/"
            if archive != "pg_wal" { prefixes.append(prefix) }
            problems += try Self.streamArchive(file, stored: stored, checker: checker, prefix: prefix)
        }
        if let checker {
            problems += checker.problems
            problems += checker.missing(prefixes: prefixes).map { "\($0): in backup_manifest but in no archive" }
        }
        return problems
    }

    /// `manifest.json` must hash to what `manifest.sha256` says.
    static func checkManifestChecksum(stored: BackupFiles) throws -> [String] {
        guard let expected = try stored.contents(Manifest.checksumFileName) else {
            return ["\(Manifest.checksumFileName): missing (it holds the manifest's own checksum)"]
        }
        guard let manifest = try stored.contents(Manifest.fileName) else { return ["\(Manifest.fileName): missing"] }
        let want = String(decoding: expected, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return WALArchive.sha256(manifest) == want
            ? []
            : [
                "\(Manifest.fileName): edited or corrupt (its SHA-256 differs from "
                    + "\(Manifest.checksumFileName))"
            ]
    }

    /// One pass over a file: checksum and size.
    static func hashOnly(_ file: FileRecord, stored: BackupFiles) throws -> [String] {
        var hasher = ContentHasher(file.checksum.algorithm)
        try stored.read(file.path, size: file.bytes) { hasher.update($0) }
        return checksumProblem(file, actual: hasher.finalize())
    }

    /// Nothing when `actual` is the checksum the manifest recorded for `file`; else the problem.
    static func checksumProblem(_ file: FileRecord, actual: FileChecksum?) -> [String] {
        actual == file.checksum
            ? [] : ["\(file.path): \(file.checksum.algorithm.displayName) differs from the manifest (corrupt)"]
    }

    /// One pass over a compressed tar: checksum of the file, zstd to the end, each member against backup_manifest.
    static func streamArchive(
        _ file: FileRecord, stored: BackupFiles, checker: ArchiveChecker?,
        prefix: String
    ) throws -> [String] {
        var hasher = ContentHasher(file.checksum.algorithm)
        let decoder = try ZstdStreamDecoder(source: file.path)
        let tar = checker?.reader(prefix: prefix) ?? TarReader(onMember: { _ in }, onData: { _ in }, onMemberEnd: {})
        var problems: [String] = []
        do {
            try stored.read(file.path, size: file.bytes) { chunk in
                hasher.update(chunk)
                try decoder.feed(chunk) { try tar.feed($0) }
            }
            try decoder.finish()
            try tar.finish()
        } catch {
            problems.append("\(file.path): \(error.localizedDescription)")
        }
        return checksumProblem(file, actual: hasher.finalize()) + problems
    }

    /// Dumps read to their end by the archive reader; the globals decompressed.
    static func checkLogical(_ files: [FileRecord], stored: BackupFiles) -> [String] {
        files.sorted { $0.bytes > $1.bytes }.flatMap { file in
            file.path.hasSuffix(".dump.zst")
                ? readDump(file, stored: stored)
                : (try? streamPlain(file, stored: stored))
                    ?? ["\(file.path): cannot be read"]
        }
    }

    /// Checksum and zstd to the end, nothing else (the globals).
    static func streamPlain(_ file: FileRecord, stored: BackupFiles) throws -> [String] {
        var hasher = ContentHasher(file.checksum.algorithm)
        var problems: [String] = []
        do {
            let decoder = try ZstdStreamDecoder(source: file.path)
            try stored.read(file.path, size: file.bytes) { chunk in
                hasher.update(chunk)
                try decoder.feed(chunk) { _ in }
            }
            try decoder.finish()
        } catch {
            problems.append("\(file.path): \(error.localizedDescription)")
        }
        return checksumProblem(file, actual: hasher.finalize()) + problems
    }

    /// Checksum, zstd, and the custom-format archive read to its end.
    static func readDump(_ file: FileRecord, stored: BackupFiles) -> [String] {
        do {
            let (_, checksum) = try DumpArchiveReader.read(
                try stored.open(file.path, size: file.bytes), relativePath: file.path, checksum: file.checksum.algorithm
            )
            return checksumProblem(file, actual: checksum)
        } catch {
            let digest = try? hashOnly(file, stored: stored)
            return (digest ?? []) + ["\(file.path): \(error.localizedDescription)"]
        }
    }
}
