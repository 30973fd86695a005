import CChecksum
import Crypto
import Foundation
import Testing

@testable import PgbakKit

@Suite struct VerifyLogicTests {
    @Test func crc32cKnownVector() {
        let crc = Array("123456789".utf8).withUnsafeBytes {
            ~pgbak_crc32c_update(0xFFFF_FFFF, $0.baseAddress, $0.count)
        }
        #expect(crc == 0xE306_9283)
        // Chunking does not change the result.
        var split: UInt32 = 0xFFFF_FFFF
        for part in ["1234", "56789"] {
            split = Array(part.utf8).withUnsafeBytes { pgbak_crc32c_update(split, $0.baseAddress, $0.count) }
        }
        #expect(~split == crc)
    }

    /// CPUs without SSE 4.2 get the table code: it must agree with the crc32 instruction at every length and
    /// alignment, and ContentHasher must give the same hex whatever the chunks.
    @Test func crc32cPortableCodeAgreesWithTheInstruction() {
        var bytes = [UInt8](repeating: 0, count: 5000)
        var x: UInt32 = 12345
        for i in bytes.indices {
            x = x &* 1_103_515_245 &+ 12345
            bytes[i] = UInt8(truncatingIfNeeded: x >> 16)
        }
        for start in [0, 1, 3, 7] {
            for length in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 4993] {
                let slice = bytes[start..<start + length]
                let fast = slice.withUnsafeBytes { pgbak_crc32c_update(0xFFFF_FFFF, $0.baseAddress, $0.count) }
                let portable = slice.withUnsafeBytes {
                    pgbak_crc32c_update_portable(0xFFFF_FFFF, $0.baseAddress, $0.count)
                }
                #expect(fast == portable, "start \(start) length \(length)")
            }
        }
        let known = Array("123456789".utf8).withUnsafeBytes {
            ~pgbak_crc32c_update_portable(0xFFFF_FFFF, $0.baseAddress, $0.count)
        }
        #expect(known == 0xE306_9283)
        var whole = ContentHasher(.crc32c)
        bytes.withUnsafeBytes { whole.update($0) }
        var pieces = ContentHasher(.crc32c)
        for cut in stride(from: 0, to: bytes.count, by: 777) {
            bytes[cut..<min(cut + 777, bytes.count)].withUnsafeBytes { pieces.update($0) }
        }
        #expect(whole.finalize() == pieces.finalize())
        let fast = bytes.withUnsafeBytes { ~pgbak_crc32c_update(0xFFFF_FFFF, $0.baseAddress, $0.count) }
        #expect(whole.finalize().hex == String(format: "%08x", fast))
        var sha = ContentHasher(.sha256)
        Array("abc".utf8).withUnsafeBytes { sha.update($0) }
        #expect(sha.finalize().hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func manifestConsistencyNamesEachProblem() {
        let manifest = ManifestTests.sample()
        #expect(
            ManifestConsistency.check(manifest, actual: ["physical/base.tar.zst": 10]).filter {
                !$0.contains("backup_manifest") && !$0.contains("globals") && !$0.contains("dump is not listed")
            }.isEmpty)
        let problems = ManifestConsistency.check(manifest, actual: ["physical/base.tar.zst": 9, "extra": 1])
        #expect(problems.contains("physical/base.tar.zst: 9 bytes on disk, 10 in the manifest"))
        #expect(problems.contains("extra: present but not listed in the manifest"))
        #expect(
            ManifestConsistency.check(manifest, actual: [:]).contains(
                "physical/base.tar.zst: listed in the manifest but missing"))
    }

    @Test func anEncryptedManifestExpectsSealedSizesAndSurvivesEncoding() throws {
        var manifest = ManifestTests.sample()
        manifest.encryption = Manifest.Encryption(key: SealedFileTests.key)
        // 10 bytes of plaintext: the 48-byte header, one chunk with its 16-byte tag.
        #expect(manifest.storedSize(of: manifest.files[0]) == 74)
        let problems = ManifestConsistency.check(manifest, actual: ["physical/base.tar.zst": 10])
        #expect(problems.contains("physical/base.tar.zst: 10 bytes on disk, 74 expected (10 in the manifest, sealed)"))
        #expect(
            !ManifestConsistency.check(manifest, actual: ["physical/base.tar.zst": 74]).contains {
                $0.hasPrefix("physical/base.tar.zst")
            })
        let decoded = try Manifest.decode(try manifest.encoded(), source: "m")
        #expect(decoded.encryption == manifest.encryption)
        #expect(String(decoding: try manifest.encoded(), as: UTF8.self).contains("\"key_check\""))
        #expect(try Manifest.decode(try ManifestTests.sample().encoded(), source: "m").encryption == nil)
    }

    @Test func checkSaysWhetherTheKeyOpensTheNewestBackup() {
        var sealed = StoredBackup(id: "B", manifest: ManifestTests.sample())
        #expect(Preflight.encryptionItem(keyFile: nil, key: nil, newest: sealed) == nil)
        #expect(Preflight.encryptionItem(keyFile: "/k", key: SealedFileTests.key, newest: sealed)?.status == .ok)
        sealed.manifest.encryption = Manifest.Encryption(key: SealedFileTests.key)
        let none = Preflight.encryptionItem(keyFile: nil, key: nil, newest: sealed)
        #expect(none?.status == .fail && none?.detail.contains("key_file is not set") == true)
        #expect(Preflight.encryptionItem(keyFile: "/k", key: SealedFileTests.key, newest: sealed)?.status == .ok)
        let wrong = Preflight.encryptionItem(keyFile: "/k", key: SealedFileTests.otherKey, newest: sealed)
        #expect(wrong?.status == .fail && wrong?.detail.contains("another key") == true)
    }

    /// A ustar archive with one file, built by hand.
    static func tar(name: String, content: [UInt8]) -> [UInt8] {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int) { for (i, b) in text.utf8.enumerated() { header[offset + i] = b } }
        put(name, at: 0)
        put("0000600", at: 100)
        put(String(format: "%011o", content.count), at: 124)
        put("00000000000", at: 136)
        header[156] = UInt8(ascii: "0")
        put("ustar", at: 257)
        put("00", at: 263)
        put("        ", at: 148)
        let sum = header.reduce(0) { $0 + Int($1) }
        put(String(format: "%06o", sum), at: 148)
        header[154] = 0
        let padding = (512 - content.count % 512) % 512
        return header + content + [UInt8](repeating: 0, count: padding) + [UInt8](repeating: 0, count: 1024)
    }

    @Test func tarReaderInAnyChunking() throws {
        let content = Array((0..<1500).map { UInt8($0 % 251) })
        let archive = Self.tar(name: "base/1/1259", content: content)
        for chunk in [1, 7, 512, 100_000] {
            var names: [String] = []
            var data: [UInt8] = []
            var ends = 0
            let reader = TarReader(
                onMember: { names.append($0.name) }, onData: { data.append(contentsOf: $0) },
                onMemberEnd: { ends += 1 })
            for start in stride(from: 0, to: archive.count, by: chunk) {
                try archive[start..<min(start + chunk, archive.count)].withUnsafeBytes { try reader.feed($0) }
            }
            try reader.finish()
            #expect(names == ["base/1/1259"])
            #expect(data == content)
            #expect(ends == 1)
        }
        let truncated = TarReader(onMember: { _ in }, onData: { _ in }, onMemberEnd: {})
        try archive.prefix(700).withUnsafeBytes { try truncated.feed($0) }
        #expect(throws: TarError.self) { try truncated.finish() }
        var corrupt = archive
        corrupt[10] ^= 1
        let reader = TarReader(onMember: { _ in }, onData: { _ in }, onMemberEnd: {})
        #expect(throws: TarError.self) { try corrupt.withUnsafeBytes { try reader.feed($0) } }
    }

    static func pgManifest(checksum: String) -> Data {
        let body = """
            {"PostgreSQL-Backup-Manifest-Version": 1,
            "Files": [
            { "Path": "base/1/1259", "Size": 1500, "Last-Modified": "2026-11-29 22:00:00 GMT", "Checksum-Algorithm": "CRC32C", "Checksum": "\(checksum)" }
            ],
            "WAL-Ranges": [
            { "Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/2000100" }
            ],

            """
        let digest = SHA256.hash(data: Data(body.utf8)).map { String(format: "%02x", $0) }.joined()
        return Data((body + "\"Manifest-Checksum\": \"\(digest)\"}\n").utf8)
    }

    @Test func archiveMembersAreCheckedAgainstBackupManifest() throws {
        let content = Array((0..<1500).map { UInt8($0 % 251) })
        let crc = content.withUnsafeBytes { ~pgbak_crc32c_update(0xFFFF_FFFF, $0.baseAddress, $0.count) }
        let hex = withUnsafeBytes(of: crc.littleEndian) { $0.map { String(format: "%02x", $0) }.joined() }
        let good = try PostgresBackupManifest.parse(Self.pgManifest(checksum: hex))
        let checker = ArchiveChecker(manifest: good)
        try Self.tar(name: "base/1/1259", content: content).withUnsafeBytes { try checker.reader(prefix: "").feed($0) }
        #expect(checker.problems.isEmpty)
        #expect(checker.missing(prefixes: [""]).isEmpty)

        let other = ArchiveChecker(manifest: try PostgresBackupManifest.parse(Self.pgManifest(checksum: "00000000")))
        try Self.tar(name: "base/1/1259", content: content).withUnsafeBytes { try other.reader(prefix: "").feed($0) }
        #expect(other.problems.first?.contains("differs from backup_manifest") == true)

        var edited = Self.pgManifest(checksum: hex)
        edited[edited.firstRange(of: Data("1500".utf8))!.lowerBound] = UInt8(ascii: "2")
        #expect(throws: TarError.self) { try PostgresBackupManifest.parse(edited) }
    }
}
