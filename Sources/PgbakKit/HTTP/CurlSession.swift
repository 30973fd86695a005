import CCurl
import Foundation

/// One HTTP request. Header names are sent as given; the body goes out from the caller's memory without a copy.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(name: String, value: String)]

    public init(method: String, url: String, headers: [(name: String, value: String)] = []) {
        self.method = method
        self.url = url
        self.headers = headers
    }
}

/// The answer to an `HTTPRequest`: status, headers (names lowercased) and, unless it was streamed elsewhere, the body.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: Data
}

/// A failure below HTTP: no connection, TLS, a transfer cut off or stalled. Never carries credentials.
public struct HTTPTransportError: LocalizedError, Sendable {
    public var url: String
    public var problem: String
    /// Whether trying again may help (connection refused, reset, timed out), as opposed to a setting being wrong.
    public var transient: Bool

    public var errorDescription: String? { "\(url): \(problem)" }
}

/// HTTP through libcurl, with connections kept open between requests (one curl handle per concurrent request, reused).
/// Requests are signed with AWS Signature V4 by libcurl itself when `signing` is set. This is the only file that
/// touches libcurl's pointers.
public final class CurlSession: @unchecked Sendable {
    /// AWS SigV4 signing: the region and service that scope the signature, and the key pair.
    public struct Signing: Sendable {
        public var region: String
        public var service: String
        public var accessKey: String
        public var secretKey: String
    }

    private static let initialized: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
    private let signing: Signing?
    private let caFile: String?
    private let lock = NSLock()
    private var idle: [UnsafeMutableRawPointer] = []

    public init(signing: Signing?, caFile: String?) {
        _ = Self.initialized
        self.signing = signing
        self.caFile = caFile
    }

    deinit {
        for handle in idle { curl_easy_cleanup(handle) }
    }

    /// Sends `request` with `body` (nil: none) and returns the response. When `sink` is given, a 2xx response's body
    /// is handed to it in pieces as it arrives instead of being collected (an error response is still collected, for
    /// its message); an error the sink throws ends the transfer and is rethrown.
    public func perform(
        _ request: HTTPRequest, body: UnsafeRawBufferPointer? = nil,
        sink: ((UnsafeRawBufferPointer) throws -> Void)? = nil
    ) throws -> HTTPResponse {
        let handle = try takeHandle()
        var reusable = false
        defer { giveBack(handle, reusable: reusable) }
        let state = TransferState(body: body, sink: sink)
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        for (name, value) in request.headers {
            headerList = curl_slist_append(headerList, value.isEmpty ? "\(name):" : "\(name): \(value)")
        }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errorText in
            configure(handle, request, headers: headerList, state: state, errorText: errorText.baseAddress!)
            return curl_easy_perform(handle)
        }
        if let failure = state.sinkError { throw failure }
        guard code == CURLE_OK else {
            let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map(UInt8.init(bitPattern:)), as: UTF8.self)
            throw HTTPTransportError(
                url: request.url,
                problem: detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail,
                transient: Self.transientCodes.contains(code))
        }
        var status = 0
        _ = pgbak_curl_get_long(handle, CURLINFO_RESPONSE_CODE, &status)
        reusable = true
        return HTTPResponse(status: status, headers: state.headers, body: state.collected)
    }

    private static let transientCodes: Set<CURLcode> = [
        CURLE_COULDNT_CONNECT, CURLE_OPERATION_TIMEDOUT, CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING,
        CURLE_PARTIAL_FILE, CURLE_COULDNT_RESOLVE_HOST,
    ]

    private func configure(
        _ handle: UnsafeMutableRawPointer, _ request: HTTPRequest, headers: UnsafeMutablePointer<curl_slist>?,
        state: TransferState, errorText: UnsafeMutablePointer<CChar>
    ) {
        let context = Unmanaged.passUnretained(state).toOpaque()
        _ = pgbak_curl_set_string(handle, CURLOPT_URL, request.url)
        _ = pgbak_curl_set_pointer(handle, CURLOPT_ERRORBUFFER, errorText)
        _ = pgbak_curl_set_long(handle, CURLOPT_NOSIGNAL, 1)
        _ = pgbak_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT, 10)
        // A transfer that moves nothing for a minute is dead; a slow one that moves is left alone.
        _ = pgbak_curl_set_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1)
        _ = pgbak_curl_set_long(handle, CURLOPT_LOW_SPEED_TIME, 60)
        _ = pgbak_curl_set_pointer(handle, CURLOPT_HTTPHEADER, headers)
        _ = pgbak_curl_set_header(handle, headerCallback, context)
        _ = pgbak_curl_set_write(handle, writeCallback, context)
        if let caFile { _ = pgbak_curl_set_string(handle, CURLOPT_CAINFO, caFile) }
        if let signing {
            _ = pgbak_curl_set_string(handle, CURLOPT_AWS_SIGV4, "aws:amz:\(signing.region):\(signing.service)")
            _ = pgbak_curl_set_string(handle, CURLOPT_USERNAME, signing.accessKey)
            _ = pgbak_curl_set_string(handle, CURLOPT_PASSWORD, signing.secretKey)
        }
        if let body = state.body {
            // No wait for "100 Continue" before the body: one round trip less per part. (Removing the Expect header
            // instead would put it, empty, into the SigV4 signature's header list.)
            _ = pgbak_curl_set_long(handle, CURLOPT_EXPECT_100_TIMEOUT_MS, 0)
            _ = pgbak_curl_set_long(handle, CURLOPT_UPLOAD, 1)
            _ = pgbak_curl_set_offset(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(body.count))
            _ = pgbak_curl_set_read(handle, readCallback, context)
            _ = pgbak_curl_set_seek(handle, seekCallback, context)
        }
        if request.method == "HEAD" { _ = pgbak_curl_set_long(handle, CURLOPT_NOBODY, 1) }
        if request.method != "GET" && request.method != "HEAD" && !(request.method == "PUT" && state.body != nil) {
            _ = pgbak_curl_set_string(handle, CURLOPT_CUSTOMREQUEST, request.method)
        }
    }

    private func takeHandle() throws -> UnsafeMutableRawPointer {
        lock.lock()
        let reused = idle.popLast()
        lock.unlock()
        if let reused {
            curl_easy_reset(reused)  // keeps the open connections, forgets the last request's options
            return reused
        }
        guard let handle = curl_easy_init() else {
            throw HTTPTransportError(
                url: "", problem: "libcurl cannot create a handle (out of memory?)", transient: false)
        }
        return handle
    }

    private func giveBack(_ handle: UnsafeMutableRawPointer, reusable: Bool) {
        guard reusable else { return curl_easy_cleanup(handle) }
        lock.lock()
        idle.append(handle)
        lock.unlock()
    }
}

