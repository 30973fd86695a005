import Foundation
import Testing

@testable import PgbakKit

/// The hasher that follows a file while another writer appends to it.
@Suite struct FollowingHasherTests {
    static func scratch() -> String {
        let dir = NSTemporaryDirectory() + "pgbak-follow-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Appends `chunks` chunks of 300 KiB of varying bytes to `path`, pausing between them.
    static func appendSlowly(_ path: String, chunks: Int) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        for i in 0..<chunks {
            let chunk = [UInt8]((0..<300 * 1024).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) })
            _ = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            usleep(3_000)
        }
        close(fd)
    }

    @Test func aFileWrittenWhileFollowedHashesLikeAFileReadAfterwards() async throws {
        let path = Self.scratch() + "/base.tar.zst"
        let hasher = FollowingHasher(path: path, relativePath: "physical/base.tar.zst")
        usleep(20_000)  // the hasher waits for the file to appear
        Self.appendSlowly(path, chunks: 40)
        let followed = try #require(await hasher.finish())
        let reread = try FileDigest.record(path: path, relativePath: "physical/base.tar.zst")
        #expect(followed == reread)
        #expect(followed.bytes == 40 * 300 * 1024)
    }

    @Test func aFileThatNeverAppearsOrIsReplacedGivesNoRecord() async throws {
        let dir = Self.scratch()
        let missing = FollowingHasher(path: dir + "/never", relativePath: "x")
        #expect(await missing.finish() == nil)

        let path = dir + "/replaced"
        Self.appendSlowly(path, chunks: 2)
        let hasher = FollowingHasher(path: path, relativePath: "x")
        usleep(50_000)
        unlink(path)
        Self.appendSlowly(path, chunks: 3)
        #expect(await hasher.finish() == nil, "a replaced file must be hashed again by the caller")
    }
}
