import Foundation

/// A failure talking to the object store, with what to do about it. Never carries a key.
public struct S3Error: LocalizedError, Sendable {
    /// S3's error code (`NoSuchBucket`, `SignatureDoesNotMatch`, ...) when the store answered with one.
    public var code: String?
    public var status: Int?
    public var problem: String

    public init(code: String? = nil, status: Int? = nil, problem: String) {
        self.code = code
        self.status = status
        self.problem = problem
    }

    public var errorDescription: String? { problem }

    /// The error for a store's error answer to `what` (e.g. "PUT s3://b/p/x"), naming the fix for the usual causes.
    static func answer(_ response: HTTPResponse, to what: String, settings: S3Settings) -> S3Error {
        let text = String(decoding: response.body, as: UTF8.self)[...]
        let code = S3XML.value("Code", in: text)
        let message = S3XML.value("Message", in: text) ?? ""
        let hint: String
        switch code {
        case "NoSuchBucket":
            hint =
                "bucket '\(settings.bucket)' does not exist at \(settings.endpoint): create it, or fix repository.s3.bucket"
        case "InvalidAccessKeyId":
            hint = "the store does not know the access key: check repository.s3.access_key_file/_env"
        case "SignatureDoesNotMatch":
            hint =
                "the signature does not match: the secret key is wrong (repository.s3.secret_key_file/_env)"
                + " or repository.s3.region differs from the store's"
        case "RequestTimeTooSkewed":
            hint = "this host's clock differs from the store's by more than 15 minutes: fix the time (NTP)"
        case "AccessDenied":
            hint = "access denied: the key needs read, write, list and delete rights on the bucket and prefix"
        default:
            hint = "HTTP \(response.status)" + (code.map { " \($0)" } ?? "") + (message.isEmpty ? "" : ": \(message)")
        }
        return S3Error(code: code, status: response.status, problem: "\(what): \(hint)")
    }
}
