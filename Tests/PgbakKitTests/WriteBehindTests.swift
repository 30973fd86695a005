import Foundation
import Testing

@testable import PgbakKit

@Suite struct WriteBehindTests {
    /// Pages of `path` in the page cache, counted with mincore over a mapping of the file.
    static func residentPages(_ path: String) throws -> Int {
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        var st = stat()
        try #require(fstat(fd, &st) == 0)
        let size = Int(st.st_size)
        let map = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0)
        try #require(map != MAP_FAILED)
        defer { munmap(map, size) }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var vector = [UInt8](repeating: 0, count: (size + page - 1) / page)
        try #require(mincore(map, size, &vector) == 0)
        return vector.filter { $0 & 1 == 1 }.count
    }

    /// A new directory on the package's disk (under .build) rather than /tmp, which may be a tmpfs: a tmpfs keeps
    /// every page it holds in memory, so page-cache tests would fail there.
    static func diskScratch(_ name: String) throws -> String {
        let base = FileManager.default.fileExists(atPath: ".build") ? ".build" : NSTemporaryDirectory()
        let dir = "\(base)/pgbak-\(name)-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// A large backup file leaves the page cache once written and fsynced; a small one (a manifest, a record) stays.
    @Test func aLargeFileLeavesThePageCacheASmallOneStays() throws {
        let dir = try Self.diskScratch("wb")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let chunk = [UInt8](repeating: 0x5a, count: 1 << 20)
        let large = try FileSink(path: dir + "/large")
        for _ in 0..<24 { try chunk.withUnsafeBytes { try large.write($0) } }
        let record = try large.finish(relativePath: "large")
        #expect(record.bytes == 24 << 20)
        let small = try FileSink(path: dir + "/small")
        try chunk.withUnsafeBytes { try small.write($0) }
        _ = try small.finish(relativePath: "small")

        #expect(try Self.residentPages(dir + "/large") == 0)
        #expect(try Self.residentPages(dir + "/small") == 256)
        // What was dropped is on disk: the checksum of the file read back is the one recorded while writing.
        #expect(try FileDigest.record(path: dir + "/large", relativePath: "large") == record)
    }
}
