/// Whether the repository and the restore-test scratch area share a filesystem with a local member's data
/// directory (a disk that fills or fails then takes the database and its backups together). Pure.
public enum Placement {
    /// A directory pgbak writes to, with the device of the filesystem holding it (nil: not inspectable).
    public struct Area: Sendable, Equatable {
        public var name: String
        public var path: String
        public var device: UInt64?
    }

    /// A data directory of a Patroni member running on this host.
    public struct DataDirectory: Sendable, Equatable {
        public var member: String
        public var path: String
        public var device: UInt64?
    }

    public static func judge(_ areas: [Area], dataDirectories: [DataDirectory]) -> [CheckItem] {
        areas.map { area in
            let name = "placement \(area.name)"
            if let inside = dataDirectories.first(where: { contains($0.path, area.path) }) {
                return CheckItem(
                    name, .fail,
                    "\(area.path) is inside \(inside.member)'s data directory \(inside.path): base backups would copy "
                        + "it and a re-seed would delete it; move it elsewhere")
            }
            guard let device = area.device else {
                return CheckItem(name, .warn, "\(area.path): cannot inspect its filesystem")
            }
            let sharing = dataDirectories.filter { $0.device == device }
            if !sharing.isEmpty {
                let list = sharing.map { "\($0.member) (\($0.path))" }.joined(separator: ", ")
                return CheckItem(
                    name, .warn,
                    "\(area.path) is on the same filesystem as the data directory of \(list): a disk that fills "
                        + "or fails takes the database and its backups together")
            }
            let checked = dataDirectories.filter { $0.device != nil }.map(\.member)
            return CheckItem(
                name, .ok,
                checked.isEmpty
                    ? "\(area.path); no member's data directory found on this host"
                    : "\(area.path) is not on the filesystem of \(checked.joined(separator: ", "))'s data directory")
        }
    }

    /// `path` is `directory` or below it.
    static func contains(_ directory: String, _ path: String) -> Bool {
        let dir = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        return path == dir || path.hasPrefix(dir + "/")
    }
}
