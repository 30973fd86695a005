import Foundation
import PgbakKit
import Testing

/// The S3 client against the real multi-server SeaweedFS: objects, conditions, listing, multipart, errors.
@Suite(.enabled(if: TestStore.enabled), .serialized)
struct S3ClientIntegrationTests {
    static func randomData(_ count: Int) -> Data {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    @Test func objectsRoundTripWithConditionsAndRanges() throws {
        let client = try S3Client(settings: TestStore.settings())
        let data = Self.randomData(300_000)
        #expect(try client.get("a/one") == nil)
        guard case .stored(let etag) = try client.put("a/one", data: data, ifNoneMatch: true) else {
            Issue.record("the first conditional create was refused")
            return
        }
        #expect(try client.put("a/one", data: Data("other".utf8), ifNoneMatch: true) == .preconditionFailed)
        #expect(try client.get("a/one") == data)
        #expect(try client.get("a/one", range: 1000..<1100) == data[1000..<1100])
        var streamed = Data()
        #expect(try client.get("a/one", range: 5..<250_000) { streamed.append(contentsOf: $0) })
        #expect(streamed == data[5..<250_000])

        #expect(try client.put("a/one", data: Data("x".utf8), ifMatch: "0123") == .preconditionFailed)
        #expect(try client.get("a/one") == data)
        #expect(try client.put("a/one", data: Data("x".utf8), ifMatch: etag) != .preconditionFailed)
        #expect(try client.get("a/one") == Data("x".utf8))
        let head = try #require(try client.head("a/one"))
        #expect(head.size == 1)
        #expect(abs(head.modified.timeIntervalSinceNow) < 120)

        try client.delete("a/one")
        try client.delete("a/one")
        #expect(try client.head("a/one") == nil)
    }

    @Test func listingPagesThroughMoreThanAThousandObjects() throws {
        let client = try S3Client(settings: TestStore.settings())
        let names = (0..<1_050).map { String(format: "many/%05d", $0) }
        DispatchQueue.concurrentPerform(iterations: 10) { slice in
            for name in names[(slice * 105)..<((slice + 1) * 105)] { _ = try? client.put(name, data: Data(name.utf8)) }
        }
        _ = try client.put("many/deeper/x", data: Data())
        let all = try client.list(prefix: "many/")
        #expect(Set(all.objects.map(\.key)) == Set(names + ["many/deeper/x"]))
        #expect(all.objects.first { $0.key == "many/00007" }?.size == 10)
        let folder = try client.list(prefix: "many/", delimiter: "/")
        #expect(folder.objects.count == 1_050)
        #expect(folder.folders == ["many/deeper/"])
    }

    @Test func multipartUploadJoinsPartsAndAbortedOnesAreListedThenGone() throws {
        let client = try S3Client(settings: TestStore.settings())
        let parts = [Self.randomData(5 << 20), Self.randomData(5 << 20), Self.randomData(123_456)]
        let id = try client.startMultipart("big")
        var etags: [String] = []
        for (index, part) in parts.enumerated() {
            etags.append(
                try part.withUnsafeBytes { try client.uploadPart("big", uploadID: id, number: index + 1, body: $0) })
        }
        #expect(try client.pendingUploads(prefix: "").map(\.uploadID) == [id])
        #expect(
            try client.completeMultipart("big", uploadID: id, parts: etags, ifNoneMatch: true) != .preconditionFailed)
        let whole = parts.reduce(Data(), +)
        #expect(try client.get("big") == whole)
        #expect(
            try client.get("big", range: Int64(5 << 20) - 10..<Int64(5 << 20) + 10)
                == whole[(5 << 20) - 10..<(5 << 20) + 10])

        let orphan = try client.startMultipart("orphan")
        _ = try parts[2].withUnsafeBytes { try client.uploadPart("orphan", uploadID: orphan, number: 1, body: $0) }
        #expect(try client.pendingUploads(prefix: "").map(\.key) == ["orphan"])
        try client.abortMultipart("orphan", uploadID: orphan)
        #expect(try client.pendingUploads(prefix: "").isEmpty)
        #expect(try client.head("orphan") == nil)
    }

    @Test func wrongSecretMissingBucketAndDeadEndpointNameTheFix() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("s3-keys-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "not-the-secret\n".write(toFile: dir + "/secret", atomically: true, encoding: .utf8)
        var wrong = TestStore.settings()
        wrong.secretKey = .file(dir + "/secret")
        let error = #expect(throws: S3Error.self) { try S3Client(settings: wrong).get("x") }
        #expect(error?.code == "SignatureDoesNotMatch")
        #expect(error?.problem.contains("secret key is wrong") == true)
        #expect(error?.problem.contains("not-the-secret") == false)

        let missing = #expect(throws: S3Error.self) {
            try S3Client(settings: TestStore.settings(bucket: "no-such-bucket-here")).checkBucket()
        }
        #expect(throws: S3Error.self) {
            try S3Client(settings: TestStore.settings(bucket: "no-such-bucket-here")).get("x")
        }
        try S3Client(settings: TestStore.settings()).checkBucket()
        #expect(missing?.problem.contains("bucket 'no-such-bucket-here' does not exist") == true)

        var dead = TestStore.settings()
        dead.endpoint = "http://127.0.0.1:1"
        let refused = #expect(throws: S3Error.self) { try S3Client(settings: dead).head("x") }
        #expect(refused?.problem.contains("127.0.0.1:1") == true)

        var unset = TestStore.settings()
        unset.accessKey = .environment("PGBAK_TEST_NO_SUCH_VARIABLE")
        let noKey = #expect(throws: S3Error.self) { try S3Client(settings: unset) }
        #expect(noKey?.problem.contains("PGBAK_TEST_NO_SUCH_VARIABLE") == true)
    }
}
