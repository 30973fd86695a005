import Foundation
import Testing

@testable import PgbakKit

/// The threads that create and write materialized files while the caller decompresses.
@Suite struct FileWriterPoolTests {
    /// Bytes that differ by file and position, so a chunk written to the wrong file or out of order shows.
    static func content(file: Int, size: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        var start = file * 4_099 % pattern.count
        while bytes.count < size {
            let end = min(pattern.count, start + size - bytes.count)
            bytes.append(contentsOf: pattern[start..<end])
            start = 0
        }
        return bytes
    }

    static let pattern: [UInt8] = (0..<(1 << 20) + 17).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 11) }

    @Test func everyFileHoldsExactlyWhatWasWrittenToIt() throws {
        let dir = FollowingHasherTests.scratch()
        let pool = FileWriterPool(workers: 3)
        // One large file among many small ones, written in uneven chunks, as a data directory's tar brings them.
        // Large ones (written direct) with and without a partial last block, and one just below the threshold.
        let large = [12 << 20, (8 << 20) + 4_097, 9 << 20, (8 << 20) - 1]
        let sizes = large + (1...200).map { $0 * 997 % 70_000 } + [0, 3 << 20]
        for (i, size) in sizes.enumerated() {
            try pool.create(path: "\(dir)/f\(i)", mode: 0o600, size: Int64(size))
            let bytes = Self.content(file: i, size: size)
            var offset = 0
            var step = 1 + i % 5
            while offset < bytes.count {
                let end = min(bytes.count, offset + step * 65_536 + 17)
                try bytes[offset..<end].withUnsafeBytes { try pool.write($0) }
                offset = end
                step = step % 7 + 1
            }
            try pool.endFile()
        }
        try pool.finish()
        for (i, size) in sizes.enumerated() {
            let written = try #require(FileManager.default.contents(atPath: "\(dir)/f\(i)"))
            #expect(written.count == size, "f\(i)")
            #expect(written == Data(Self.content(file: i, size: size)), "f\(i)")
        }
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func aFileThatCannotBeCreatedFailsTheRunWithItsPath() throws {
        let dir = FollowingHasherTests.scratch()
        try #require(FileManager.default.createFile(atPath: dir + "/taken", contents: Data([1])))
        let pool = FileWriterPool(workers: 2)
        var failure: (any Error)?
        do {
            try pool.create(path: dir + "/taken", mode: 0o600, size: 64 << 20)
            for _ in 0..<64 { try [UInt8](repeating: 9, count: 1 << 20).withUnsafeBytes { try pool.write($0) } }
            try pool.endFile()
        } catch {
            failure = error
        }
        do { try pool.finish() } catch { failure = failure ?? error }
        let problem = try #require(failure as? RestoreError).problem
        #expect(problem.contains("cannot create \(dir)/taken"))
        // The file that was there is left as it was.
        #expect(FileManager.default.contents(atPath: dir + "/taken") == Data([1]))
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// A large restored file goes to disk around the page cache, all but its partial last block; a small one is
    /// written through the page cache and stays there.
    @Test func aLargeFileBypassesThePageCacheASmallOneStays() throws {
        let dir = try WriteBehindTests.diskScratch("direct")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sizes = ["large": (20 << 20) + 4_097, "small": 1 << 20]
        let pool = FileWriterPool(workers: 2)
        for (name, size) in sizes.sorted(by: { $0.key < $1.key }) {
            try pool.create(path: "\(dir)/\(name)", mode: 0o600, size: Int64(size))
            try Self.content(file: size, size: size).withUnsafeBytes { try pool.write($0) }
            try pool.endFile()
        }
        try pool.finish()

        #expect(try WriteBehindTests.residentPages(dir + "/large") <= 2)
        #expect(try WriteBehindTests.residentPages(dir + "/small") == 256)
        for (name, size) in sizes {
            #expect(
                FileManager.default.contents(atPath: "\(dir)/\(name)") == Data(Self.content(file: size, size: size)))
        }
    }
}
