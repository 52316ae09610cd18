import SluiceJSON
import Testing

/// `JSONParser.shortNumber(at:in:)` (the window's, the expressions' and map's) and
/// `plainInteger(_:)` (the event time's) are fast readers: whenever they answer, the answer must be the parser's, bit for
/// bit (a double's sign and rounding included); anything else they leave to the parser.
@Suite struct PlainNumberTests {
    /// Number spellings on both sides of each line the fast reader draws: signs, zeros,
    /// fraction lengths, 15 and 16 significant digits, 22 and 23 places, exponents.
    static let spellings = [
        "0", "-0", "0.0", "-0.0", "7", "-7", "12", "145.93", "-145.93", "0.05", "0.000001", "10.05", "1.5",
        "999999999999999", "9999999999999999", "123456789012345.6", "12345678901234.5", "0.123456789012345",
        "0.1234567890123456", "0.0000000000000000000001", "0.00000000000000000000001", "1e3", "1.5E-2", "2.5e+1",
        "1699999998701", "-1699999998701", "9223372036854775807", "-9223372036854775808", "92233720368547758070",
        "0.30000000000000004", "4.35", "2.675", "1.0000000000000002", "\"12\"", "null", "true", "[1]",
    ]

    func parsed(_ text: String) -> (JSON?, JSON?) {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { b in (JSONParser.shortNumber(at: 0, in: b), JSONParser.value(at: 0, in: b)) }
    }

    static func same(_ a: JSON, _ b: JSON) -> Bool {
        switch (a, b) {
        case (.int(let x), .int(let y)): x == y
        case (.double(let x), .double(let y)): x.bitPattern == y.bitPattern
        default: false
        }
    }

    @Test(arguments: spellings)
    func spellingsMatchTheParser(text: String) {
        // Alone, and followed by what follows a member's value.
        for tail in ["", ",", "}", " ,"] {
            let (fast, general) = parsed(text + tail)
            if let fast {
                #expect(
                    general.map { Self.same(fast, $0) } == true,
                    "\(text + tail): \(fast) against \(String(describing: general))")
            }
        }
    }

    @Test func plainSpellingsAreReadFast() {
        for text in ["0", "-0.0", "145.93", "0.05", "999999999999999", "1699999998701"] {
            #expect(parsed(text).0 != nil, "\(text)")
        }
        for text in ["1e3", "9999999999999999", "0.1234567890123456", "\"12\"", "null"] {
            #expect(parsed(text).0 == nil, "\(text)")
        }
    }

    /// Random decimals of every length up to 17 digits with up to 24 places, both signs.
    @Test func randomDecimalsMatchTheParser() {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ n: UInt64) -> UInt64 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (seed >> 33) % n
        }
        var fastCount = 0
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
            let (fast, general) = parsed(s + ",")
            if let fast {
                fastCount += 1
                #expect(
                    general.map { Self.same(fast, $0) } == true, "\(s): \(fast) against \(String(describing: general))")
            }
        }
        #expect(fastCount > 10_000)
    }

    @Test func plainIntegerMatchesTheParser() {
        for text in [
            "0", "-0", "7", "-7", "1699999998701", "12345678", "123456789", "999999999999999999", "1.5", "1e3",
        ] {
            let bytes = Array((text + "}").utf8)
            let fast = bytes.withUnsafeBytes { JSONParser.plainInteger($0) }
            let general = bytes.withUnsafeBytes { JSONParser.value(at: 0, in: $0) }
            if let fast { #expect(general.map { Self.same(.int(fast), $0) } == true, "\(text)") }
        }
        #expect(Array("1699999998701}".utf8).withUnsafeBytes { JSONParser.plainInteger($0) } == 1_699_999_998_701)
        #expect(Array("1.5}".utf8).withUnsafeBytes { JSONParser.plainInteger($0) } == nil)
    }
}
