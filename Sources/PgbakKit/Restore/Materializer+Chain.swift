import Foundation

/// One backup of a chain, ready to be read.
public struct ChainLink: Sendable {
    public var files: BackupFiles
    public var manifest: Manifest
}

extension Materializer {
    /// The materializer of `chain`'s backup in `context`'s repository (`repository.chain(of:)`): for an incremental
    /// backup, with every backup it depends on (each checked against the configured key) and the backup's own
    /// major's pg_combinebackup.
    public static func of(
        _ chain: BackupChain, context: RunContext, checkContent: Bool = true, cached: Bool = false
    ) async throws -> Materializer {
        let backup = chain.backup
        var materializer = Materializer(
            files: try context.repository.files(of: backup), manifest: backup.manifest, checkContent: checkContent,
            cached: cached)
        guard !chain.earlier.isEmpty else { return materializer }
        materializer.earlier = try chain.earlier.map {
            ChainLink(files: try context.repository.files(of: $0), manifest: $0.manifest)
        }
        materializer.serverTools = try await PostgresTools.server(
            major: backup.manifest.cluster.serverVersionNum / 10000,
            serverBinDirs: context.config.postgres.serverBinDirs, configured: context.config.postgres.binDir,
            configFile: context.config.file)
        return materializer
    }

    /// Materializes every backup of the chain into a working directory beside `dataDirectory` (WAL only for the
    /// last), then has pg_combinebackup write the full data directory into `dataDirectory`, each tablespace where
    /// `placement` says. The working directory is removed whatever happens.
    func combine(into dataDirectory: String, tablespaces placement: TablespacePlacement) async throws -> Result {
        let started = Date()
        guard let tools = serverTools else {
            throw RestoreError(problem: "backup \(manifest.backupID) is incremental: pg_combinebackup is needed")
        }
        try Self.prepareEmpty(dataDirectory, what: "data directory")
        let work = Self.workDirectory(beside: dataDirectory)
        try? FileManager.default.removeItem(atPath: work)
        guard mkdir(work, 0o700) == 0 else {
            throw RestoreError(
                problem: "cannot create \(work) to combine the incremental backup's chain in: \(Errno.text()) (the "
                    + "directory holding \(dataDirectory) must be writable and have room for the chain)")
        }
        defer { try? FileManager.default.removeItem(atPath: work) }
        let links = earlier + [ChainLink(files: files, manifest: manifest)]
        // The inputs are read once by pg_combinebackup right after and then removed: through the page cache.
        var reader = self
        reader.cached = true
        var inputs: [String] = []
        var last: Result?
        var total = (files: 0, bytes: Int64(0))
        for (index, link) in links.enumerated() {
            let directory = "\(work)/\(link.manifest.backupID)"
            let isLast = index == links.count - 1
            let result = try reader.extract(
                link, into: directory + "/data", tablespaces: .remapped(under: directory + "/tablespaces"), wal: isLast)
            let name = "\(PhysicalPart.directory)/backup_manifest"
            guard let pgManifest = try link.files.contents(name) else {
                throw RestoreError(problem: "backup \(link.manifest.backupID) has no \(name)")
            }
            try pgManifest.write(to: URL(fileURLWithPath: directory + "/data/backup_manifest"))
            inputs.append(directory + "/data")
            total.files += result.files
            total.bytes += result.bytes
            if isLast { last = result }
        }
        var mappings: [TablespaceMapping] = []
        // No fsync of its own: PostgreSQL syncs the data directory when it starts from a backup (as for every restore).
        var arguments = ["--output", dataDirectory, "--no-sync"]
        for extracted in last?.tablespaces ?? [] {
            let target = placement.target(oid: extracted.oid, recordedAt: extracted.originalPath)
            // pg_combinebackup creates it (the data directory must still be empty when it starts).
            try Self.refuseNonEmpty(target, what: "tablespace directory")
            arguments.append("--tablespace-mapping=\(extracted.path)=\(target)")
            mappings.append(TablespaceMapping(oid: extracted.oid, originalPath: extracted.originalPath, path: target))
        }
        arguments += Self.fileMethod(major: tools.majorVersion, from: work, to: [dataDirectory] + mappings.map(\.path))
        let outcome = try await ChildProcess.run(
            ChildCommand(executable: tools.path("pg_combinebackup"), arguments: arguments + inputs))
        guard outcome.succeeded else {
            throw RestoreError(
                problem: "pg_combinebackup \(outcome.statusText) combining backups "
                    + links.map(\.manifest.backupID).joined(separator: ", ") + ": \(outcome.stderrTail)")
        }
        guard chmod(dataDirectory, 0o700) == 0 else {
            throw RestoreError(problem: "cannot set mode 0700 on \(dataDirectory): \(Errno.text())")
        }
        return Result(
            files: total.files, bytes: total.bytes, tablespaces: mappings, seconds: Date().timeIntervalSince(started),
            combinedManifest: dataDirectory + "/backup_manifest")
    }

    /// Throws when `path` exists and is not an empty directory.
    static func refuseNonEmpty(_ path: String, what: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        guard isDir.boolValue, entries.isEmpty else {
            throw RestoreError(
                problem: "\(what) \(path) is not an empty directory; refusing to write into it: empty it first")
        }
    }

    /// `<parent>/.<name>.pgbak-chain`: on the data directory's filesystem, so pg_combinebackup can link or
    /// copy in the kernel.
    static func workDirectory(beside dataDirectory: String) -> String {
        let url = URL(fileURLWithPath: dataDirectory).standardizedFileURL
        return url.deletingLastPathComponent().path + "/." + url.lastPathComponent + ".pgbak-chain"
    }

    /// How pg_combinebackup writes files: hard links (18+) or in-kernel copies (17) when every target is on the
    /// working directory's filesystem (the inputs are removed afterwards), plain copies otherwise.
    static func fileMethod(major: Int, from work: String, to targets: [String]) -> [String] {
        func device(_ path: String) -> UInt64? {
            var info = stat()
            return stat(path, &info) == 0 ? UInt64(info.st_dev) : nil
        }
        guard let source = device(work), targets.allSatisfy({ device($0) == source }) else { return ["--copy"] }
        return major >= 18 ? ["--link"] : ["--copy-file-range"]
    }
}
