import Foundation

/// Ownership and permissions of the configuration file and of the files that hold secrets.
public enum ConfigAudit {
    public enum Kind: Sendable, Equatable {
        /// The configuration: whoever can write it can point backups elsewhere.
        case configuration
        /// A password, passfile or private key: nobody but its owner may read it (libpq ignores a passfile that
        /// group or others can read).
        case secret
    }

    /// What `stat` says about one file.
    public struct FileFacts: Sendable, Equatable {
        public var permissions: UInt32
        public var ownerUID: UInt32
        public var ownerName: String
    }

    public struct AuditedFile: Sendable, Equatable {
        public var keys: [String]
        public var path: String
        public var kind: Kind
    }

    /// The configuration file and every secret file it names, each once, with the keys that name it.
    public static func files(of config: PgbakConfig) -> [AuditedFile] {
        var named: [(String, String)] = []
        for login in [config.postgres.replication, config.postgres.dump] {
            if case .passfile(let path) = login.password { named.append((login.configKey + ".passfile", path)) }
        }
        if case .file(let path) = config.patroni.password { named.append(("patroni.password_file", path)) }
        if let key = config.patroni.keyFile { named.append(("patroni.key_file", key)) }
        if let s3 = config.repositoryS3 {
            if case .file(let path) = s3.accessKey { named.append(("repository.s3.access_key_file", path)) }
            if case .file(let path) = s3.secretKey { named.append(("repository.s3.secret_key_file", path)) }
        }
        if let key = config.encryptionKeyFile { named.append(("repository.encryption.key_file", key)) }
        var result = [AuditedFile(keys: ["configuration"], path: config.file, kind: .configuration)]
        for (key, path) in named {
            if let i = result.firstIndex(where: { $0.path == path && $0.kind == .secret }) {
                result[i].keys.append(key)
            } else {
                result.append(AuditedFile(keys: [key], path: path, kind: .secret))
            }
        }
        return result
    }

    /// Judges one file. Pure: `facts` is nil when the file cannot be inspected.
    public static func judge(_ file: AuditedFile, facts: FileFacts?, configFile: String) -> CheckItem {
        let name = file.kind == .configuration ? "config file" : "secret " + (file.keys.first ?? "")
        let keys = file.kind == .configuration ? file.path : "\(file.keys.joined(separator: ", ")) in \(configFile)"
        guard let facts else {
            return CheckItem(name, .fail, "\(file.path) cannot be inspected (\(keys)): does it exist?")
        }
        let mode = String(format: "%04o", facts.permissions)
        let described = "\(file.path): mode \(mode), owner \(facts.ownerName)"
        switch file.kind {
        case .secret where facts.permissions & 0o077 != 0:
            return CheckItem(
                name, .fail,
                "\(described) holds a secret (\(keys)) that group or others can read; libpq ignores such a "
                    + "passfile: chmod 600 \(file.path)")
        case .configuration where facts.permissions & 0o022 != 0:
            return CheckItem(
                name, .fail,
                "\(described) can be changed by group or others, who could redirect backups: chmod go-w \(file.path)")
        case .configuration where facts.ownerUID != 0 && facts.ownerUID != getuid():
            return CheckItem(
                name, .warn, "\(described): owned by neither root nor the user running pgbak")
        default:
            return CheckItem(name, .ok, described)
        }
    }

    /// Inspects every file `files(of:)` lists.
    public static func audit(_ config: PgbakConfig) -> [CheckItem] {
        files(of: config).map { judge($0, facts: facts(of: $0.path), configFile: config.file) }
    }

    static func facts(of path: String) -> FileFacts? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        let name = getpwuid(st.st_uid).map { String(cString: $0.pointee.pw_name) } ?? "uid \(st.st_uid)"
        return FileFacts(permissions: UInt32(st.st_mode) & 0o7777, ownerUID: st.st_uid, ownerName: name)
    }
}
