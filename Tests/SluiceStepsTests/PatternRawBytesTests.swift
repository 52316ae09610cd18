import SluiceJSON
import SluiceTestSupport
import Testing

@testable import SluiceSteps

/// The byte-level fast paths the pattern step reads raw events with, against plain
/// byte loops and the parsed values they stand for.
@Suite struct PatternRawBytesTests {
    /// ``KeyTable/shortStringKey(at:in:)`` (sixteen bytes at once, or byte by byte near
    /// the end of the text) against a byte loop: the string up to its first quote when it
    /// is at most 15 bytes, ASCII and without a backslash, fingerprinted by
    /// ``KeyTable/shortPrint(_:)``; and, when it is such a string, the same hash and
    /// fingerprint as its value.
    @Test func shortStringKeysAgreeWithAByteLoop() {
        let alphabet: [UInt8] = Array("ab0K._-".utf8) + [0x22, 0x5C, 0x80, 0xC3, 0xA9, 0x7F, 0x00, 0x20]
        var rng = SplitMix64(seed: UInt64(0x5157))
        var strings = 0
        for _ in 0..<20_000 {
            var text: [UInt8] = [UInt8(ascii: "\"")]
            let length = rng.below(20)
            // Mostly plain letters, so that many are keys; sometimes any byte.
            for _ in 0..<length {
                text.append(
                    rng.below(4) == 0 ? alphabet[rng.below(alphabet.count)] : UInt8(ascii: "a") + UInt8(rng.below(26)))
            }
            if rng.below(8) != 0 { text.append(UInt8(ascii: "\"")) }
            // What follows the string: none to more than sixteen bytes (both paths).
            for _ in 0..<rng.below(20) { text.append(alphabet[rng.below(alphabet.count)]) }
            let got = text.withUnsafeBytes { KeyTable.shortStringKey(at: 0, in: $0) }
            // The byte loop.
            var n = -1
            var i = 1
            while i < min(text.count, 17) {
                if text[i] == 0x22 {
                    n = i - 1
                    break
                }
                if text[i] == 0x5C || text[i] >= 0x80 { break }
                i += 1
            }
            guard n >= 0 else {
                #expect(got == nil, "\(text)")
                continue
            }
            let bytes = Array(text[1..<(1 + n)])
            let print = bytes.withUnsafeBufferPointer { KeyTable.shortPrint($0) }
            #expect(got?.print == print, "\(text)")
            #expect(got?.hash == KeyTable.shortHash(print), "\(text)")
            let (hash, valuePrint) = KeyTable.hashAndPrint(.string(String(decoding: bytes, as: UTF8.self)))
            #expect(got?.hash == hash && got?.print == valuePrint, "\(text)")
            strings += 1
        }
        #expect(strings > 5000)
    }

    /// ``PatternStep/isPlainASCII(_:)`` (eight bytes at once) against a byte loop, for
    /// every length up to 40 and a backslash or non-ASCII byte anywhere.
    @Test func plainASCIIAgreesWithAByteLoop() {
        var rng = SplitMix64(seed: UInt64(0xA5C11))
        for _ in 0..<20_000 {
            var text = (0..<rng.below(41)).map { _ in UInt8(ascii: "a") + UInt8(rng.below(26)) }
            if !text.isEmpty, rng.below(2) == 0 {
                text[rng.below(text.count)] = [0x5C, 0x80, 0xFF, 0x5B, 0xDC][rng.below(5)]
            }
            let expected = !text.contains { $0 >= 0x80 || $0 == 0x5C }
            #expect(text.withUnsafeBytes { PatternStep.isPlainASCII($0) } == expected, "\(text)")
        }
    }

    /// ``PatternStep/mayHave(_:in:plain:)`` is false only for texts without the field:
    /// objects whose keys are the name, near misses, the name escaped or spelled with
    /// the Kelvin sign, and values that contain the name's text.
    @Test func mayHaveIsFalseOnlyWithoutTheField() throws {
        let names = ["s0.user", "K.k", "login.ts"]
        let keys = [
            "s0.user", "s0.users", "xs0.user", "s0_user", "s0", "user", "K.k", "\u{212A}.k", "k.K", "login.ts",
            "login.t", "ogin.ts", "é", "a.b",
        ]
        let values: [JSON] = [.int(1), .string("s0.user"), .string("\"login.ts\""), .double(2.5), .string("K.k")]
        var rng = SplitMix64(seed: UInt64(0xD07))
        var absentSaid = 0
        for _ in 0..<5000 {
            var o = JSONObject()
            for _ in 0..<rng.below(5) { o[keys[rng.below(keys.count)]] = values[rng.below(values.count)] }
            var text = Array(JSONWriter.string(.object(o)).utf8)
            // Sometimes a key written with an escape (`.` as \u002e), which still names it.
            if rng.below(4) == 0 {
                for name in names {
                    let key = Array("\"\(name)\":".utf8)
                    guard let at = Self.find(key, in: text), let dot = name.utf8.firstIndex(of: UInt8(ascii: "."))
                    else { continue }
                    let i = at + 1 + name.utf8.distance(from: name.utf8.startIndex, to: dot)
                    text.replaceSubrange(i...i, with: Array("\\u002e".utf8))
                    break
                }
            }
            guard case .object(let parsed) = try JSONParser.parse(text) else { continue }
            for name in names {
                let quoted = Array("\"\(name)\"".utf8)
                let may = text.withUnsafeBytes {
                    PatternStep.mayHave(quoted, in: $0, plain: PatternStep.isPlainASCII($0))
                }
                if !may {
                    absentSaid += 1
                    #expect(parsed[name] == nil, "\(String(decoding: text, as: UTF8.self)) \(name)")
                }
                // A parsed event (no text) or a text not known plain: look it up.
                #expect(PatternStep.mayHave(quoted, in: nil, plain: true))
                #expect(text.withUnsafeBytes { PatternStep.mayHave(quoted, in: $0, plain: false) })
            }
        }
        #expect(absentSaid > 5000)
    }

    /// Where `needle` first occurs in `text`.
    static func find(_ needle: [UInt8], in text: [UInt8]) -> Int? {
        guard needle.count <= text.count else { return nil }
        return (0...(text.count - needle.count)).first { Array(text[$0..<($0 + needle.count)]) == needle }
    }
}
