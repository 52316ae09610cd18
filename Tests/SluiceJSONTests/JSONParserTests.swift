import SluiceJSON
import Testing

@Suite struct JSONParserTests {
    @Test func numbersKeepTheirKind() throws {
        #expect(try JSONParser.parse("1") == .int(1))
        #expect(try JSONParser.parse("1.0") == .double(1.0))
        #expect(try JSONParser.parse("-0") == .int(0))
        #expect(try JSONParser.parse("1e2") == .double(100))
        #expect(try JSONParser.parse("-9223372036854775808") == .int(Int64.min))
        #expect(try JSONParser.parse("9223372036854775808") == .double(9223372036854775808.0))
        #expect(try JSONParser.parse("0.1") == .double(0.1))
        #expect(try JSONParser.parse("123456789012345678901234567890") == .double(1.2345678901234568e29))
    }

    /// Validation steps over a number's digits eight bytes at a time: wherever a run of
    /// digits ends (before, at or after an eight-byte boundary, near the end of the text),
    /// the byte after it is judged exactly as parsing judges it.
    @Test func digitRunsEndAtTheRightByte() {
        let after: [(String, Bool)] = [
            (" ", true), (",1", true), ("0", true), ("9", true), ("/", false), (":", false), ("a", false),
            ("é", false), ("\u{7F}", false), ("\u{0}", false),
        ]
        for digits in 1...20 {
            let run = String(repeating: "7", count: digits)
            // (Exponents of zero and negative ones: a large exponent of 1 is out of range.)
            for form in [run, "-" + run, "0." + run, "0e" + run, "1.5E-" + run, run + "." + run] {
                for (tail, valid) in after {
                    for padding in 0...9 {
                        // The number inside an array, shifted by `padding` spaces.
                        let text = "[" + String(repeating: " ", count: padding) + form + tail + "]"
                        let bytes = Array(text.utf8)
                        let error = bytes.withUnsafeBytes { JSONParser.validate($0) }
                        let parses = (try? JSONParser.parse(text)) != nil
                        #expect((error == nil) == valid, "\(text)")
                        #expect(parses == valid, "\(text)")
                    }
                }
                // At the very end of the text, and cut short by it.
                let whole = Array(form.utf8)
                #expect(whole.withUnsafeBytes { JSONParser.validate($0) } == nil, "\(form)")
                #expect(
                    whole.withUnsafeBytes { JSONParser.scanPrefix($0, from: 0) } == .incomplete, "\(form)")
                let spaced = Array((form + " ").utf8)
                #expect(
                    spaced.withUnsafeBytes { JSONParser.scanPrefix($0, from: 0) } == .complete(end: whole.count),
                    "\(form)")
            }
        }
    }

    @Test func writerPrintsShortestForms() {
        #expect(JSONWriter.string(.double(12.5)) == "12.5")
        #expect(JSONWriter.string(.double(5)) == "5.0")
        #expect(JSONWriter.string(.double(0.1)) == "0.1")
        #expect(JSONWriter.string(.double(.nan)) == "null")
        #expect(JSONWriter.string(.int(-42)) == "-42")
        #expect(JSONWriter.string(.string("a\"b\\c\n\u{1}é")) == #""a\"b\\c\n\u0001é""#)
        // Short plain strings take a quicker path than long or escaped ones: same text.
        let long = String(repeating: "k", count: 70)
        #expect(JSONWriter.string(.string(long)) == "\"" + long + "\"")
        #expect(JSONWriter.string(.string("")) == #""""#)
        let object = JSON.object(JSONObject([("a\"b", .int(1)), ("", .int(2)), (long, .int(3)), ("é", .int(4))]))
        #expect(JSONWriter.string(object) == #"{"a\"b":1,"":2,""# + long + #"":3,"é":4}"#)
    }

    @Test func objectsKeepKeyOrderAndTheFirstDuplicate() throws {
        let text = #"{"b":1,"a":2,"b":3}"#
        let v = try JSONParser.parse(text)
        #expect(JSONWriter.string(v) == #"{"b":1,"a":2}"#)
        // The field scanner agrees with the parser.
        #expect(Array(text.utf8).withUnsafeBytes { JSONParser.field("b", in: $0) } == .int(1))
    }

    @Test func depthLimitIsAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONError.self) { try JSONParser.parse(deep) }
        let ok = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        #expect((try? JSONParser.parse(ok)) != nil)
        let tooDeep = String(repeating: "[", count: 513) + String(repeating: "]", count: 513)
        do {
            _ = try JSONParser.parse(tooDeep)
            Issue.record("parsed 513 levels")
        } catch {
            #expect(error.message == "nesting deeper than 512 levels")
        }
    }

    @Test func errorsSayWhatAndWhere() {
        do {
            _ = try JSONParser.parse(#"{"a":1,}"#)
            Issue.record("accepted a trailing comma")
        } catch {
            #expect(error.message == "unexpected '}' where an object key was expected")
            #expect(error.offset == 7)
        }
    }

    @Test func surrogatePairsDecode() throws {
        #expect(try JSONParser.parse(#""\ud83d\ude00""#) == .string("😀"))
        #expect(try JSONParser.parse(#""\ud800""#) == .string("\u{FFFD}"))
    }

    @Test func scanPrefixFindsValueEnds() {
        let text = Array(#"{"a":1} [2] 3"#.utf8)
        text.withUnsafeBytes { buf in
            #expect(JSONParser.scanPrefix(buf, from: 0) == .complete(end: 7))
            #expect(JSONParser.scanPrefix(buf, from: 8) == .complete(end: 11))
            // A number at the end of the buffer may continue.
            #expect(JSONParser.scanPrefix(buf, from: 12) == .incomplete)
        }
        let cut = Array(#"{"a":"#.utf8)
        cut.withUnsafeBytes { #expect(JSONParser.scanPrefix($0, from: 0) == .incomplete) }
    }
}
