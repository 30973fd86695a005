import Foundation

/// A compression, decompression or file I/O failure, naming the file.
public struct CompressionError: LocalizedError, Sendable {
    public var path: String
    public var problem: String

    public var errorDescription: String? { "\(path): \(problem)" }
}
