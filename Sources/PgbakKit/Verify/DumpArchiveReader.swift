import Foundation

/// A pg_dump custom-format archive that is damaged or truncated.
public struct DumpArchiveError: LocalizedError, Sendable {
    public var problem: String
    public var errorDescription: String? { problem }
}

/// Reads a pg_dump custom-format archive (`-Fc`) to its end without restoring it: the header, every TOC entry, and
/// every data block chunk by chunk, checking that each block belongs to a TOC entry that has data, that every such
/// entry has its block, that COPY data ends with its terminator, and that nothing follows the last block. This is
/// what `pg_restore -f /dev/null` reads, without producing the SQL.
public struct DumpArchiveReader {
    public struct Summary: Sendable, Equatable {
        public var version: String
        public var entries: Int
        public var dataBlocks: Int
        public var dataBytes: Int64
    }

    static let blockData: UInt8 = 1
    static let blockBlobs: UInt8 = 3
    static let offsetNoData: UInt8 = 3

    private let stream: ZstdPullStream
    private var version = 0
    private var intSize = 4
    private var offSize = 8

    init(stream: ZstdPullStream) {
        self.stream = stream
    }

    private func fail(_ problem: String) -> DumpArchiveError {
        DumpArchiveError(problem: "\(problem) at byte \(stream.offset) of the dump")
    }

    private func byte() throws -> UInt8 {
        guard let b = try stream.readByte() else { throw fail("truncated: the dump ends early") }
        return b
    }

    private func int() throws -> Int64 {
        let negative = version > 0x010000 ? try byte() != 0 : false
        guard let bytes = try stream.read(intSize) else { throw fail("truncated: the dump ends early") }
        var value: Int64 = 0
        for (i, b) in bytes.enumerated() where i < 8 { value |= Int64(b) << (8 * i) }
        return negative ? -value : value
    }

    private func string() throws -> String? {
        let length = try int()
        guard length >= 0 else { return nil }
        guard length < 1 << 30, let bytes = try stream.read(Int(length)) else {
            throw fail("truncated or corrupt string of \(length) bytes")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    mutating func read() throws -> Summary {
        guard let magic = try stream.read(5), magic.elementsEqual("PGDMP".utf8) else {
            throw fail("not a pg_dump custom-format archive (no PGDMP header)")
        }
        let major = try byte(), minor = try byte(), revision = try byte()
        version = Int(major) << 16 | Int(minor) << 8 | Int(revision)
        guard major == 1, (12...16).contains(minor) else {
            throw fail("archive version \(major).\(minor) is not one pgbak reads (1.12 to 1.16)")
        }
        intSize = Int(try byte())
        offSize = Int(try byte())
        guard (1...8).contains(intSize), (1...8).contains(offSize) else { throw fail("corrupt header") }
        guard try byte() == 1 else { throw fail("not the custom format") }
        if minor >= 15 { _ = try byte() } else { _ = try int() }  // compression
        for _ in 0..<7 { _ = try int() }  // creation time
        _ = try string()  // database name
        _ = try string()  // server version
        _ = try string()  // pg_dump version

        let count = try int()
        guard count >= 0, count < 10_000_000 else { throw fail("corrupt TOC entry count \(count)") }
        var withData: [Int64: Bool] = [:]  // dump id -> has COPY data
        for _ in 0..<count {
            let id = try int()
            let hadDumper = try int()
            for _ in 0..<4 { _ = try string() }  // table oid, oid, tag, desc
            _ = try int()  // section
            _ = try string()  // definition
            _ = try string()  // drop statement
            let copy = try string()
            for _ in 0..<3 { _ = try string() }  // namespace, tablespace, table access method
            if minor >= 16 { _ = try int() }  // relkind
            _ = try string()  // owner
            _ = try string()  // "false" (WITH OIDS)
            while try string() != nil {}  // dependencies
            let offsetFlag = try byte()
            guard let _ = try stream.read(offSize) else { throw fail("truncated TOC") }
            guard id > 0 else { throw fail("corrupt TOC: entry id \(id)") }
            if hadDumper != 0 && offsetFlag != Self.offsetNoData { withData[id] = !(copy ?? "").isEmpty }
        }

        var blocks = 0
        var bytes: Int64 = 0
        var seen: Set<Int64> = []
        while let type = try stream.readByte() {
            let id = try int()
            guard let isCopy = withData[id] else { throw fail("data block for unknown TOC entry \(id)") }
            guard seen.insert(id).inserted else { throw fail("second data block for TOC entry \(id)") }
            switch type {
            case Self.blockData:
                let (n, tail) = try chunks()
                bytes += n
                if isCopy && n > 0 && !Self.endsCopyData(tail) {
                    throw fail("COPY data of TOC entry \(id) does not end with its terminator (damaged)")
                }
            case Self.blockBlobs:
                while try int() != 0 { bytes += try chunks().bytes }
            default:
                throw fail("unknown data block type \(type)")
            }
            blocks += 1
        }
        let missing = Set(withData.keys).subtracting(seen)
        guard missing.isEmpty else {
            throw fail("no data for TOC entries \(missing.sorted().prefix(5).map(String.init).joined(separator: ", "))")
        }
        return Summary(version: "\(major).\(minor)", entries: Int(count), dataBlocks: blocks, dataBytes: bytes)
    }

    /// COPY data ends with `\\.` and blank lines (pg_dump writes "\\.\n\n", newer versions "\\.\n\n\n").
    static func endsCopyData(_ tail: [UInt8]) -> Bool {
        let terminator: [UInt8] = [0x5C, 0x2E, 0x0A, 0x0A]
        return tail.suffix(4).elementsEqual(terminator)
            || (tail.last == 0x0A && tail.dropLast().suffix(4).elementsEqual(terminator))
    }

    /// Length-prefixed chunks up to a zero length; returns their size and the last few bytes.
    private func chunks() throws -> (bytes: Int64, tail: [UInt8]) {
        guard let result = try stream.skipChunks(intSize: intSize) else {
            throw fail("truncated or corrupt data chunks")
        }
        return result
    }

    /// Reads the archive at `path` to its end; returns the summary and the compressed file's checksum.
    public static func read(
        path: String, relativePath: String, checksum: FileChecksum.Algorithm = .crc32c
    ) throws -> (Summary, checksum: FileChecksum) {
        try read(try FileByteSource(path: path), relativePath: relativePath, checksum: checksum)
    }

    /// Reads the archive from `source` to its end; returns the summary and the compressed file's checksum.
    public static func read(
        _ source: any ByteSource, relativePath: String, checksum: FileChecksum.Algorithm = .crc32c
    ) throws -> (Summary, checksum: FileChecksum) {
        let stream = try ZstdPullStream(source: source, relativePath: relativePath, checksum: checksum)
        var reader = DumpArchiveReader(stream: stream)
        let summary = try reader.read()
        guard try stream.atEnd() else { throw reader.fail("unexpected bytes after the last data block") }
        return (summary, try stream.finishChecksum())
    }
}
