import Foundation

/// Where a secret comes from: a file holding only it, or an environment variable. Never the secret itself.
public enum SecretSource: Sendable, Equatable {
    case file(String)
    case environment(String)

    /// The secret, trimmed of surrounding whitespace; `what` names it in errors (e.g. `repository.s3.secret_key`).
    public func resolve(_ what: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> String
    {
        let value: String
        switch self {
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw S3Error(
                    problem: "\(what)_file \(path) "
                        + (FileManager.default.fileExists(atPath: path)
                            ? "cannot be read by this user: make it readable (mode 0600) to the user pgbak runs as"
                            : "does not exist: create it holding only the key"))
            }
            value = String(decoding: data, as: UTF8.self)
        case .environment(let name):
            guard let found = environment[name] else {
                throw S3Error(problem: "\(what)_env names $\(name), which is not set in pgbak's environment")
            }
            value = found
        }
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw S3Error(problem: "\(what) is empty") }
        return trimmed
    }
}

/// The `repository.s3` section: an S3-compatible bucket (AWS, MinIO, Ceph RGW, SeaweedFS, ...) holding the repository
/// below `prefix`.
public struct S3Settings: Sendable, Equatable {
    public enum URIStyle: String, Sendable, CaseIterable {
        /// `https://endpoint/bucket/key`: every S3-compatible store.
        case path
        /// `https://bucket.endpoint/key`: AWS's virtual-hosted style.
        case host
    }

    /// `http(s)://host[:port]`, without a path.
    public var endpoint: String
    public var bucket: String
    /// Keys start with this (no leading or trailing `/`; empty for the bucket's root).
    public var prefix: String
    public var region: String
    public var uriStyle: URIStyle
    /// A CA bundle for a store with a private CA.
    public var caFile: String?
    public var accessKey: SecretSource
    public var secretKey: SecretSource

    public init(
        endpoint: String, bucket: String, prefix: String, region: String = "us-east-1", uriStyle: URIStyle = .path,
        caFile: String? = nil, accessKey: SecretSource, secretKey: SecretSource
    ) {
        self.endpoint = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        self.bucket = bucket
        self.prefix = prefix.split(separator: "/").joined(separator: "/")
        self.region = region
        self.uriStyle = uriStyle
        self.caFile = caFile
        self.accessKey = accessKey
        self.secretKey = secretKey
    }

    /// `s3://bucket/prefix at endpoint`, for messages.
    public var location: String { "s3://\(bucket)/\(prefix) at \(endpoint)" }

    /// The URL of `objectKey` (the whole key, prefix included; empty for the bucket itself), with `query` items in
    /// the given order (callers sort them: the signature is computed over the query as sent).
    func url(objectKey: String, query: [(String, String)] = []) -> String {
        let path = objectKey.split(separator: "/", omittingEmptySubsequences: false).map { S3Settings.encode($0) }
            .joined(separator: "/")
        var url: String
        switch uriStyle {
        case .path:
            url = "\(endpoint)/\(bucket)" + (objectKey.isEmpty ? "/" : "/\(path)")
        case .host:
            let scheme = endpoint.hasPrefix("https://") ? "https://" : "http://"
            url = scheme + bucket + "." + endpoint.dropFirst(scheme.count) + "/" + path
        }
        if !query.isEmpty {
            url += "?" + query.map { "\(S3Settings.encode($0.0))=\(S3Settings.encode($0.1))" }.joined(separator: "&")
        }
        return url
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters, as SigV4's canonical form wants.
    static func encode<S: StringProtocol>(_ text: S) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }
}
