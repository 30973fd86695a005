import Crypto
import Foundation
import Logging

/// `pgbak verify` at the default level: read-only, nothing extracted. Every listed file has its size and SHA-256,
/// nothing unlisted is there, every zstd file decompresses to the end, every member of the base and tablespace
/// archives matches PostgreSQL's backup_manifest, every dump is read to the end by `pg_restore`, the globals
/// decompress.
public struct BackupVerifier: Sendable {
    public var repository: any BackupRepository
    public var logger: Logger
    /// Set to use a particular bin directory for pg_restore (postgres.bin_dir).
    public var binDir: String?
    public var configFile: String

    public init(repository: any BackupRepository, logger: Logger, binDir: String?, configFile: String) {
        self.repository = repository
        self.logger = logger
        self.binDir = binDir
        self.configFile = configFile
    }

    public func verify(_ backup: StoredBackup) async -> VerificationRecord {
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
        let dir = repository.directory(of: backup.id)
        var actual: [String: Int64] = [:]
        await step("file list") {
            actual = try repository.listFiles(id: backup.id)
            return try Self.checkManifestChecksum(dir: dir) + ManifestConsistency.check(manifest, actual: actual)
        }
        let present = manifest.files.filter { actual[$0.path] == $0.bytes }
        await step("physical archives") {
            try await checkPhysical(present.filter { $0.path.hasPrefix(PhysicalPart.directory + "/") }, dir: dir)
        }
        await step("dumps and globals") {
            try await checkLogical(present.filter { $0.path.hasPrefix(LogicalPart.directory + "/") }, dir: dir,
                                   serverMajor: manifest.cluster.serverVersionNum / 10000)
        }
        return VerificationRecord(backupID: backup.id, level: .standard, startedAt: started, finishedAt: Date(),
                                  ok: problems.isEmpty, problems: problems.map { "\(backup.id): \($0)" }, steps: steps)
    }

    /// backup_manifest first (its checksum, then the archive members against it), then every archive.
    private func checkPhysical(_ files: [FileRecord], dir: String) async throws -> [String] {
        var problems: [String] = []
        var checker: ArchiveChecker?
        var prefixes: [String] = []
        if let pgManifest = files.first(where: { $0.path.hasSuffix("/backup_manifest") }) {
            problems += try Self.hashOnly(pgManifest, dir: dir)
            if let data = FileManager.default.contents(atPath: dir + "/" + pgManifest.path) {
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
                problems += try Self.hashOnly(file, dir: dir)
                continue
            }
            let archive = String(name.dropLast(".tar.zst".count))
            let prefix = archive == "base" ? "" : archive == "pg_wal" ? "pg_wal/" : "pg_tblspc/\(archive)/"
            if archive != "pg_wal" { prefixes.append(prefix) }
            problems += try Self.streamArchive(file, dir: dir, checker: checker, prefix: prefix)
        }
        if let checker {
            problems += checker.problems
            problems += checker.missing(prefixes: prefixes).map { "\($0): in backup_manifest but in no archive" }
        }
        return problems
    }

