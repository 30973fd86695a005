import Foundation

/// Backup ids: sortable UTC timestamps such as `20261129T021500Z`.
public enum BackupID {
    public static func make(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    /// Whether `name` has the shape of a backup id.
    public static func isValid(_ name: String) -> Bool {
        name.range(of: #"^[0-9]{8}T[0-9]{6}Z$"#, options: .regularExpression) != nil
    }

    /// The first id at or after `date` that is not taken, moving forward a second at a time.
    public static func next(after date: Date, taken: Set<String>) -> (id: String, date: Date) {
        var date = date
        while taken.contains(make(date)) { date += 1 }
        return (make(date), date)
    }

    public static func date(of id: String) -> Date? {
        guard isValid(id) else { return nil }
        let digits = Array(id.utf8).filter { $0 >= 48 && $0 <= 57 }.map { Int($0 - 48) }
        func number(_ range: Range<Int>) -> Int { range.reduce(0) { $0 * 10 + digits[$1] } }
        let components = DateComponents(
            year: number(0..<4), month: number(4..<6), day: number(6..<8),
            hour: number(8..<10), minute: number(10..<12), second: number(12..<14))
        return utcCalendar.date(from: components)
    }

    static let utcCalendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()
}
