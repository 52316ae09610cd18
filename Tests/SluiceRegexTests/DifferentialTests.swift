import Foundation
import SluiceRegex
import SluiceTestSupport
import Testing

/// Generates small patterns over {a, b, c} using only constructs whose
/// leftmost-first semantics agree between RE2/Pike VM and backtracking
/// engines: quantifiers are only applied to atoms that cannot match empty
/// (empty-loop iteration rules differ between engines).
struct PatternGenerator {
    var rng: SplitMix64

    mutating func atom(_ depth: Int) -> (String, nullable: Bool) {
        switch rng.below(depth > 2 ? 6 : 8) {
        case 0, 1, 2: return (["a", "b", "c"][rng.below(3)], false)
        case 3: return (".", false)
        case 4: return (["[ab]", "[^a]", "[a-b]", "[^bc]", "[c]"][rng.below(5)], false)
        case 5:
            if rng.below(4) == 0 { return (["^", "$", "\\b", "\\B"][rng.below(4)], true) }
            return (["a", "b"][rng.below(2)], false)
        default:
            let (inner, nullable) = alternation(depth + 1)
            return ("(?:" + inner + ")", nullable)
        }
    }

    mutating func piece(_ depth: Int) -> (String, nullable: Bool) {
        let (a, nullable) = atom(depth)
        if nullable || rng.below(3) != 0 { return (a, nullable) }
        let q = ["*", "+", "?", "{2}", "{1,2}", "{0,3}", "{2,}"][rng.below(7)]
        let lazy = rng.below(3) == 0 ? "?" : ""
        let canBeEmpty = q != "+" && q != "{2}" && q != "{1,2}" && q != "{2,}"
        return (a + q + lazy, canBeEmpty)
    }

    mutating func sequence(_ depth: Int) -> (String, nullable: Bool) {
        var s = ""
        var nullable = true
        for _ in 0..<(1 + rng.below(3)) {
            let (p, n) = piece(depth)
            s += p
            nullable = nullable && n
        }
        return (s, nullable)
    }

    mutating func alternation(_ depth: Int) -> (String, nullable: Bool) {
        var (s, nullable) = sequence(depth)
        while rng.below(3) == 0 {
            let (t, n) = sequence(depth)
            s += "|" + t
            nullable = nullable || n
        }
        return (s, nullable)
    }

    mutating func input() -> String {
        String((0..<rng.below(9)).map { _ in ["a", "b", "c"][rng.below(3)] as Character })
    }
}

@Suite struct DifferentialTests {
    @Test func agreesWithNSRegularExpression() throws {
        var gen = PatternGenerator(rng: SplitMix64(seed: UInt64(0x5EED)))
        var compared = 0
        var failures: [String] = []
        for _ in 0..<400 {
            let (pattern, _) = gen.alternation(0)
            guard let ns = try? NSRegularExpression(pattern: pattern) else { continue }
            let re2 = try RegexPattern(pattern)
            let ecma = try RegexPattern(pattern, syntax: .ecma262)
            for _ in 0..<6 {
                let text = gen.input()
                let full = NSRange(location: 0, length: (text as NSString).length)
                let expected = ns.firstMatch(in: text, options: [], range: full).map {
                    ($0.range.location, $0.range.location + $0.range.length)
                }
                for re in [re2, ecma] {
                    let got = re.firstMatch(in: text).map {
                        (
                            text.utf16.distance(from: text.startIndex, to: $0.lowerBound),
                            text.utf16.distance(from: text.startIndex, to: $0.upperBound)
                        )
                    }
                    if got.map({ "\($0)" }) != expected.map({ "\($0)" }) || re.matches(text) != (expected != nil) {
                        failures.append(
                            "/\(pattern)/ on \"\(text)\": expected \(String(describing: expected)), got \(String(describing: got))"
                        )
                    }
                }
                compared += 1
            }
        }
        #expect(compared > 1500)
        #expect(failures.isEmpty, "\(failures.prefix(10).joined(separator: "\n"))")
    }

    @Test func caseInsensitiveAgreesWithNSRegularExpression() throws {
        var gen = PatternGenerator(rng: SplitMix64(seed: UInt64(42)))
        var failures: [String] = []
        for _ in 0..<150 {
            let (pattern, _) = gen.alternation(0)
            guard let ns = try? NSRegularExpression(pattern: pattern, options: [.caseInsensitive]) else { continue }
            let re = try RegexPattern("(?i)" + pattern)
            for _ in 0..<5 {
                let text = String(gen.input().map { gen.rng.below(2) == 0 ? Character($0.uppercased()) : $0 })
                let full = NSRange(location: 0, length: (text as NSString).length)
                let expected = ns.firstMatch(in: text, options: [], range: full).map {
                    "\($0.range.location),\($0.range.length)"
                }
                let got = re.firstMatch(in: text).map {
                    let s = text.utf16.distance(from: text.startIndex, to: $0.lowerBound)
                    return "\(s),\(text.utf16.distance(from: $0.lowerBound, to: $0.upperBound))"
                }
                if got != expected {
                    failures.append(
                        "/(?i)\(pattern)/ on \"\(text)\": expected \(expected ?? "nil"), got \(got ?? "nil")")
                }
            }
        }
        #expect(failures.isEmpty, "\(failures.prefix(10).joined(separator: "\n"))")
    }
}