    /// `manifest.json` must hash to what `manifest.sha256` says.
    static func checkManifestChecksum(dir: String) throws -> [String] {
        guard let expected = FileManager.default.contents(atPath: dir + "/" + Manifest.checksumFileName) else {
            return ["\(Manifest.checksumFileName): missing (it holds the manifest's own checksum)"]
        }
        let actual = try FileDigest.sha256(path: dir + "/" + Manifest.fileName, relativePath: Manifest.fileName)
        let want = String(decoding: expected, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return actual.sha256 == want ? [] : ["\(Manifest.fileName): edited or corrupt (its SHA-256 differs from "
            + "\(Manifest.checksumFileName))"]
    }

    /// One pass over a file: SHA-256 and size.
    static func hashOnly(_ file: FileRecord, dir: String) throws -> [String] {
        let record = try FileDigest.sha256(path: dir + "/" + file.path, relativePath: file.path)
        return record.sha256 == file.sha256 ? [] : ["\(file.path): SHA-256 differs from the manifest (corrupt)"]
    }

    /// One pass over a compressed tar: SHA-256 of the file, zstd to the end, each member against backup_manifest.
    static func streamArchive(_ file: FileRecord, dir: String, checker: ArchiveChecker?,
                              prefix: String) throws -> [String] {
        let path = dir + "/" + file.path
        var hasher = SHA256()
        let decoder = try ZstdStreamDecoder(source: file.path)
        let tar = checker?.reader(prefix: prefix) ?? TarReader(onMember: { _ in }, onData: { _ in }, onMemberEnd: {})
        var problems: [String] = []
        do {
            try FileChunks.read(path: path) { chunk in
                hasher.update(bufferPointer: chunk)
                try decoder.feed(chunk) { try tar.feed($0) }
            }
            try decoder.finish()
            try tar.finish()
        } catch {
            problems.append("\(file.path): \(error.localizedDescription)")
        }
        if hasher.finalize().hexString != file.sha256 {
            problems.insert("\(file.path): SHA-256 differs from the manifest (corrupt)", at: 0)
        }
        return problems
    }

    private func checkLogical(_ files: [FileRecord], dir: String, serverMajor: Int) async throws -> [String] {
        guard !files.isEmpty else { return [] }
        let tools = try await PostgresTools.locate(configured: binDir, serverMajor: serverMajor, configFile: configFile)
        var problems: [String] = []
        for file in files {
            if file.path.hasSuffix(".dump.zst") {
                problems += try await Self.readDump(file, dir: dir, pgRestore: tools.path("pg_restore"))
            } else {
                problems += try Self.streamPlain(file, dir: dir)
            }
        }
        return problems
    }

    /// SHA-256 and zstd to the end, nothing else (the globals).
    static func streamPlain(_ file: FileRecord, dir: String) throws -> [String] {
        var hasher = SHA256()
        var problems: [String] = []
        do {
            let decoder = try ZstdStreamDecoder(source: file.path)
            try FileChunks.read(path: dir + "/" + file.path) { chunk in
                hasher.update(bufferPointer: chunk)
                try decoder.feed(chunk) { _ in }
            }
            try decoder.finish()
        } catch {
            problems.append("\(file.path): \(error.localizedDescription)")
        }
        if hasher.finalize().hexString != file.sha256 {
            problems.insert("\(file.path): SHA-256 differs from the manifest (corrupt)", at: 0)
        }
        return problems
    }

    /// SHA-256, zstd, and `pg_restore -f /dev/null` reading the whole dump from its stdin.
    static func readDump(_ file: FileRecord, dir: String, pgRestore: String) async throws -> [String] {
        let hashState = DumpFeedState(path: dir + "/" + file.path, relativePath: file.path)
        let outcome = try await ChildProcess.run(
            ChildCommand(executable: pgRestore, arguments: ["--file=/dev/null", "--format=custom"]),
            feed: { writer in try await hashState.pump(into: writer) })
        var problems: [String] = []
        if let error = hashState.error { problems.append("\(file.path): \(error)") }
        if hashState.sha256 != file.sha256 {
            problems.insert("\(file.path): SHA-256 differs from the manifest (corrupt)", at: 0)
        }
        if !outcome.succeeded && hashState.error == nil {
            let tail = outcome.stderrTail.trimmingCharacters(in: .whitespacesAndNewlines)
            problems.append("\(file.path): pg_restore cannot read the dump to its end: \(tail)")
        }
        return problems
    }
}

/// Reads a compressed dump, hashing it, and pushes the decompressed bytes into a child's stdin.
final class DumpFeedState: @unchecked Sendable {
    let path: String
    let relativePath: String
    private(set) var sha256 = ""
    private(set) var error: String?

    init(path: String, relativePath: String) {
        self.path = path
        self.relativePath = relativePath
    }

    func pump(into writer: ChildInputWriter) async throws {
        var hasher = SHA256()
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            error = "cannot open: \(Errno.text())"
            return
        }
        defer { close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: FileChunks.size, alignment: 16)
        defer { buffer.deallocate() }
        do {
            let decoder = try ZstdStreamDecoder(source: relativePath)
            var pending: [UInt8] = []
            var stdinClosed = false
            while true {
                let n = read(fd, buffer.baseAddress, buffer.count)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw CompressionError(path: relativePath, problem: "read failed: \(Errno.text())")
                }
                if n == 0 { break }
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
                hasher.update(bufferPointer: chunk)
                try decoder.feed(chunk) { if !stdinClosed { pending.append(contentsOf: $0) } }
                if !pending.isEmpty {
                    do {
                        try await writer(pending)
                    } catch {
                        stdinClosed = true  // the reader quit early; its exit status tells why
                    }
                    pending.removeAll(keepingCapacity: true)
                }
            }
            try decoder.finish()
        } catch let failure as CompressionError {
            error = failure.problem
        }
        sha256 = hasher.finalize().hexString
    }
}
