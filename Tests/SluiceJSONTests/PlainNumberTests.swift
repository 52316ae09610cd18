import SluiceJSON
import Testing

/// `JSONParser.plainInteger(_:)` (the event time's) is a fast reader: whenever it answers,
/// the answer must be the parser's; anything else it leaves to the parser.
/// (`JSONParser.shortNumber(at:in:)`'s cases are in `ShortNumberTests`.)
@Suite struct PlainNumberTests {
    static func same(_ a: JSON, _ b: JSON) -> Bool {
        switch (a, b) {
        case (.int(let x), .int(let y)): x == y
        case (.double(let x), .double(let y)): x.bitPattern == y.bitPattern
        default: false
        }
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
