import Foundation
import Testing

@testable import PgbakKit

/// The hand-over of a backup written beside a member's data directory to the replica method.
@Suite struct PreparedSeedTests {
    /// A seed as `restore --node` leaves it: one file in the seed directory and the marker naming `backupID`.
    static func writtenSeed(_ seed: PreparedSeed, backupID: String) throws {
        try FileManager.default.createDirectory(atPath: seed.path, withIntermediateDirectories: true)
        try #require(FileManager.default.createFile(atPath: seed.path + "/PG_VERSION", contents: Data("15\n".utf8)))
        let record = PreparedSeed.Record(backupID: backupID, files: 1, bytes: 3)
        try PgbakJSON.encoder().encode(record).write(to: URL(fileURLWithPath: seed.donePath))
    }

    @Test func aCompleteSeedOfTheRequestedBackupIsRenamedIntoTheRemovedDataDirectory() throws {
        let seed = PreparedSeed(dataDirectory: FollowingHasherTests.scratch() + "/node2")
        #expect(seed.path.hasSuffix("/.pgbak-seed.node2"))
        try Self.writtenSeed(seed, backupID: "20261130T063236Z")
        let adopted = try #require(try seed.adopt(backupID: "20261130T063236Z"))
        #expect(adopted.files == 1 && adopted.bytes == 3)
        #expect(FileManager.default.contents(atPath: seed.dataDirectory + "/PG_VERSION") == Data("15\n".utf8))
        #expect(!FileManager.default.fileExists(atPath: seed.path))
        #expect(!FileManager.default.fileExists(atPath: seed.donePath))
    }

    @Test func aSeedOfAnotherBackupOrWithoutMarkerIsRemovedAndNotUsed() throws {
        let seed = PreparedSeed(dataDirectory: FollowingHasherTests.scratch() + "/node3")
        try Self.writtenSeed(seed, backupID: "20261130T000000Z")
        #expect(try seed.adopt(backupID: "20261130T063236Z") == nil)
        #expect(!FileManager.default.fileExists(atPath: seed.path))
        #expect(!FileManager.default.fileExists(atPath: seed.dataDirectory))

        try Self.writtenSeed(seed, backupID: "20261130T063236Z")
        unlink(seed.donePath)  // the writer stopped before the copy was complete
        #expect(try seed.adopt(backupID: "20261130T063236Z") == nil)
        #expect(!FileManager.default.fileExists(atPath: seed.path))
    }

    @Test func theReplicaMethodWaitsForTheWriter() async throws {
        let seed = PreparedSeed(dataDirectory: FollowingHasherTests.scratch() + "/node1")
        let writer = try seed.lock()
        let adopting = Task.detached { try seed.adopt(backupID: "20261130T063236Z") }
        // Written while the replica method is already waiting: it must see the complete seed, not an empty one.
        try await Task.sleep(for: .milliseconds(200))
        try Self.writtenSeed(seed, backupID: "20261130T063236Z")
        writer.release()
        #expect(try await adopting.value != nil)
        #expect(FileManager.default.fileExists(atPath: seed.dataDirectory + "/PG_VERSION"))
    }
}
