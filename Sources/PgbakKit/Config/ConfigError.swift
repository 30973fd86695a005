import Foundation

/// A problem with the configuration file, naming the file and the YAML key path.
public struct ConfigError: LocalizedError, Equatable, Sendable {
    public var file: String
    public var keyPath: String
    public var problem: String
    public var line: Int?

    public init(file: String, keyPath: String, problem: String, line: Int? = nil) {
        self.file = file
        self.keyPath = keyPath
        self.problem = problem
        self.line = line
    }

    public var errorDescription: String? {
        let place = line.map { "\(file):\($0)" } ?? file
        return keyPath.isEmpty ? "\(place): \(problem)" : "\(place): \(keyPath): \(problem)"
    }
}
