import Foundation
import Testing

@testable import PgbakKit

/// Writing sealed files as streams (`ChunkSealer`, `FileSink` with a key) and reading them back (`SealedReading`).
@Suite struct SealedStreamTests {
    static let key = SealedFileTests.key
    static let chunk = SealedFile.defaultChunkSize

    /// Bytes handed out in reads of at most `step` bytes, as a network source does.
    final class MemorySource: ByteSource {
        let data: Data
        let step: Int
        var offset = 0
        init(_ data: Data, step: Int) {
            self.data = data
            self.step = step
        }
        func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            let n = min(buffer.count, step, data.count - offset)
            data.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + n])) }
            offset += n
            return n
        }
    }

    static func sealStreaming(_ plain: Data, pieces: Int) throws -> Data {
        var sealer = ChunkSealer(key: key)
        var out = Data()
        var start = 0
        repeat {
            let end = min(start + pieces, plain.count)
            try plain[start..<end].withUnsafeBytes { piece in try sealer.write(piece) { out.append(contentsOf: $0) } }
            start = end
        } while start < plain.count
        try sealer.finish { out.append(contentsOf: $0) }
        return out
    }

    static func readAll(_ source: any ByteSource) throws -> Data {
        var out = Data()
        try source.forEachChunk { out.append(contentsOf: $0) }
        return out
    }

    @Test(arguments: [0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk, 2 * chunk + 777])
    func aStreamSealedInPiecesReadsBackWhole(size: Int) throws {
        let plain = SealedFileTests.bytes(size)
        let sealed = try Self.sealStreaming(plain, pieces: 300_001)
        #expect(Int64(sealed.count) == ChunkSealer.sealedSize(ofPlaintext: Int64(size)))
        #expect(try SealedFile.open(sealed, key: Self.key, file: "f") == plain)
        let source = try SealedReading.open(MemorySource(sealed, step: 65_536 + 3), key: Self.key, name: "f")
        #expect(try Self.readAll(source) == plain)
    }

    @Test func plaintextPassesThroughAndASealedFileWithoutKeyIsRefused() throws {
        let plain = SealedFileTests.bytes(100_000)
        let source = try SealedReading.open(MemorySource(plain, step: 10), key: Self.key, name: "f")
        #expect(try Self.readAll(source) == plain)
        #expect(try SealedReading.open(Data("tiny".utf8), key: nil, name: "f") == Data("tiny".utf8))
        let sealed = try Self.sealStreaming(plain, pieces: 4096)
        #expect {
            try SealedReading.open(MemorySource(sealed, step: 4096), key: nil, name: "dumps/1.dump.zst")
        } throws: { "\($0.localizedDescription)".contains("dumps/1.dump.zst is encrypted and no key is configured") }
    }

    @Test func aFlippedByteOrALostLastChunkFailsTheStream() throws {
        let plain = SealedFileTests.bytes(2 * Self.chunk + 10)
        var sealed = try Self.sealStreaming(plain, pieces: 1 << 16)
        let lastChunk = SealedFile.headerSize + 2 * (Self.chunk + SealedFile.tagSize)
        let truncated = sealed.prefix(lastChunk)
        #expect {
            try Self.readAll(try SealedReading.open(MemorySource(truncated, step: 1 << 20), key: Self.key, name: "f"))
        } throws: { "\($0.localizedDescription)".contains("fails authentication in chunk 1") }
        sealed[SealedFile.headerSize + 5] ^= 0x80
        #expect {
            try Self.readAll(try SealedReading.open(MemorySource(sealed, step: 1 << 20), key: Self.key, name: "g"))
        } throws: { "\($0.localizedDescription)".contains("g fails authentication in chunk 0") }
    }

    @Test func aSinkWithAKeyStoresTheSealedFileAndRecordsThePlaintext() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pgbak-seal-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let plain = SealedFileTests.bytes(3 * Self.chunk / 2)
        let sink = try FileSink(path: dir + "/f", key: Self.key)
        try plain.withUnsafeBytes { try sink.write($0) }
        let record = try sink.finish(relativePath: "f")
        let plainSink = try FileSink(path: dir + "/p")
        try plain.withUnsafeBytes { try plainSink.write($0) }
        #expect(
            record
                == FileRecord(
                    path: "f", bytes: Int64(plain.count), checksum: try plainSink.finish(relativePath: "f").checksum))
        let stored = try #require(FileManager.default.contents(atPath: dir + "/f"))
        #expect(stored.count == Int(ChunkSealer.sealedSize(ofPlaintext: Int64(plain.count))))
        #expect(stored.range(of: plain.prefix(64)) == nil)
        let files = BackupFiles(directory: dir, key: Self.key)
        #expect(try files.contents("f") == plain)
        #expect(try Self.readAll(try files.open("f")) == plain)
        // The same bytes, the key in the manifest's check: another key is refused by name.
        let encryption = Manifest.Encryption(key: Self.key)
        #expect(encryption.storedSize(ofPlaintext: Int64(plain.count)) == Int64(stored.count))
        try encryption.check(Self.key, backup: "B")
        #expect {
            try encryption.check(SealedFileTests.otherKey, backup: "B")
        } throws: { "\($0.localizedDescription)".contains("backup B was encrypted with another key") }
        #expect {
            try encryption.check(nil, backup: "B")
        } throws: { "\($0.localizedDescription)".contains("no key is configured") }
    }
}
