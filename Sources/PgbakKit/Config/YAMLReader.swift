import Foundation
import Yams

/// Reads one YAML mapping with typed accessors that remember which keys were read, so that unknown keys,
/// wrong types and missing keys become `ConfigError`s naming the file and the key path.
struct YAMLReader {
    let file: String
    let path: String
    private let mapping: Node.Mapping?
    private let line: Int?
    private var readKeys: Set<String> = []

    init(file: String, path: String, node: Node?) throws {
        self.file = file
        self.path = path
        self.line = node?.mark.map { $0.line }
        switch node {
        case .none:
            mapping = nil
        case .some(.mapping(let m)):
            mapping = m
        case .some(.scalar(let s))
        where s.tag == .implicit && (s.string == "" || s.string == "~" || s.string == "null"):
            mapping = nil
        case .some(let other):
            throw ConfigError(
                file: file, keyPath: path, problem: "expected a mapping, found \(Self.kindName(other))",
                line: other.mark?.line)
        }
    }

    static func parse(yaml: String, file: String) throws -> YAMLReader {
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw ConfigError(file: file, keyPath: "", problem: "is not valid YAML: \(Self.describe(error))")
        }
        guard let node else {
            throw ConfigError(file: file, keyPath: "", problem: "is empty")
        }
        return try YAMLReader(file: file, path: "", node: node)
    }

    private static func describe(_ error: YamlError) -> String {
        let text = "\(error)"
        return text.split(separator: "\n").first.map(String.init) ?? text
    }

    static func kindName(_ node: Node) -> String {
        switch node {
        case .scalar(let s): return "the scalar '\(s.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private mutating func node(_ key: String) -> Node? {
        readKeys.insert(key)
        guard let mapping else { return nil }
        for (k, v) in mapping where k.string == key {
            if case .scalar(let s) = v, s.tag == .implicit, s.string == "~" || s.string == "null" || s.string == "" {
                return nil
            }
            return v
        }
        return nil
    }

    func error(_ key: String, _ problem: String, at node: Node? = nil) -> ConfigError {
        ConfigError(file: file, keyPath: keyPath(key), problem: problem, line: node?.mark?.line ?? line)
    }

    private func scalar(_ key: String, _ node: Node, expected: String) throws -> Node.Scalar {
        guard case .scalar(let s) = node else {
            throw error(key, "expected \(expected), found \(Self.kindName(node))", at: node)
        }
        return s
    }

    mutating func string(_ key: String) throws -> String? {
        guard let n = node(key) else { return nil }
        return try scalar(key, n, expected: "a string").string
    }

    mutating func requiredString(_ key: String) throws -> String {
        guard let value = try string(key), !value.isEmpty else {
            throw error(key, "is required")
        }
        return value
    }

    mutating func int(_ key: String, range: ClosedRange<Int>) throws -> Int? {
        guard let n = node(key) else { return nil }
        let s = try scalar(key, n, expected: "an integer")
        guard s.style == .plain, let value = Int(s.string) else {
            throw error(key, "expected an integer, found '\(s.string)'", at: n)
        }
        guard range.contains(value) else {
            throw error(key, "\(value) is out of range \(range.lowerBound)...\(range.upperBound)", at: n)
        }
        return value
    }

    mutating func double(_ key: String, range: ClosedRange<Double>) throws -> Double? {
        guard let n = node(key) else { return nil }
        let s = try scalar(key, n, expected: "a number")
        guard s.style == .plain, let value = Double(s.string) else {
            throw error(key, "expected a number, found '\(s.string)'", at: n)
        }
        guard range.contains(value) else {
            throw error(key, "\(s.string) is out of range \(range.lowerBound)...\(range.upperBound)", at: n)
        }
        return value
    }

    mutating func bool(_ key: String) throws -> Bool? {
        guard let n = node(key) else { return nil }
        let s = try scalar(key, n, expected: "true or false")
        switch s.string {
        case "true", "True", "yes": return true
        case "false", "False", "no": return false
        default: throw error(key, "expected true or false, found '\(s.string)'", at: n)
        }
    }

    mutating func choice<T: RawRepresentable<String> & CaseIterable>(_ key: String, _ type: T.Type) throws -> T? {
        guard let raw = try string(key) else { return nil }
        guard let value = T(rawValue: raw) else {
            let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
            throw error(key, "'\(raw)' is not one of: \(allowed)")
        }
        return value
    }

    mutating func stringList(_ key: String) throws -> [String]? {
        guard let n = node(key) else { return nil }
        switch n {
        case .sequence(let seq):
            return try seq.enumerated().map { index, item in
                guard case .scalar(let s) = item else {
                    throw ConfigError(
                        file: file, keyPath: "\(keyPath(key))[\(index)]",
                        problem: "expected a string, found \(Self.kindName(item))", line: item.mark?.line)
                }
                return s.string
            }
        case .scalar(let s):
            return [s.string]
        default:
            throw error(key, "expected a list of strings, found \(Self.kindName(n))", at: n)
        }
    }

    /// Whether this section was given at all (an empty or null one counts as absent).
    var isPresent: Bool { mapping != nil }

    mutating func section(_ key: String) throws -> YAMLReader {
        try YAMLReader(file: file, path: keyPath(key), node: node(key))
    }

    /// Fails on any key of this mapping that no accessor asked for.
    func finish() throws {
        guard let mapping else { return }
        for (k, _) in mapping where !readKeys.contains(k.string ?? "") {
            let known = readKeys.sorted().joined(separator: ", ")
            throw ConfigError(
                file: file, keyPath: keyPath(k.string ?? "?"),
                problem: "unknown key (known keys here: \(known))", line: k.mark?.line)
        }
    }
}