/// What one transfer's callbacks share: the body going out, what comes back.
private final class TransferState {
    let body: UnsafeRawBufferPointer?
    var sent = 0
    let sink: ((UnsafeRawBufferPointer) throws -> Void)?
    var sinkError: (any Error)?
    var status = 0
    var headers: [String: String] = [:]
    var collected = Data()

    init(body: UnsafeRawBufferPointer?, sink: ((UnsafeRawBufferPointer) throws -> Void)?) {
        self.body = body
        self.sink = sink
    }
}

private func state(_ context: UnsafeMutableRawPointer?) -> TransferState {
    Unmanaged<TransferState>.fromOpaque(context!).takeUnretainedValue()
}

private let headerCallback: pgbak_curl_data_callback = { buffer, size, count, context in
    let transfer = state(context)
    let line = String(decoding: UnsafeRawBufferPointer(start: buffer, count: size * count), as: UTF8.self)
    if line.hasPrefix("HTTP/") {
        // A new status line (after 100 Continue or a redirect) starts the headers over.
        transfer.headers = [:]
        transfer.status = Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    } else if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].lowercased()
        transfer.headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
    }
    return size * count
}

private let writeCallback: pgbak_curl_data_callback = { buffer, size, count, context in
    let transfer = state(context)
    let bytes = UnsafeRawBufferPointer(start: buffer, count: size * count)
    if let sink = transfer.sink, (200..<300).contains(transfer.status) {
        do {
            try sink(bytes)
        } catch {
            transfer.sinkError = error
            return 0  // ends the transfer with CURLE_WRITE_ERROR
        }
    } else {
        transfer.collected.append(contentsOf: bytes)
    }
    return size * count
}

private let readCallback: pgbak_curl_data_callback = { buffer, size, count, context in
    let transfer = state(context)
    guard let body = transfer.body, let buffer else { return 0 }
    let length = min(size * count, body.count - transfer.sent)
    if length > 0 {
        UnsafeMutableRawPointer(buffer).copyMemory(from: body.baseAddress! + transfer.sent, byteCount: length)
        transfer.sent += length
    }
    return length
}

private let seekCallback: pgbak_curl_seek_callback = { context, offset, origin in
    let transfer = state(context)
    guard origin == SEEK_SET, offset >= 0, offset <= transfer.body?.count ?? 0 else { return 2 }  // CANTSEEK
    transfer.sent = Int(offset)
    return 0
}
