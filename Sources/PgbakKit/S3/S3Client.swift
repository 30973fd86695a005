import Crypto
import Foundation

/// An object as a listing or HEAD shows it. `key` is relative to the repository's prefix.
public struct S3Object: Sendable, Equatable {
    public var key: String
    public var size: Int64
    public var modified: Date
    /// The ETag without quotes (for a single-part upload, the MD5 of the content on every S3-compatible store).
    public var etag: String
}

/// A multipart upload the store still holds (started and neither completed nor aborted).
public struct S3PendingUpload: Sendable, Equatable {
    public var key: String
    public var uploadID: String
    public var initiated: Date
}

/// The S3 operations pgbak uses, on keys relative to `settings.prefix`. Each request is signed (SigV4 by libcurl),
/// carries Content-MD5 and the SHA-256 of its body (the store checks both), and is tried again on a dropped
/// connection or a 500/503 answer.
public final class S3Client: Sendable {
    public let settings: S3Settings
    private let session: CurlSession
    private let attempts = 4

    public init(settings: S3Settings) throws {
        self.settings = settings
        let signing = CurlSession.Signing(
            region: settings.region, service: "s3",
            accessKey: try settings.accessKey.resolve("repository.s3.access_key"),
            secretKey: try settings.secretKey.resolve("repository.s3.secret_key"))
        session = CurlSession(signing: signing, caFile: settings.caFile)
    }

    /// The whole key of `key` in the bucket.
    func objectKey(_ key: String) -> String {
        settings.prefix.isEmpty ? key : settings.prefix + "/" + key
    }

    /// `s3://bucket/prefix/key`, for messages.
    public func describe(_ key: String) -> String { "s3://\(settings.bucket)/\(objectKey(key))" }

    // MARK: Objects

    public enum PutOutcome: Sendable, Equatable {
        case stored(etag: String)
        /// `If-None-Match: *` found the key taken, or `If-Match` found another ETag.
        case preconditionFailed
    }

    /// Stores `body` under `key`. `ifNoneMatch` creates only when the key is free; `ifMatch` replaces only the version
    /// with that ETag.
    public func put(
        _ key: String, body: UnsafeRawBufferPointer, ifNoneMatch: Bool = false, ifMatch: String? = nil
    ) throws -> PutOutcome {
        var headers = Self.bodyHeaders(body)
        if ifNoneMatch { headers.append(("If-None-Match", "*")) }
        if let ifMatch { headers.append(("If-Match", "\"\(ifMatch)\"")) }
        var retried = false
        let response = try send("PUT", key, headers: headers, body: body, retried: &retried)
        if response.status == 412 {
            // A retry after a lost answer finds its own first attempt: the same content is success.
            if retried, let head = try head(key), head.etag == Self.md5Hex(body) { return .stored(etag: head.etag) }
            return .preconditionFailed
        }
        guard (200..<300).contains(response.status) else { throw failure(response, "PUT", key) }
        return .stored(etag: Self.etag(response) ?? Self.md5Hex(body))
    }

    /// Convenience for `put` with `Data`.
    public func put(_ key: String, data: Data, ifNoneMatch: Bool = false, ifMatch: String? = nil) throws -> PutOutcome {
        try data.withUnsafeBytes { try put(key, body: $0, ifNoneMatch: ifNoneMatch, ifMatch: ifMatch) }
    }

    /// The whole object, or bytes `range` of it; nil when it does not exist.
    public func get(_ key: String, range: Range<Int64>? = nil) throws -> Data? {
        let response = try send("GET", key, headers: Self.rangeHeaders(range))
        if response.status == 404, Self.errorCode(response) != "NoSuchBucket" { return nil }
        guard (200..<300).contains(response.status) else { throw failure(response, "GET", key) }
        return response.body
    }

