/// Pure comparison of a manifest's file list with what is on disk.
public enum ManifestConsistency {
    /// Problems, one per file: listed but missing, size differs, present but unlisted; plus internal contradictions
    /// (a complete database without a dump file, a globals file that is not listed).
    public static func check(_ manifest: Manifest, actual: [String: Int64]) -> [String] {
        var problems: [String] = []
        let listed = Dictionary(manifest.files.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        for file in manifest.files.sorted(by: { $0.path < $1.path }) {
            guard let size = actual[file.path] else {
                problems.append("\(file.path): listed in the manifest but missing")
                continue
            }
            let expected = manifest.storedSize(of: file)
            if size != expected {
                problems.append(
                    "\(file.path): \(size) bytes on disk, "
                        + (expected == file.bytes
                            ? "\(file.bytes) in the manifest"
                            : "\(expected) expected (\(file.bytes) in the manifest, sealed)"))
            }
        }
        for path in actual.keys.sorted() where listed[path] == nil {
            problems.append("\(path): present but not listed in the manifest")
        }
        for db in manifest.logical.databases where db.status == .complete {
            guard let file = db.file, listed[file] != nil else {
                problems.append("database \(db.name) is marked complete but its dump is not listed")
                continue
            }
        }
        if let globals = manifest.logical.globalsFile, listed[globals] == nil {
            problems.append("\(globals): named as the globals file but not listed")
        }
        for file in manifest.physical.files where listed[file] == nil {
            problems.append("\(file): named by the physical part but not listed")
        }
        if manifest.physical.status == .complete, listed["\(PhysicalPart.directory)/backup_manifest"] == nil {
            problems.append("physical/backup_manifest: PostgreSQL's backup manifest is not listed")
        }
        return problems
    }
}
