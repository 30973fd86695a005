import Foundation
import Testing

@testable import PgbakKit

@Suite struct SealedFileTests {
    static let key = try! RepositoryKey(bytes: Data((0..<32).map { UInt8($0) }))
    static let otherKey = try! RepositoryKey(bytes: Data((0..<32).map { UInt8(255 - $0) }))

    static func bytes(_ count: Int) -> Data {
        Data((0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) })
    }

    @Test(arguments: [0, 1, 4095, 4096, 4097, 4096 * 3 + 1234])
    func aFileComesBackWhole(size: Int) throws {
        let plain = Self.bytes(size)
        let sealed = try SealedFile.seal(plain, key: Self.key, chunkSize: 4096)
        let chunks = max(1, (size + 4095) / 4096)
        #expect(sealed.count == SealedFile.headerSize + size + chunks * SealedFile.tagSize)
        #expect(try SealedFile.open(sealed, key: Self.key, file: "f") == plain)
        let parameters = try SealedFile(key: Self.key, header: sealed.prefix(SealedFile.headerSize), file: "f")
        #expect(parameters.chunkSize == 4096)
        #expect(parameters.plaintextSize(ofEncrypted: Int64(sealed.count)) == Int64(size))
        // Not the plaintext, and not the same twice: each file has a salt of its own.
        if size >= 64 {
            #expect(sealed.range(of: plain.prefix(64)) == nil)
            #expect(try SealedFile.seal(plain, key: Self.key, chunkSize: 4096) != sealed)
        }
    }

    @Test func aFlippedByteIsCaughtInItsChunk() throws {
        var sealed = try SealedFile.seal(Self.bytes(4096 * 3), key: Self.key, chunkSize: 4096)
        let inSecond = SealedFile.headerSize + 4096 + SealedFile.tagSize + 100
        sealed[inSecond] ^= 0x01
        #expect {
            try SealedFile.open(sealed, key: Self.key, file: "base.tar.zst")
        } throws: { error in
            "\(error.localizedDescription)".contains("base.tar.zst fails authentication in chunk 1")
        }
    }

    @Test func aWrongKeyATruncationAReorderAndAChangedHeaderAreRefused() throws {
        let plain = Self.bytes(4096 * 2 + 10)
        let sealed = try SealedFile.seal(plain, key: Self.key, chunkSize: 4096)
        #expect {
            try SealedFile.open(sealed, key: Self.otherKey, file: "f")
        } throws: { "\($0.localizedDescription)".contains("wrong key") }
        // The last chunk dropped: the one before it was not sealed as the last.
        let whole = 4096 + SealedFile.tagSize
        let truncated = sealed.prefix(SealedFile.headerSize + 2 * whole)
        #expect(throws: EncryptionError.self) { try SealedFile.open(truncated, key: Self.key, file: "f") }
        // Chunks 0 and 1 swapped.
        let h = SealedFile.headerSize
        var swapped = sealed.prefix(h)
        swapped += sealed[(h + whole)..<(h + 2 * whole)] + sealed[h..<(h + whole)] + sealed[(h + 2 * whole)...]
        #expect(throws: EncryptionError.self) { try SealedFile.open(swapped, key: Self.key, file: "f") }
        // Another chunk size written into the header.
        var header = sealed
        header[14] ^= 0x10
        #expect(throws: EncryptionError.self) { try SealedFile.open(header, key: Self.key, file: "f") }
        #expect {
            try SealedFile.open(Data("plain text, not encrypted at all, long enough".utf8), key: Self.key, file: "g")
        } throws: { "\($0.localizedDescription)".contains("not encrypted by pgbak") }
    }

    @Test func aRangeIsReadFromItsOwnChunks() throws {
        let plain = Self.bytes(4096 * 4 + 7)
        let sealed = try SealedFile.seal(plain, key: Self.key, chunkSize: 4096)
        let file = try SealedFile(key: Self.key, header: sealed.prefix(SealedFile.headerSize), file: "f")
        let wanted: Range<Int64> = 5000..<9000
        let plan = file.chunks(covering: wanted)
        #expect(plan.first == 1 && plan.last == 2)
        let whole = 4096 + SealedFile.tagSize
        var out = Data()
        for index in plan.first...plan.last {
            let start = Int(file.offset(ofChunk: index))
            out += try file.open(sealed[start..<(start + whole)], index: index, last: false, file: "f")
        }
        let from = Int(wanted.lowerBound) - Int(plan.first) * 4096
        #expect(out[from..<(from + wanted.count)] == plain[5000..<9000])
        #expect(Int(plan.bytes.upperBound - plan.bytes.lowerBound) == 2 * whole)
    }

    @Test func theKeyFileHoldsHexOrBase64AndIsNeverPrinted() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pgbak-key-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let raw = Data((0..<32).map { UInt8($0) })
        let hex = raw.map { String(format: "%02x", $0) }.joined()
        try (hex + "\n").write(toFile: dir + "/hex", atomically: true, encoding: .utf8)
        try raw.base64EncodedString().write(toFile: dir + "/b64", atomically: true, encoding: .utf8)
        try "too short".write(toFile: dir + "/bad", atomically: true, encoding: .utf8)
        let sealed = try SealedFile.seal(Data("x".utf8), key: try RepositoryKey(file: dir + "/hex"))
        #expect(try SealedFile.open(sealed, key: try RepositoryKey(file: dir + "/b64"), file: "f") == Data("x".utf8))
        #expect(try SealedFile.open(sealed, key: Self.key, file: "f") == Data("x".utf8))
        #expect {
            try RepositoryKey(file: dir + "/bad")
        } throws: { "\($0.localizedDescription)".contains("64 hex digits or base64") }
        #expect(throws: EncryptionError.self) { try RepositoryKey(file: dir + "/missing") }
        #expect("\(Self.key)" == "RepositoryKey(redacted)")
        #expect(!"\(Self.key)".contains(hex.prefix(8)))
    }
}
