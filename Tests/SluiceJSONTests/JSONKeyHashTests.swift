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
}
