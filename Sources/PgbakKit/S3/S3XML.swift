import Foundation

/// Reads the few flat XML documents S3 answers with (ListBucketResult, InitiateMultipartUploadResult, Error, ...):
/// the text of named elements, in order, inside named blocks. No attributes, namespaces or mixed content are needed
/// there; the five predefined entities and numeric references are decoded.
enum S3XML {
    /// The text of every `<tag>...</tag>` in `text`, in document order.
    static func values(_ tag: String, in text: Substring) -> [String] {
        blocks(tag, in: text).map { decode($0) }
    }

    /// The first `<tag>` text, or nil.
    static func value(_ tag: String, in text: Substring) -> String? {
        values(tag, in: text).first
    }

    /// The raw inside of every `<tag>...</tag>` (also `<tag/>`, as empty), in document order.
    static func blocks(_ tag: String, in text: Substring) -> [Substring] {
        var found: [Substring] = []
        var rest = text[...]
        let open = "<\(tag)>"
        let empty = "<\(tag)/>"
        let close = "</\(tag)>"
        while let start = rest.range(of: open) ?? rest.range(of: empty) {
            if rest[start] == empty {
                found.append(rest[start.upperBound..<start.upperBound])
                rest = rest[start.upperBound...]
                continue
            }
            guard let end = rest.range(of: close, range: start.upperBound..<rest.endIndex) else { break }
            found.append(rest[start.upperBound..<end.lowerBound])
            rest = rest[end.upperBound...]
        }
        return found
    }

    /// Replaces entity and character references with their characters.
    static func decode(_ text: Substring) -> String {
        guard text.contains("&") else { return String(text) }
        var out = ""
        var rest = text[...]
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";") else { break }
            let name = rest[rest.index(after: amp)..<semi]
            switch name {
            case "amp": out += "&"
            case "lt": out += "<"
            case "gt": out += ">"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                let number = name.hasPrefix("#x") ? UInt32(name.dropFirst(2), radix: 16) : UInt32(name.dropFirst())
                if name.hasPrefix("#"), let number, let scalar = Unicode.Scalar(number) {
                    out.unicodeScalars.append(scalar)
                } else {
                    out += rest[amp...semi]
                }
            }
            rest = rest[rest.index(after: semi)...]
        }
        return out + rest
    }

    /// `text` with `&`, `<` and `>` escaped, for the few documents pgbak sends.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
