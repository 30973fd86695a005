import Foundation
import Testing

@testable import PgbakKit

/// The tars compressed while pg_basebackup ends: used only while the tar is the file that was compressed.
@Suite struct ClosedTarCompressorTests {
    static func write(_ bytes: [UInt8], to path: String) throws {
        try #require(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
    }

    @Test func aTarCompressedAtTheSignalDecompressesToItsBytes() async throws {
        let staging = FollowingHasherTests.scratch()
        let dir = staging + "/physical"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let content = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 13) }
        try Self.write(content, to: dir + "/pg_wal.tar")
        try Self.write([1, 2, 3], to: dir + "/base.tar.zst")
        let compressor = ClosedTarCompressor(
            staging: StagingArea(directory: staging), relativeDirectory: "physical", level: 3, threads: 2)
        compressor.start()
        compressor.start()  // pg_basebackup says it once; a second call changes nothing
        await compressor.finish()

        let compressed = compressor.compressed()
        #expect(compressed.keys.sorted() == ["pg_wal.tar"], "only *.tar is compressed")
        let record = try #require(compressed["pg_wal.tar"])
        #expect(record.path == "physical/pg_wal.tar.zst")
        #expect(record == (try FileDigest.record(path: dir + "/pg_wal.tar.zst", relativePath: record.path)))
        var restored = [UInt8]()
        try ZstdReader.decompress(path: dir + "/pg_wal.tar.zst", expected: record.checksum) {
            restored.append(contentsOf: $0)
        }
        #expect(restored == content)
        #expect(!FileManager.default.fileExists(atPath: dir + "/base.tar.zst.zst"))
    }

    @Test func aTarChangedAfterwardsOrNeverSignalledIsLeftToTheCaller() async throws {
        let staging = FollowingHasherTests.scratch()
        let dir = staging + "/physical"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Self.write([UInt8](repeating: 0, count: 100_000), to: dir + "/pg_wal.tar")
        let never = ClosedTarCompressor(
            staging: StagingArea(directory: staging), relativeDirectory: "physical", level: 3, threads: 0)
        await never.finish()
        #expect(never.compressed().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: dir + "/pg_wal.tar.zst"))

        let compressor = ClosedTarCompressor(
            staging: StagingArea(directory: staging), relativeDirectory: "physical", level: 3, threads: 0)
        compressor.start()
        await compressor.finish()
        #expect(compressor.compressed()["pg_wal.tar"] != nil)
        let handle = try #require(FileHandle(forWritingAtPath: dir + "/pg_wal.tar"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([9]))
        try handle.close()
        #expect(compressor.compressed().isEmpty, "the tar grew after it was compressed")
    }
}
