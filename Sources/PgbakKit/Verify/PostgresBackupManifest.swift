import Crypto
import Foundation

/// PostgreSQL's `backup_manifest` as pg_basebackup writes it: the files of the backup with sizes and checksums.
public struct PostgresBackupManifest: Sendable {
    public struct Entry: Sendable, Equatable {
        public var path: String
        public var size: Int64
        public var algorithm: String
        public var checksum: String?
    }

    public var entries: [String: Entry]

    /// Parses the manifest and checks its own SHA-256 (`Manifest-Checksum`).
    public static func parse(_ data: Data) throws -> PostgresBackupManifest {
        struct File: Decodable {
            var Path: String?
            var EncodedPath: String?
            var Size: Int64
            var algorithm: String?
            var checksum: String?
            enum CodingKeys: String, CodingKey {
                case Path, Size
                case EncodedPath = "Encoded-Path"
                case algorithm = "Checksum-Algorithm"
                case checksum = "Checksum"
            }
        }
        struct Top: Decodable {
            var files: [File]
            var manifestChecksum: String
            enum CodingKeys: String, CodingKey {
                case files = "Files"
                case manifestChecksum = "Manifest-Checksum"
            }
        }
        let top: Top
        do {
            top = try JSONDecoder().decode(Top.self, from: data)
        } catch {
            throw TarError(problem: "backup_manifest is not a PostgreSQL backup manifest: \(error)")
        }
        let marker = Data("\"Manifest-Checksum\"".utf8)
        guard let range = data.range(of: marker, options: .backwards) else {
            throw TarError(problem: "backup_manifest has no Manifest-Checksum")
        }
        let covered = data[data.startIndex..<range.lowerBound]
        let digest = SHA256.hash(data: covered).hexString
        guard digest == top.manifestChecksum.lowercased() else {
            throw TarError(problem: "backup_manifest's own checksum does not match its content (edited or corrupt)")
        }
        var entries: [String: Entry] = [:]
        for file in top.files {
            let path = file.Path ?? file.EncodedPath.map(Self.decodeHex) ?? ""
            entries[path] = Entry(
                path: path, size: file.Size, algorithm: file.algorithm ?? "NONE",
                checksum: file.checksum?.lowercased())
        }
        return PostgresBackupManifest(entries: entries)
    }

    static func decodeHex(_ hex: String) -> String {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex, let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex) {
            bytes.append(UInt8(hex[index..<next], radix: 16) ?? 0)
            index = next
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
