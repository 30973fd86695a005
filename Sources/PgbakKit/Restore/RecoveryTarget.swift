import Foundation

/// Where point-in-time recovery stops.
public enum RecoveryTarget: Sendable, Equatable, CustomStringConvertible {
    case time(Date)
    case lsn(LSN)
    case xid(UInt64)
    case name(String)
    /// The end of the archive.
    case latest

    /// What recovery does when it reaches the target.
    public enum Action: String, Sendable, CaseIterable {
        case promote, pause
    }

    /// Parses `--to-time`: ISO 8601 (`2026-12-07T10:15:30Z`, `2026-12-07 10:15:30.25+01:00`); a time without a zone
    /// is UTC.
    public static func parseTime(_ text: String) -> Date? {
        var s = text.trimmingCharacters(in: .whitespaces)
        if s.hasSuffix("UTC") { s = s.dropLast(3).trimmingCharacters(in: .whitespaces) + "Z" }
        s = s.replacingOccurrences(of: " ", with: "T")
        // A zone like +01 (as psql prints it) becomes +01:00.
        if let match = s.range(of: #"[+-]\d\d$"#, options: .regularExpression) {
            s.replaceSubrange(match, with: s[match] + ":00")
        }
        let hasZone = s.hasSuffix("Z") || s.range(of: #"[+-]\d\d:?\d\d$"#, options: .regularExpression) != nil
        if !hasZone { s += "Z" }
        var fraction: Double = 0
        if let dot = s.range(of: #"\.\d+"#, options: .regularExpression) {
            fraction = Double("0" + s[dot]) ?? 0
            s.removeSubrange(dot)
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        guard let date = formatter.date(from: s) else { return nil }
        return date.addingTimeInterval(fraction)
    }

    /// The timestamp as recovery_target_time takes it: UTC with microseconds.
    static func postgresTime(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let micros = Int(((date.timeIntervalSince1970 - seconds) * 1_000_000).rounded())
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: Date(timeIntervalSince1970: seconds))
            + String(format: ".%06d+00", min(micros, 999_999))
    }

    /// The recovery settings for postgresql.conf (besides restore_command).
    public func settings(action: Action) -> [(String, String)] {
        var result: [(String, String)]
        switch self {
        case .time(let date): result = [("recovery_target_time", Self.postgresTime(date))]
        case .lsn(let lsn): result = [("recovery_target_lsn", lsn.description)]
        case .xid(let xid): result = [("recovery_target_xid", String(xid))]
        case .name(let name): result = [("recovery_target_name", name)]
        case .latest: return [("recovery_target_timeline", "latest")]
        }
        result.append(("recovery_target_action", action.rawValue))
        result.append(("recovery_target_timeline", "latest"))
        return result
    }

    public var description: String {
        switch self {
        case .time(let date): "time \(Self.postgresTime(date))"
        case .lsn(let lsn): "LSN \(lsn)"
        case .xid(let xid): "transaction \(xid)"
        case .name(let name): "restore point '\(name)'"
        case .latest: "the end of the archive"
        }
    }
}
