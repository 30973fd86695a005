import Foundation
import Testing

@testable import PgbakKit

/// The config loader, the manifest decoder and the Patroni JSON decoder under random and mutated input: every bad
/// input must be a thrown error — no crash, no trap.
@Suite struct ParserFuzzTests {
    static let iterations = 100_000

    /// Mutates `seed` a few ways: flip, insert, delete, duplicate a slice, truncate; sometimes pure noise.
    static func mutate(_ seed: [UInt8], _ rng: inout SeededGenerator) -> [UInt8] {
        var bytes = seed
        if Int.random(in: 0..<20, using: &rng) == 0 {
            return (0..<Int.random(in: 0...200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        }
        for _ in 0..<Int.random(in: 1...4, using: &rng) where !bytes.isEmpty {
            let i = Int.random(in: 0..<bytes.count, using: &rng)
            switch Int.random(in: 0..<5, using: &rng) {
            case 0: bytes[i] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng))
            case 1: bytes.insert(Array(":{}[]-\"'#&*!|>\n 0aZ".utf8).randomElement(using: &rng)!, at: i)
            case 2: bytes.remove(at: i)
            case 3:
                let j = min(bytes.count, i + Int.random(in: 1...40, using: &rng))
                bytes.insert(contentsOf: bytes[i..<j], at: j)
            default: bytes.removeLast(Int.random(in: 0...(bytes.count - i), using: &rng))
            }
        }
        return bytes
    }

    @Test func configLoaderOnlyThrows() {
        var rng = SeededGenerator(seed: 1)
        let seed = Array(
            (ConfigLoaderTests.minimal + """

                postgres:
                  dump:
                    user: backup
                    password_env: X
                  databases:
                    exclude: [a, b]
                compression:
                  level: 5
                this_host:
                  member: node1
                """).utf8)
        var accepted = 0
        for _ in 0..<Self.iterations {
            let text = String(decoding: Self.mutate(seed, &rng), as: UTF8.self)
            do {
                _ = try ConfigLoader.parse(yaml: text, file: "/f.yml", baseDirectory: "/nonexistent")
                accepted += 1
            } catch is ConfigError {
            } catch {
                Issue.record("not a ConfigError: \(error) for input \(text.debugDescription)")
                return
            }
        }
        #expect(accepted > 0 && accepted < Self.iterations)
    }

    @Test func manifestDecoderOnlyThrows() throws {
        var rng = SeededGenerator(seed: 2)
        let seed = Array(try ManifestTests.sample().encoded())
        var accepted = 0
        for _ in 0..<Self.iterations {
            do {
                _ = try Manifest.decode(Data(Self.mutate(seed, &rng)), source: "m")
                accepted += 1
            } catch is ManifestError {
            } catch {
                Issue.record("not a ManifestError: \(error)")
                return
            }
        }
        #expect(accepted < Self.iterations)
    }

    @Test func patroniDecoderOnlyThrows() {
        var rng = SeededGenerator(seed: 3)
        let seeds = [Array(LeaderSelectionTests.patroni4.utf8), Array(LeaderSelectionTests.patroni3.utf8)]
        var accepted = 0
        for i in 0..<Self.iterations {
            let input = Data(Self.mutate(seeds[i % 2], &rng))
            if let cluster = try? PatroniCluster.decode(input) {
                accepted += 1
                _ = try? LeaderSelection.choose(from: cluster, scope: "pgbak-test")
            }
        }
        #expect(accepted < Self.iterations)
    }
}
