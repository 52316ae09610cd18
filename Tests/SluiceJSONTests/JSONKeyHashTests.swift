import SluiceJSON
import Testing

@Suite struct JSONKeyHashTests {
    @Test func equalKeysHashAlikeHoweverSpelled() throws {
        for (a, b) in [
            (#""u12""#, #""\u0075\u00312""#), (#""K""#, #""\u212A""#), (#"7"#, #"7"#), (#""é""#, #""e\u0301""#),
        ] {
            let x = try JSONParser.parse(Array(a.utf8))
            let y = try JSONParser.parse(Array(b.utf8))
            #expect(x == y)
            #expect(JSONKeyHash.hash(x) == JSONKeyHash.hash(y), "\(a) and \(b)")
        }
    }

    @Test func rawStringsHashInPlaceExactlyAsParsedOnes() throws {
        for text in [#""u12""#, #""""#, #""user-42, with spaces""#] {
            let bytes = Array((text + #", "next": 1}"#).utf8)
            let raw = bytes.withUnsafeBytes { JSONKeyHash.rawString($0) }
            #expect(raw == JSONKeyHash.hash(try JSONParser.parse(Array(text.utf8))))
        }
        // Escapes, non-ASCII bytes, non-strings and unterminated strings are left to the parser.
        for text in [#""a\"b""#, #""é""#, "12", #""open"#] {
            #expect(Array(text.utf8).withUnsafeBytes { JSONKeyHash.rawString($0) } == nil)
        }
    }

    /// Every kind of key hashes the same in every process (Swift's own hash is seeded per
    /// process): a checkpoint's key groups must name the same keys when a run resumes.
    /// The constants were computed once; a hash seeded per process would not match them.
    @Test func hashesAreTheSameInEveryProcess() throws {
        let cases: [(String, UInt64)] = [
            ("null", 5_931_101_971_301_343_892), ("true", 3_912_083_873_445_542_950),
            ("2.5", 13_372_406_568_046_769_132),
            (#"[1,"a",null]"#, 9_098_865_621_848_333_057), (#"{"a":1,"b":[true]}"#, 16_973_411_513_898_328_717),
            (#""Zürich""#, 6_307_960_301_824_667_456),
        ]
        for (text, want) in cases {
            let got = JSONKeyHash.hash(try JSONParser.parse(Array(text.utf8)))
            #expect(got == want, "\(text): \(got)")
        }
    }

    @Test func equalCompositeKeysHashAlike() throws {
        for (a, b) in [(#"[1,"é"]"#, #"[1,"e\u0301"]"#), ("0.0", "-0.0"), (#"{"k":"\u212A"}"#, #"{"k":"K"}"#)] {
            let x = try JSONParser.parse(Array(a.utf8))
            let y = try JSONParser.parse(Array(b.utf8))
            #expect(x == y)
            #expect(JSONKeyHash.hash(x) == JSONKeyHash.hash(y), "\(a) and \(b)")
        }
    }
}