    /// Streams the object (or bytes `range` of it) into `sink` as it arrives; false when it does not exist. A retry
    /// after a cut-off transfer resumes where the sink stopped.
    public func get(
        _ key: String, range: Range<Int64>? = nil, into sink: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Bool {
        try withoutActuallyEscaping(sink) { try stream(key, range: range, into: $0) }
    }

    private func stream(
        _ key: String, range: Range<Int64>?, into sink: @escaping (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Bool {
        var received: Int64 = 0
        var attempt = 0
        while true {
            attempt += 1
            let rest = range.map { ($0.lowerBound + received)..<$0.upperBound }
            let headers =
                rest.map { Self.rangeHeaders($0) } ?? (received > 0 ? [("Range", "bytes=\(received)-")] : [])
            do {
                let response = try session.perform(
                    request("GET", key, headers: headers),
                    sink: { bytes in
                        try sink(bytes)
                        received += Int64(bytes.count)
                    })
                if response.status == 404, Self.errorCode(response) != "NoSuchBucket" { return false }
                if Self.transientStatus(response.status), attempt < attempts {
                    Self.backOff(attempt)
                    continue
                }
                guard (200..<300).contains(response.status) else { throw failure(response, "GET", key) }
                return true
            } catch let error as HTTPTransportError where error.transient && attempt < attempts {
                Self.backOff(attempt)
            }
        }
    }

    /// A whole small object with its ETag and Last-Modified, and the store's clock at the answer (its Date header);
    /// nil when it does not exist.
    public func fetch(_ key: String) throws -> (data: Data, etag: String, modified: Date, storeNow: Date)? {
        let response = try send("GET", key)
        if response.status == 404, Self.errorCode(response) != "NoSuchBucket" { return nil }
        guard (200..<300).contains(response.status) else { throw failure(response, "GET", key) }
        let modified = response.headers["last-modified"].flatMap(Self.httpDate) ?? Date()
        let now = response.headers["date"].flatMap(Self.httpDate) ?? Date()
        return (response.body, Self.etag(response) ?? "", modified, now)
    }

    /// Size, time and ETag of an object; nil when it does not exist.
    public func head(_ key: String) throws -> S3Object? {
        let response = try send("HEAD", key)
        if response.status == 404 { return nil }
        guard (200..<300).contains(response.status) else { throw failure(response, "HEAD", key) }
        let modified = response.headers["last-modified"].flatMap(Self.httpDate) ?? Date(timeIntervalSince1970: 0)
        return S3Object(
            key: key, size: Int64(response.headers["content-length"] ?? "") ?? 0, modified: modified,
            etag: Self.etag(response) ?? "")
    }

    /// Removes an object; one that does not exist is no error.
    public func delete(_ key: String) throws {
        let response = try send("DELETE", key)
        guard (200..<300).contains(response.status) || response.status == 404 else {
            throw failure(response, "DELETE", key)
        }
    }

    /// Every object below `prefix` (relative to the repository's prefix; `""` for all of it). With a delimiter,
    /// only the objects directly in that "folder"; the common prefixes are returned too.
    public func list(prefix: String, delimiter: String? = nil) throws -> (objects: [S3Object], folders: [String]) {
        var objects: [S3Object] = []
        var folders: [String] = []
        var token: String?
        let strip = settings.prefix.isEmpty ? 0 : settings.prefix.count + 1
        repeat {
            var query: [(String, String)] = []
            if let token { query.append(("continuation-token", token)) }
            if let delimiter { query.append(("delimiter", delimiter)) }
            query += [("list-type", "2"), ("prefix", objectKey(prefix))]
            let response = try send("GET", nil, query: query)
            guard (200..<300).contains(response.status) else { throw failure(response, "LIST", prefix) }
            let text = String(decoding: response.body, as: UTF8.self)[...]
            for block in S3XML.blocks("Contents", in: text) {
                guard let key = S3XML.value("Key", in: block), key.count > strip else { continue }
                objects.append(
                    S3Object(
                        key: String(key.dropFirst(strip)), size: Int64(S3XML.value("Size", in: block) ?? "") ?? 0,
                        modified: S3XML.value("LastModified", in: block).flatMap(Self.isoDate)
                            ?? Date(timeIntervalSince1970: 0),
                        etag: (S3XML.value("ETag", in: block) ?? "").trimmingCharacters(in: ["\""])))
            }
            for block in S3XML.blocks("CommonPrefixes", in: text) {
                if let folder = S3XML.value("Prefix", in: block), folder.count > strip {
                    folders.append(String(folder.dropFirst(strip)))
                }
            }
            token =
                S3XML.value("IsTruncated", in: text) == "true" ? S3XML.value("NextContinuationToken", in: text) : nil
        } while token != nil
        return (objects, folders)
    }

    /// Fails, naming the fix, unless the bucket exists and the keys may read it: what opening a repository checks
    /// first, since on a missing bucket a GET answers 404 like a missing object and some stores create the bucket on PUT.
    public func checkBucket() throws {
        let response = try send("GET", nil, query: [("list-type", "2"), ("max-keys", "1")])
        guard (200..<300).contains(response.status) else {
            var failure = S3Error.answer(response, to: "GET \(settings.location)", settings: settings)
            if response.status == 404 && failure.code == nil {
                failure = S3Error(
                    code: "NoSuchBucket", status: 404,
                    problem: "GET \(settings.location): bucket '\(settings.bucket)' does not exist: create it, or fix "
                        + "repository.s3.bucket")
            }
            throw failure
        }
    }

    // MARK: Requests

    static func errorCode(_ response: HTTPResponse) -> String? {
        S3XML.value("Code", in: String(decoding: response.body, as: UTF8.self)[...])
    }

    func request(_ method: String, _ key: String?, query: [(String, String)] = [], headers: [(String, String)] = [])
        -> HTTPRequest
    {
        let url = settings.url(objectKey: key.map(objectKey) ?? "", query: query)
        var all = headers.map { (name: $0.0, value: $0.1) }
        if !all.contains(where: { $0.name == "x-amz-content-sha256" }) {
            all.append(("x-amz-content-sha256", Self.emptySHA256))
        }
        return HTTPRequest(method: method, url: url, headers: all)
    }

    /// `send(_:_:query:headers:body:retried:)` for callers to whom an earlier attempt's effect makes no difference.
    func send(
        _ method: String, _ key: String?, query: [(String, String)] = [], headers: [(String, String)] = [],
        body: UnsafeRawBufferPointer? = nil
    ) throws -> HTTPResponse {
        var retried = false
        return try send(method, key, query: query, headers: headers, body: body, retried: &retried)
    }

    /// Sends a request, trying again (with a growing pause) after a dropped connection or a 500/503; `retried`
    /// tells the caller an earlier attempt may have taken effect.
    func send(
        _ method: String, _ key: String?, query: [(String, String)] = [], headers: [(String, String)] = [],
        body: UnsafeRawBufferPointer? = nil, retried: inout Bool
    ) throws -> HTTPResponse {
        let request = request(method, key, query: query, headers: headers)
        var attempt = 0
        while true {
            attempt += 1
            do {
                let response = try session.perform(request, body: body)
                if Self.transientStatus(response.status), attempt < attempts {
                    retried = true
                    Self.backOff(attempt)
                    continue
                }
                return response
            } catch let error as HTTPTransportError {
                guard error.transient, attempt < attempts else {
                    throw S3Error(
                        problem: "\(method) \(key.map(describe) ?? settings.location) at \(settings.endpoint): "
                            + error.problem
                            + (error.transient ? " (after \(attempt) attempts)" : ""))
                }
                retried = true
                Self.backOff(attempt)
            }
        }
    }

    func failure(_ response: HTTPResponse, _ method: String, _ key: String) -> S3Error {
        S3Error.answer(response, to: "\(method) \(describe(key))", settings: settings)
    }

    static func transientStatus(_ status: Int) -> Bool { status == 500 || status == 502 || status == 503 }

    static func backOff(_ attempt: Int) {
        usleep(UInt32(min(5.0, 0.2 * pow(3.0, Double(attempt - 1))) * 1_000_000))
    }

    /// Content-MD5 (the store refuses a body that does not match it) and the payload hash SigV4 signs: the body's
    /// SHA-256 for small bodies (manifests, the lease, XML), `UNSIGNED-PAYLOAD` for data parts, whose integrity
    /// Content-MD5 guards on the way and the manifest's checksums on every read (hashing each part twice cost a
    /// backup time on a busy host).
    static func bodyHeaders(_ body: UnsafeRawBufferPointer) -> [(String, String)] {
        let payload =
            body.count >= 1 << 20
            ? "UNSIGNED-PAYLOAD" : SHA256.hash(data: body).hexString
        return [
            ("Content-MD5", Data(Insecure.MD5.hash(data: body)).base64EncodedString()),
            ("x-amz-content-sha256", payload),
        ]
    }

    static func md5Hex(_ body: UnsafeRawBufferPointer) -> String {
        Insecure.MD5.hash(data: body).hexString
    }

    static func rangeHeaders(_ range: Range<Int64>?) -> [(String, String)] {
        range.map { [("Range", "bytes=\($0.lowerBound)-\($0.upperBound - 1)")] } ?? []
    }

    static func etag(_ response: HTTPResponse) -> String? {
        response.headers["etag"].map { $0.trimmingCharacters(in: ["\""]) }
    }

    static let emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    static func isoDate(_ text: String) -> Date? {
        (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
            ?? (try? Date.ISO8601FormatStyle().parse(text))
    }

    static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }
}
