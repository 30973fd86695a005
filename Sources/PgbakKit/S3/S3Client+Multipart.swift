import Foundation

extension S3Client {
    /// Starts a multipart upload of `key` and returns its upload id.
    public func startMultipart(_ key: String) throws -> String {
        let response = try send("POST", key, query: [("uploads", "")])
        guard (200..<300).contains(response.status) else { throw failure(response, "POST uploads", key) }
        guard let id = S3XML.value("UploadId", in: String(decoding: response.body, as: UTF8.self)[...]) else {
            throw S3Error(problem: "POST uploads \(describe(key)): the answer names no UploadId")
        }
        return id
    }

    /// Sends part `number` (1-based) of an upload; returns its ETag for `completeMultipart`.
    public func uploadPart(_ key: String, uploadID: String, number: Int, body: UnsafeRawBufferPointer) throws -> String
    {
        let response = try send(
            "PUT", key, query: [("partNumber", String(number)), ("uploadId", uploadID)],
            headers: Self.bodyHeaders(body), body: body)
        guard (200..<300).contains(response.status) else { throw failure(response, "PUT part \(number)", key) }
        return Self.etag(response) ?? Self.md5Hex(body)
    }

    /// Joins the parts (number → ETag, in order) into the object. With `ifNoneMatch`, only when `key` is free.
    public func completeMultipart(_ key: String, uploadID: String, parts: [String], ifNoneMatch: Bool = false) throws
        -> PutOutcome
    {
        var document = "<CompleteMultipartUpload>"
        for (index, etag) in parts.enumerated() {
            document += "<Part><PartNumber>\(index + 1)</PartNumber><ETag>\"\(S3XML.escape(etag))\"</ETag></Part>"
        }
        document += "</CompleteMultipartUpload>"
        let body = Data(document.utf8)
        var headers = [("Content-Type", "application/xml")]
        if ifNoneMatch { headers.append(("If-None-Match", "*")) }
        let response = try body.withUnsafeBytes { bytes in
            return try send(
                "POST", key, query: [("uploadId", uploadID)], headers: Self.bodyHeaders(bytes) + headers, body: bytes)
        }
        if response.status == 412 { return .preconditionFailed }
        // A 200 can still carry an error document when the store failed while joining the parts.
        let text = String(decoding: response.body, as: UTF8.self)[...]
        guard (200..<300).contains(response.status), S3XML.value("Code", in: text) == nil else {
            throw failure(response, "POST complete", key)
        }
        return .stored(etag: (S3XML.value("ETag", in: text) ?? "").trimmingCharacters(in: ["\""]))
    }

    /// Gives up an upload: the store drops its parts. An upload already gone is no error.
    public func abortMultipart(_ key: String, uploadID: String) throws {
        let response = try send("DELETE", key, query: [("uploadId", uploadID)])
        guard (200..<300).contains(response.status) || response.status == 404 else {
            throw failure(response, "DELETE upload", key)
        }
    }

    /// Multipart uploads started below `prefix` and neither completed nor aborted.
    public func pendingUploads(prefix: String) throws -> [S3PendingUpload] {
        var found: [S3PendingUpload] = []
        var keyMarker: String?
        var idMarker: String?
        let strip = settings.prefix.isEmpty ? 0 : settings.prefix.count + 1
        repeat {
            var query: [(String, String)] = []
            if let keyMarker { query.append(("key-marker", keyMarker)) }
            query.append(("prefix", objectKey(prefix)))
            if let idMarker { query.append(("upload-id-marker", idMarker)) }
            query.insert(("uploads", ""), at: query.count)
            let response = try send("GET", nil, query: query.sorted { $0.0 < $1.0 })
            guard (200..<300).contains(response.status) else { throw failure(response, "GET uploads", prefix) }
            let text = String(decoding: response.body, as: UTF8.self)[...]
            for block in S3XML.blocks("Upload", in: text) {
                guard let key = S3XML.value("Key", in: block), key.count > strip,
                    let id = S3XML.value("UploadId", in: block)
                else { continue }
                found.append(
                    S3PendingUpload(
                        key: String(key.dropFirst(strip)), uploadID: id,
                        initiated: S3XML.value("Initiated", in: block).flatMap(Self.isoDate)
                            ?? Date(timeIntervalSince1970: 0)))
            }
            let truncated = S3XML.value("IsTruncated", in: text) == "true"
            keyMarker = truncated ? S3XML.value("NextKeyMarker", in: text) : nil
            idMarker = truncated ? S3XML.value("NextUploadIdMarker", in: text) : nil
        } while keyMarker != nil
        return found
    }
}
