import Foundation

/// Reads the `repository.s3` section.
enum S3SettingsLoader {
    static func read(_ section: inout YAMLReader) throws -> S3Settings? {
        guard section.isPresent else { return nil }
        let endpoint = try section.requiredString("endpoint")
        guard let url = URL(string: endpoint), ["http", "https"].contains(url.scheme ?? ""), url.host != nil,
            url.path.isEmpty || url.path == "/", url.query == nil
        else {
            throw section.error(
                "endpoint", "'\(endpoint)' is not an http(s)://host[:port] URL (no path: the bucket is its own key)")
        }
        let bucket = try section.requiredString("bucket")
        guard bucket.range(of: "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", options: .regularExpression) != nil else {
            throw section.error("bucket", "'\(bucket)' is not a valid bucket name (3-63 of a-z, 0-9, '.', '-')")
        }
        let prefix = try section.string("prefix") ?? ""
        guard !prefix.split(separator: "/").contains(where: { $0 == "." || $0 == ".." }) else {
            throw section.error("prefix", "'\(prefix)' must not contain '.' or '..' segments")
        }
        let region = try section.string("region") ?? "us-east-1"
        let style = try section.choice("uri_style", S3Settings.URIStyle.self) ?? .path
        let caFile = try section.string("ca_file")
        if let caFile, !FileManager.default.fileExists(atPath: caFile) {
            throw section.error("ca_file", "\(caFile) does not exist")
        }
        for inline in ["access_key", "secret_key"] where try section.string(inline) != nil {
            throw section.error(
                inline, "keys are not accepted inline: use \(inline)_file (a file holding only it) or \(inline)_env")
        }
        return S3Settings(
            endpoint: endpoint, bucket: bucket, prefix: prefix, region: region, uriStyle: style, caFile: caFile,
            accessKey: try secret(&section, "access_key"), secretKey: try secret(&section, "secret_key"))
    }

    private static func secret(_ section: inout YAMLReader, _ name: String) throws -> SecretSource {
        let file = try section.string("\(name)_file")
        let env = try section.string("\(name)_env")
        switch (file, env) {
        case (let file?, nil):
            guard file.hasPrefix("/") else { throw section.error("\(name)_file", "'\(file)' must be an absolute path") }
            return .file(file)
        case (nil, let env?): return .environment(env)
        case (nil, nil): throw section.error("\(name)_file", "is required (or \(name)_env)")
        default: throw section.error("\(name)_file", "set only one of \(name)_file and \(name)_env")
        }
    }
}
