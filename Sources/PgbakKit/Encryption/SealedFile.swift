import Crypto
import Foundation

/// A file encrypted at rest in authenticated chunks, so that it can be written as a stream and read back whole, in
/// parallel or from any offset. Layout: a 48-byte header — magic `PGBAKENC`, format version, scheme (1: AES-256-GCM),
/// 2 reserved bytes, the plaintext chunk size (UInt32, big-endian) and a random 32-byte salt — then each chunk's
/// ciphertext followed by its 16-byte tag. Every chunk but the last holds exactly `chunkSize` bytes; an empty file is
/// one empty last chunk.
///
/// The file's key is HKDF-SHA256 of the repository key and the salt, so nonces never repeat across files; a chunk's
/// nonce is its index (8 bytes) and whether it is the last one (4 bytes), and the header is authenticated with every
/// chunk. Reordered, dropped, appended or altered chunks, a changed header and a wrong key all fail authentication.
public struct SealedFile: Sendable {
    public static let magic = Data("PGBAKENC".utf8)
    public static let version: UInt8 = 1
    public static let headerSize = 48
    public static let tagSize = 16
    public static let defaultChunkSize = 1 << 20

    public enum Scheme: UInt8, Sendable {
        case aes256GCM = 1
    }

    public let scheme: Scheme
    public let chunkSize: Int
    /// The header bytes as written (authenticated with every chunk).
    public let header: Data
    /// The file's key (SymmetricKey is not Sendable: made for each chunk, which costs a copy of 32 bytes).
    private let keyBytes: Data
    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    /// A new file's parameters: a fresh random salt.
    public init(key: RepositoryKey, chunkSize: Int = SealedFile.defaultChunkSize) {
        var salt = Data(count: 32)
        salt.withUnsafeMutableBytes { buffer in
            var generator = SystemRandomNumberGenerator()
            for i in buffer.indices { buffer[i] = generator.next() }
        }
        self.init(key: key, scheme: .aes256GCM, chunkSize: chunkSize, salt: salt)
    }

    /// An existing file's parameters, from its first `headerSize` bytes.
    public init(key: RepositoryKey, header: Data, file: String) throws {
        let bytes = [UInt8](header.prefix(Self.headerSize))
        guard bytes.count == Self.headerSize, Data(bytes.prefix(8)) == Self.magic else {
            throw EncryptionError(problem: "\(file) is not encrypted by pgbak (no PGBAKENC header)")
        }
        guard bytes[8] == Self.version, let scheme = Scheme(rawValue: bytes[9]) else {
            throw EncryptionError(
                problem:
                    "\(file) is encrypted in format \(bytes[8]), scheme \(bytes[9]), which this pgbak does not know")
        }
        let chunkSize = bytes[12..<16].reduce(0) { $0 << 8 | Int($1) }
        guard chunkSize > 0 else { throw EncryptionError(problem: "\(file) has a damaged header (chunk size 0)") }
        self.init(key: key, scheme: scheme, chunkSize: chunkSize, salt: Data(bytes[16..<48]))
    }

    private init(key: RepositoryKey, scheme: Scheme, chunkSize: Int, salt: Data) {
        self.scheme = scheme
        self.chunkSize = chunkSize
        var header = Self.magic
        header.append(contentsOf: [Self.version, scheme.rawValue, 0, 0])
        header.append(contentsOf: (0..<4).map { UInt8(truncatingIfNeeded: UInt32(chunkSize) >> (24 - 8 * $0)) })
        header.append(salt)
        self.header = header
        self.keyBytes = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: key.material), salt: salt, info: Data("pgbak file v1".utf8),
            outputByteCount: 32
        ).withUnsafeBytes { Data($0) }
    }

    /// Chunk `index` of the plaintext, encrypted; `last` for the file's final chunk.
    public func seal(_ plaintext: Data, index: UInt64, last: Bool) throws -> Data {
        let box = try AES.GCM.seal(plaintext, using: key, nonce: try Self.nonce(index, last), authenticating: header)
        return box.ciphertext + box.tag
    }

    /// Chunk `index` decrypted and authenticated; `file` names it in the error.
    public func open(_ sealed: Data, index: UInt64, last: Bool, file: String) throws -> Data {
        guard sealed.count >= Self.tagSize else {
            throw EncryptionError(problem: "\(file) is truncated in chunk \(index)")
        }
        do {
            let box = try AES.GCM.SealedBox(
                nonce: try Self.nonce(index, last), ciphertext: sealed.dropLast(Self.tagSize),
                tag: sealed.suffix(Self.tagSize))
            return try AES.GCM.open(box, using: key, authenticating: header)
        } catch {
            throw EncryptionError(
                problem: "\(file) fails authentication in chunk \(index) (bytes from \(offset(ofChunk: index))): "
                    + "a wrong key (repository.encryption.key_file) or a damaged or truncated file")
        }
    }

    /// Where chunk `index` starts in the encrypted file.
    public func offset(ofChunk index: UInt64) -> Int64 {
        Int64(Self.headerSize) + Int64(index) * Int64(chunkSize + Self.tagSize)
    }

    /// The chunks holding plaintext bytes `range`, and the encrypted bytes to read for them: a ranged read.
    public func chunks(covering range: Range<Int64>) -> (first: UInt64, last: UInt64, bytes: Range<Int64>) {
        let first = UInt64(range.lowerBound / Int64(chunkSize))
        let last = UInt64(max(range.upperBound - 1, range.lowerBound) / Int64(chunkSize))
        return (first, last, offset(ofChunk: first)..<offset(ofChunk: last + 1))
    }

    /// The size of the plaintext of an encrypted file of `size` bytes; nil when no sequence of chunks has that size.
    public func plaintextSize(ofEncrypted size: Int64) -> Int64? {
        let body = size - Int64(Self.headerSize)
        let whole = Int64(chunkSize + Self.tagSize)
        guard body >= Int64(Self.tagSize) else { return nil }
        let full = (body - Int64(Self.tagSize)) / whole
        let rest = body - full * whole - Int64(Self.tagSize)
        guard rest >= 0, rest <= chunkSize else { return nil }
        return full * Int64(chunkSize) + rest
    }

    static func nonce(_ index: UInt64, _ last: Bool) throws -> AES.GCM.Nonce {
        var bytes = (0..<8).map { UInt8(truncatingIfNeeded: index >> (56 - 8 * UInt64($0))) }
        bytes += [0, 0, 0, last ? 1 : 0]
        return try AES.GCM.Nonce(data: bytes)
    }
}

