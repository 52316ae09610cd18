import SluiceJSON
import Testing

/// `JSONParser.shortNumber(at:in:)` reads short plain numbers without the parser's general
/// loop: wherever it answers, the answer must be exactly the parser's (`value(at:in:)`),
/// and it must answer for the short numbers it is for.
@Suite struct ShortNumberTests {
    /// The same JSON number: the same case, the same bits for doubles (so -0.0 and 0.0
    /// differ).
    static func same(_ a: JSON, _ b: JSON) -> Bool {
        switch (a, b) {
        case (.int(let x), .int(let y)): return x == y
        case (.double(let x), .double(let y)): return x.bitPattern == y.bitPattern
        default: return false
        }
    }

    /// `text` followed by `after`, read at `offset` 1 (after a `[`), by both readers.
    static func check(_ text: String, after: String = ",") -> (short: JSON?, full: JSON?) {
        let bytes = Array(("[" + text + after).utf8)
        return bytes.withUnsafeBytes { b in
            (JSONParser.shortNumber(at: 1, in: b), JSONParser.value(at: 1, in: b))
        }
    }

    @Test func agreesWithTheParserOnEdges() {
        let texts = [
            "0", "-0", "0.0", "-0.0", "1", "-1", "7", "145.93", "-145.93", "0.29", "0.05", "0.000000000000001",
            "0.0000000000000001", "999999999999999", "9999999999999999", "-999999999999999", "123456789012345.6",
            "12345678901234.56", "1234567890123.456", "0.123456789012345", "0.1234567890123456", "1e2", "1E2",
            "2.50e1", "1.5e-3", "100", "1.0", "10.50", "00", "01", "-01", "1.", "-", "-.5", ".5", "1.5.2",
            "9007199254740993", "900719925474099.3", "9223372036854775807", "-9223372036854775808", "\"12\"",
            "true", "null",
            // Both sides of 22 places, epoch milliseconds, beyond Int64, halfway-looking
            // decimals, other exponent spellings, an array.
            "-7", "12", "0.000001", "10.05", "1.5", "12345678901234.5", "0.0000000000000000000001",
            "0.00000000000000000000001", "1e3", "1.5E-2", "2.5e+1", "1699999998701", "-1699999998701",
            "92233720368547758070", "0.30000000000000004", "4.35", "2.675", "1.0000000000000002", "[1]",
        ]
        for text in texts {
            for after in [",", "}", " ", "]", "", " ,"] {
                let (short, full) = Self.check(text, after: after)
                guard let short else { continue }
                guard let full else {
                    Issue.record("\(text)\(after): short \(short), the parser none")
                    continue
                }
                #expect(Self.same(short, full), "\(text)\(after): short \(short), the parser \(full)")
            }
        }
        // The ones it is for.
        for text in ["0", "-0", "145.93", "-0.0", "0.05", "999999999999999", "12345678901234.5", "1699999998701"] {
            #expect(Self.check(text).short != nil, "\(text)")
        }
        // Not for: an exponent, 16 digits or more, leading zeros, not a number.
        for text in ["1e2", "1e3", "9999999999999999", "0.1234567890123456", "01", "\"12\"", "null"] {
            #expect(Self.check(text).short == nil, "\(text)")
        }
    }

    /// Seeded decimals of every length up to 17 digits with up to 24 places, both signs
    /// (the same every run, where the test below draws new ones).
    @Test func agreesWithTheParserOnSeededDecimals() {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ n: UInt64) -> UInt64 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (seed >> 33) % n
        }
        var answered = 0
        for _ in 0..<50_000 {
            let digits = Int(next(17)) + 1
            var s = String(next(9) + 1)
            for _ in 1..<digits { s += String(next(10)) }
            let places = Int(next(25))
            if places > 0 {
                if places >= s.count { s = String(repeating: "0", count: places - s.count + 1) + s }
                s.insert(".", at: s.index(s.endIndex, offsetBy: -places))
            }
            if next(2) == 0 { s = "-" + s }
            let (short, full) = Self.check(s)
            guard let short else { continue }
            answered += 1
            #expect(
                full.map { Self.same(short, $0) } == true,
                "\(s): short \(short), the parser \(String(describing: full))")
        }
        #expect(answered > 10_000)
    }

    @Test func agreesWithTheParserOnRandomTexts() {
        var rng = SystemRandomNumberGenerator()
        func digits(_ n: Int) -> String {
            String((0..<n).map { _ in Character(String(Int.random(in: 0...9, using: &rng))) })
        }
        var answered = 0
        for _ in 0..<200_000 {
            var text = Bool.random(using: &rng) ? "-" : ""
            let whole = Int.random(in: 0...17, using: &rng)
            text += whole == 0 ? "0" : String(Int.random(in: 1...9, using: &rng)) + digits(whole - 1)
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: break
            case 1, 2: text += "." + digits(Int.random(in: 1...17, using: &rng))
            default:
                text +=
                    "." + digits(Int.random(in: 1...6, using: &rng)) + "e"
                    + String(Int.random(in: -30...30, using: &rng))
            }
            let (short, full) = Self.check(text, after: [",", "}", " ", ""][Int.random(in: 0..<4, using: &rng)])
            guard let short else { continue }
            answered += 1
            #expect(
                full.map { Self.same(short, $0) } == true,
                "\(text): short \(short), the parser \(String(describing: full))")
        }
        #expect(answered > 50_000)
        // Doubles as the writer writes them (the shortest round-trip text).
        for _ in 0..<100_000 {
            let d: Double
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: d = Double(Int.random(in: -10_000_000...10_000_000, using: &rng)) / 100
            case 1: d = Double.random(in: -1e6...1e6, using: &rng)
            default: d = Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &rng))
            }
            guard d.isFinite else { continue }
            let (short, full) = Self.check(JSONWriter.string(.double(d)))
            guard let short else { continue }
            #expect(full.map { Self.same(short, $0) } == true, "\(d): short \(short)")
            if case .double(let x) = short { #expect(x.bitPattern == d.bitPattern, "\(d): \(x)") }
        }
    }
}
