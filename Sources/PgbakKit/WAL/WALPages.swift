import Foundation

/// What pgbak reads of a WAL segment's pages: the long header of its first page (system identifier, segment and
/// page size) and each page's address, to tell whether two copies of a segment hold the same WAL.
public struct WALPages: Sendable {
    public let data: Data
    /// From the first page's long header; nil when the first page is not a valid one (e.g. zeroes).
    public let systemIdentifier: UInt64?
    public let pageSize: Int

    static let longHeaderFlag: UInt16 = 0x0002

    public init(_ data: Data, segmentStart: LSN) {
        self.data = data
        let valid =
            data.count >= 40 && Self.u16(data, 2) & Self.longHeaderFlag != 0
            && Self.u64(data, 8) == segmentStart.value
        systemIdentifier = valid ? Self.u64(data, 24) : nil
        let blockSize = valid ? Int(Self.u32(data, 36)) : 8192
        pageSize = (1024...65536).contains(blockSize) && blockSize.nonzeroBitCount == 1 ? blockSize : 8192
        self.segmentStart = segmentStart
        magic = data.count >= 2 ? Self.u16(data, 0) : 0
    }

    let segmentStart: LSN
    let magic: UInt16

    /// Whether page `index` is a WAL page of this segment (its header names its own address).
    func isValidPage(_ index: Int) -> Bool {
        let offset = index * pageSize
        guard offset + 24 <= data.count, Self.u16(data, offset) == magic, magic != 0 else { return false }
        return Self.u64(data, offset + 8) == segmentStart.value + UInt64(offset)
    }

    /// Whether `other` holds the same WAL: every page both copies hold as valid WAL pages is byte for byte the
    /// same. Pages only one copy holds (zeroes before a replica's first streamed position, recycled garbage after
    /// the end) do not count: such copies differ in bytes but not in records.
    public func sameRecords(as other: WALPages) -> Bool {
        guard data.count == other.data.count, pageSize == other.pageSize, magic == other.magic else { return false }
        var compared = 0
        for index in 0..<(data.count / pageSize) where isValidPage(index) && other.isValidPage(index) {
            let range = (index * pageSize)..<((index + 1) * pageSize)
            guard data[range] == other.data[range] else { return false }
            compared += 1
        }
        return compared > 0
    }

    static func u16(_ d: Data, _ at: Int) -> UInt16 {
        UInt16(d[d.startIndex + at]) | UInt16(d[d.startIndex + at + 1]) << 8
    }
    static func u32(_ d: Data, _ at: Int) -> UInt32 { UInt32(u16(d, at)) | UInt32(u16(d, at + 2)) << 16 }
    static func u64(_ d: Data, _ at: Int) -> UInt64 { UInt64(u32(d, at)) | UInt64(u32(d, at + 4)) << 32 }

    /// The system identifier of the cluster in `dataDirectory` (the first 8 bytes of `global/pg_control`).
    public static func systemIdentifier(dataDirectory: String) throws -> UInt64 {
        let path = dataDirectory + "/global/pg_control"
        guard let data = FileManager.default.contents(atPath: path), data.count >= 8 else {
            throw WALArchiveError(
                problem: "cannot read the system identifier from \(path): run wal-push from the data directory, as "
                    + "PostgreSQL's archive_command does")
        }
        return u64(data, 0)
    }
}