extension SealedFile {
    /// `plaintext` as one encrypted file.
    public static func seal(_ plaintext: Data, key: RepositoryKey, chunkSize: Int = defaultChunkSize) throws -> Data {
        let file = SealedFile(key: key, chunkSize: chunkSize)
        var out = file.header
        var index: UInt64 = 0
        var start = plaintext.startIndex
        repeat {
            let end = min(start + chunkSize, plaintext.endIndex)
            out += try file.seal(plaintext[start..<end], index: index, last: end == plaintext.endIndex)
            index += 1
            start = end
        } while start < plaintext.endIndex
        return out
    }

    /// A whole encrypted file decrypted; `file` names it in errors.
    public static func open(_ sealed: Data, key: RepositoryKey, file: String) throws -> Data {
        let parameters = try SealedFile(key: key, header: sealed.prefix(headerSize), file: file)
        guard parameters.plaintextSize(ofEncrypted: Int64(sealed.count)) != nil else {
            throw EncryptionError(problem: "\(file) is truncated: \(sealed.count) bytes is no whole number of chunks")
        }
        var out = Data()
        var index: UInt64 = 0
        var start = sealed.startIndex + headerSize
        repeat {
            let end = min(start + parameters.chunkSize + tagSize, sealed.endIndex)
            out += try parameters.open(sealed[start..<end], index: index, last: end == sealed.endIndex, file: file)
            index += 1
            start = end
        } while start < sealed.endIndex
        return out
    }
}

/// The repository's encryption key (`repository.encryption.key_file`): 32 bytes, never logged or recorded.
public struct RepositoryKey: Sendable, CustomStringConvertible {
    let material: Data

    public init(bytes: Data) throws {
        guard bytes.count == 32 else {
            throw EncryptionError(problem: "an encryption key is 32 bytes, not \(bytes.count)")
        }
        material = bytes
    }

    /// The key from a file holding 64 hex digits or the base64 of 32 bytes (e.g. `openssl rand -hex 32`).
    public init(file: String) throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw EncryptionError(problem: "cannot read the encryption key file \(file): \(Errno.text())")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text.count == 64, let bytes = Self.hex(text) {
            try self.init(bytes: bytes)
        } else if let bytes = Data(base64Encoded: text), bytes.count == 32 {
            try self.init(bytes: bytes)
        } else {
            throw EncryptionError(
                problem: "the encryption key file \(file) must hold 32 bytes as 64 hex digits or base64 "
                    + "(openssl rand -hex 32 > \(file))")
        }
    }

    /// Never the key itself.
    public var description: String { "RepositoryKey(redacted)" }

    static func hex(_ text: String) -> Data? {
        var bytes: [UInt8] = []
        var iterator = text.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            guard let h = high.hexDigitValue, let l = low.hexDigitValue else { return nil }
            bytes.append(UInt8(h << 4 | l))
        }
        return Data(bytes)
    }
}

/// Encryption at rest that cannot go on: what and what to do.
public struct EncryptionError: LocalizedError, Sendable {
    public var problem: String
    public var errorDescription: String? { problem }
}

extension RepositoryKey {
    /// What the manifest records to tell the right key from a wrong one without holding the key: an HMAC of a fixed
    /// text under it.
    var check: String {
        Data(
            HMAC<SHA256>.authenticationCode(
                for: Data("pgbak repository key check v1".utf8), using: SymmetricKey(data: material))
        ).hexString
    }
}
