import Foundation

/// The one JSON style of pgbak's files and `--json` output: snake_case keys, ISO 8601 dates, sorted and indented.
enum PgbakJSON {
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    static func decoder() -> JSONDecoder {
        // The types pgbak reads back spell their snake_case keys out in CodingKeys: converting every key of every
        // object on the way in is what made reading a thousand manifests slow.
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
