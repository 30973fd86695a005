import Foundation

/// A tar archive that cannot be parsed.
public struct TarError: LocalizedError, Sendable {
    public var problem: String
    public var errorDescription: String? { problem }
}

/// Incremental ustar reader (the format pg_basebackup writes): feed bytes in any chunking; it reports each member's
/// header, data and end. GNU long names and pax headers are applied to the member that follows them.
public final class TarReader {
    public struct Member: Sendable, Equatable {
        public var name: String
        public var size: Int64
        /// `0` regular file, `5` directory, `2` symlink, ...
        public var type: UInt8
        /// The target of a symbolic link.
        public var linkName: String = ""
        /// Permission bits from the header.
        public var mode: UInt32 = 0o600
        public var isRegularFile: Bool { type == UInt8(ascii: "0") || type == 0 }
    }

    private enum State {
        case header
        case data(remaining: Int64, padding: Int)
        case padding(Int)
        case longName(remaining: Int64, padding: Int, pax: Bool)
        case finished
    }

    private var state = State.header
    private var header: [UInt8] = []
    private var pendingName: String?
    private var longNameBytes: [UInt8] = []
    private var zeroBlocks = 0
    private let onMember: (Member) throws -> Void
    private let onData: (UnsafeRawBufferPointer) throws -> Void
    private let onMemberEnd: () throws -> Void

    public init(
        onMember: @escaping (Member) throws -> Void, onData: @escaping (UnsafeRawBufferPointer) throws -> Void,
        onMemberEnd: @escaping () throws -> Void
    ) {
        self.onMember = onMember
        self.onData = onData
        self.onMemberEnd = onMemberEnd
        header.reserveCapacity(512)
    }

    public func feed(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            switch state {
            case .finished:
                return
            case .header:
                let take = min(512 - header.count, bytes.count - offset)
                header.append(contentsOf: bytes[offset..<offset + take])
                offset += take
                if header.count == 512 { try parseHeader() }
            case .data(let remaining, let padding):
                let take = Int(min(remaining, Int64(bytes.count - offset)))
                try onData(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + take]))
                offset += take
                if remaining - Int64(take) == 0 {
                    try onMemberEnd()
                    state = padding > 0 ? .padding(padding) : .header
                } else {
                    state = .data(remaining: remaining - Int64(take), padding: padding)
                }
            case .padding(let left):
                let take = min(left, bytes.count - offset)
                offset += take
                state = left - take == 0 ? .header : .padding(left - take)
            case .longName(let remaining, let padding, let pax):
                let take = Int(min(remaining, Int64(bytes.count - offset)))
                longNameBytes.append(contentsOf: bytes[offset..<offset + take])
                offset += take
                if remaining - Int64(take) == 0 {
                    pendingName = pax ? Self.paxPath(longNameBytes) : Self.cString(longNameBytes[...])
                    longNameBytes = []
                    state = padding > 0 ? .padding(padding) : .header
                } else {
                    state = .longName(remaining: remaining - Int64(take), padding: padding, pax: pax)
                }
            }
        }
    }

    /// Fails unless the archive ended cleanly (an end-of-archive block after the last member).
    public func finish() throws {
        switch state {
        case .finished: return
        case .header where header.isEmpty && zeroBlocks > 0: return
        default: throw TarError(problem: "the tar archive ends in the middle of a member (truncated)")
        }
    }

    private func parseHeader() throws {
        defer { header.removeAll(keepingCapacity: true) }
        if header.allSatisfy({ $0 == 0 }) {
            zeroBlocks += 1
            if zeroBlocks == 2 { state = .finished }
            return
        }
        zeroBlocks = 0
        let stored = Self.octal(header[148..<156])
        let computed = header.enumerated().reduce(0) { sum, item in
            sum + Int64((148..<156).contains(item.offset) ? 32 : Int(item.element))
        }
        guard stored == computed else { throw TarError(problem: "a tar header's checksum does not match (corrupt)") }
        let size = try Self.size(header[124..<136])
        let type = header[156]
        let padding = Int((512 - size % 512) % 512)
        switch type {
        case UInt8(ascii: "L"), UInt8(ascii: "x"):
            state = .longName(remaining: size, padding: padding, pax: type == UInt8(ascii: "x"))
            if size == 0 { state = .header }
            return
        case UInt8(ascii: "g"):
            state = size > 0 ? .data(remaining: size, padding: padding) : .header
            return
        default:
            break
        }
        var name = Self.cString(header[0..<100])
        if header[257..<262].elementsEqual("ustar".utf8) {
            let prefix = Self.cString(header[345..<500])
            if !prefix.isEmpty { name = prefix + "/" + name }
        }
        if let pending = pendingName {
            name = pending
            pendingName = nil
        }
        let member = Member(
            name: name, size: size, type: type, linkName: Self.cString(header[157..<257]),
            mode: UInt32(truncatingIfNeeded: Self.octal(header[100..<108]) & 0o7777))
        try onMember(member)
        let carriesData = member.isRegularFile && size > 0
        if carriesData {
            state = .data(remaining: size, padding: padding)
        } else {
            try onMemberEnd()
            state = .header
        }
    }

    static func cString(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    static func octal(_ bytes: ArraySlice<UInt8>) -> Int64 {
        var value: Int64 = 0
        for b in bytes {
            if b == 0 || b == 32 { if value > 0 { break } else { continue } }
            guard b >= 48 && b <= 55 else { break }
            value = value * 8 + Int64(b - 48)
        }
        return value
    }

    static func size(_ bytes: ArraySlice<UInt8>) throws -> Int64 {
        guard let first = bytes.first else { return 0 }
        if first & 0x80 != 0 {  // base-256 (GNU) for sizes of 8 GiB and more
            var value: Int64 = Int64(first & 0x7F)
            for b in bytes.dropFirst() { value = value << 8 | Int64(b) }
            return value
        }
        return octal(bytes)
    }

    static func paxPath(_ bytes: [UInt8]) -> String? {
        for record in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            guard let space = record.firstIndex(of: " ") else { continue }
            let kv = record[record.index(after: space)...]
            if kv.hasPrefix("path=") { return String(kv.dropFirst(5)) }
        }
        return nil
    }
}
