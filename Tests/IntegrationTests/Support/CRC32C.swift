import Foundation

/// CRC-32C written out bit by bit, apart from pgbak's table and crc32-instruction code, to check the checksums
/// pgbak records (and to re-record them where a test damages a file).
enum CRC32C {
    private static let table: [UInt32] = (0..<256).map { i in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 == 1 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    /// Lower-case hex of the file's CRC-32C, as the manifest writes it.
    static func hex(ofFile path: String) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        var crc: UInt32 = 0xFFFF_FFFF
        data.withUnsafeBytes { bytes in
            for b in bytes { crc = (crc >> 8) ^ table[Int((crc ^ UInt32(b)) & 0xFF)] }
        }
        return String(format: "%08x", ~crc)
    }
}
