import Foundation

/// What an archived WAL file is, read from its name: `000000010000000A000000FE` (a segment),
/// `...FE.partial` (the last, unfinished segment of a timeline a promotion ended), `00000002.history` (how a
/// timeline branched off its parent) or `...FE.00000028.backup` (a backup's history file).
public enum WALFileName: Sendable, Hashable, CustomStringConvertible {
    case segment(WALSegment)
    case partial(WALSegment)
    case history(timeline: UInt32)
    case backupHistory(WALSegment, name: String)

    public init?(_ name: String) {
        let hex = Set("0123456789ABCDEF")
        func isHex(_ s: Substring) -> Bool { s.allSatisfy { hex.contains($0) } }
        if name.count == 24, isHex(name[...]), let segment = WALSegment(name: name) {
            self = .segment(segment)
        } else if name.hasSuffix(".partial"), name.count == 32, let segment = WALSegment(name: String(name.prefix(24)))
        {
            self = .partial(segment)
        } else if name.hasSuffix(".history"), name.count == 16, isHex(name.prefix(8)),
            let timeline = UInt32(name.prefix(8), radix: 16)
        {
            self = .history(timeline: timeline)
        } else if name.hasSuffix(".backup"), name.count == 40, isHex(name.prefix(24)),
            let segment = WALSegment(name: String(name.prefix(24)))
        {
            self = .backupHistory(segment, name: name)
        } else {
            return nil
        }
    }

    public var timeline: UInt32 {
        switch self {
        case .segment(let s), .partial(let s), .backupHistory(let s, _): s.timeline
        case .history(let timeline): timeline
        }
    }

    public var description: String {
        switch self {
        case .segment(let s): s.name
        case .partial(let s): s.name + ".partial"
        case .history(let timeline): String(format: "%08X.history", timeline)
        case .backupHistory(_, let name): name
        }
    }
}

/// One WAL segment of a timeline: the name's three 8-digit hex fields (timeline, log, segment within the log).
public struct WALSegment: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var timeline: UInt32
    public var log: UInt32
    public var seg: UInt32

    public init(timeline: UInt32, log: UInt32, seg: UInt32) {
        self.timeline = timeline
        self.log = log
        self.seg = seg
    }

    /// The segment of `timeline` numbered `number` (counted from LSN 0) for segments of `size` bytes.
    public init(timeline: UInt32, number: UInt64, size: UInt64) {
        let perLog = WALSegment.perLog(size)
        self.init(timeline: timeline, log: UInt32(number / perLog), seg: UInt32(number % perLog))
    }

    init?(name: String) {
        guard name.count == 24, let t = UInt32(name.prefix(8), radix: 16),
            let l = UInt32(name.dropFirst(8).prefix(8), radix: 16), let s = UInt32(name.suffix(8), radix: 16)
        else { return nil }
        self.init(timeline: t, log: l, seg: s)
    }

    static func perLog(_ size: UInt64) -> UInt64 { 0x1_0000_0000 / size }

    /// Segments counted from LSN 0, as `LSN.segment(size:)` counts them.
    public func number(size: UInt64) -> UInt64 { UInt64(log) * WALSegment.perLog(size) + UInt64(seg) }

    /// The first position in the segment.
    public func start(size: UInt64) -> LSN { LSN(number(size: size) * size) }

    public var name: String { String(format: "%08X%08X%08X", timeline, log, seg) }
    public var description: String { name }

    public static func < (a: WALSegment, b: WALSegment) -> Bool {
        (a.log, a.seg, a.timeline) < (b.log, b.seg, b.timeline)
    }
}
