import Foundation

/// One line of `pgbak check`.
public struct CheckItem: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable {
        case ok, warn, fail
    }

    public var name: String
    public var status: Status
    public var detail: String

    public init(_ name: String, _ status: Status, _ detail: String) {
        self.name = name
        self.status = status
        self.detail = detail
    }
}

/// Everything `pgbak check` found, in the order it looked.
public struct CheckReport: Sendable, Codable {
    public var items: [CheckItem]

    public init(items: [CheckItem]) {
        self.items = items
    }

    public var failures: [CheckItem] { items.filter { $0.status == .fail } }

    /// An error listing every failed check, nil when none failed.
    public var failure: ChecksFailed? { failures.isEmpty ? nil : ChecksFailed(failures: failures) }
    public var warnings: [CheckItem] { items.filter { $0.status == .warn } }

    /// Aligned columns; `colour` adds ANSI colours for a terminal.
    public func table(colour: Bool) -> String {
        let nameWidth = max(5, items.map(\.name.count).max() ?? 0)
        func pad(_ s: String, _ width: Int) -> String { s + String(repeating: " ", count: max(0, width - s.count)) }
        func paint(_ status: CheckItem.Status) -> String {
            let text = pad(status == .fail ? "FAIL" : status.rawValue, 4)
            guard colour else { return text }
            let code = status == .ok ? "32" : status == .warn ? "33" : "31;1"
            return "\u{1B}[\(code)m\(text)\u{1B}[0m"
        }
        var lines = [pad("CHECK", nameWidth) + "  " + "STAT" + "  DETAIL"]
        lines += items.map { pad($0.name, nameWidth) + "  " + paint($0.status) + "  " + $0.detail }
        let summary =
            failures.isEmpty
            ? "\(items.count) checks, \(warnings.count) warning(s), no failures"
            : "\(items.count) checks, \(failures.count) FAILED, \(warnings.count) warning(s)"
        return (lines + ["", summary]).joined(separator: "\n")
    }
}

/// `pgbak check` found failures: each is listed, with what it found.
public struct ChecksFailed: LocalizedError, Sendable {
    public var failures: [CheckItem]

    public var errorDescription: String? {
        "\(failures.count) check(s) failed:\n" + failures.map { "  - \($0.name): \($0.detail)" }.joined(separator: "\n")
    }
}
