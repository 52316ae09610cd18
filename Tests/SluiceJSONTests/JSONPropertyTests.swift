import PropertyBased
import SluiceJSON
import Testing

/// Generators of JSON values: every kind, nested, with awkward strings and numbers. Built
/// from PropertyBased's generators, so a failing value shrinks (fewer members, smaller
/// numbers, shorter strings) before it is reported.
enum JSONGen {
    static let alphabet: [Unicode.Scalar] = [
        "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{0}", "\u{1F}", "\u{7F}", "é", "€", "😀", "\u{FFFF}",
        "\u{10FFFF}",
    ]

    static let string = Gen<Unicode.Scalar?>.element(of: alphabet).array(of: 0...12)
        .map { scalars in String(String.UnicodeScalarView(scalars.map { $0 ?? "a" })) }

    static let int = Gen<JSON>.oneOf(
        Gen.int64(in: -1000...1000).map { JSON.int($0) }.eraseToAny(),
        Gen.int64().map { JSON.int($0) }.eraseToAny(),
        Gen<Int64?>.element(of: [Int64.min, Int64.max, 0, -1]).map { JSON.int($0 ?? 0) }.eraseToAny()
    )

    static let double = Gen<JSON>.oneOf(
        Gen.int(in: -100_000...100_000).map { JSON.double(Double($0) / 8) }.eraseToAny(),
        // Any finite bit pattern: shortest-form printing must read back exactly.
        Gen.uint64().map { bits -> JSON in
            let d = Double(bitPattern: bits)
            return .double(d.isFinite ? d : 0.5)
        }.eraseToAny(),
        Gen<Double?>.element(of: [0.0, -0.0, 1e300, Double.leastNonzeroMagnitude, 0.1, 1e22, 1e23, 123456789.125])
            .map { JSON.double($0 ?? 0) }.eraseToAny()
    )

    static let scalar = Gen<JSON>.oneOf(
        Gen.always(JSON.null).eraseToAny(),
        Gen.bool.map { JSON.bool($0) }.eraseToAny(),
        int.eraseToAny(),
        double.eraseToAny(),
        string.map { JSON.string($0) }.eraseToAny()
    )

    /// Any value, nested at most `depth` levels.
    static func value(depth: Int = 5) -> Generator<JSON, AnySequence<Any>> {
        guard depth > 0 else { return scalar.eraseToAny() }
        let inner = value(depth: depth - 1)
        return Gen<JSON>.frequency([
            (5, scalar.eraseToAny()),
            (1, inner.array(of: 0...5).map { JSON.array($0) }.eraseToAny()),
            (1, object(inner, of: 0...5).eraseToAny()),
        ]).eraseToAny()
    }

    /// Objects of `count` members with keys from ``string`` and values from `values`.
    static func object(_ values: Generator<JSON, AnySequence<Any>>, of count: ClosedRange<Int>) -> Generator<
        JSON, AnySequence<Any>
    > {
        zip(string, values).array(of: count).map { members in
            var o = JSONObject()
            for (k, v) in members { o[k] = v }
            return JSON.object(o)
        }.eraseToAny()
    }

    /// Objects with keys `k0`, `k1`, ... (one to six) and values nested at most `depth`.
    static func numberedObject(depth: Int) -> Generator<JSONObject, AnySequence<Any>> {
        value(depth: depth).array(of: 1...6).map { values in
            var o = JSONObject()
            for (i, v) in values.enumerated() { o["k\(i)"] = v }
            return o
        }.eraseToAny()
    }
}

@Suite struct JSONPropertyTests {
    @Test func writeThenParseGivesTheSameValue() async {
        await propertyCheck(count: 2000, input: JSONGen.value()) { value in
            let text = JSONWriter.string(value)
            let back = try? JSONParser.parse(text)
            #expect(back == value, "\(text)")
            // Kinds survive: an int never comes back as a double or the reverse.
            if case .double(let d)? = back, case .double(let e) = value { #expect(d.sign == e.sign) }
        }
    }

    @Test func validatorAgreesWithParserOnWrittenValues() async {
        await propertyCheck(count: 1000, input: JSONGen.value()) { value in
            var bytes: [UInt8] = []
            JSONWriter.write(value, into: &bytes)
            #expect(bytes.withUnsafeBytes { JSONParser.validate($0) } == nil)
        }
    }

    @Test func fieldScanMatchesFullParse() async {
        await propertyCheck(count: 1000, input: JSONGen.numberedObject(depth: 3)) { o in
            var bytes: [UInt8] = []
            JSONWriter.write(.object(o), into: &bytes)
            for key in o.keys + ["missing"] {
                let scanned = bytes.withUnsafeBytes { JSONParser.field(key, in: $0) }
                #expect(scanned == o[key])
            }
        }
    }
}

@Suite struct DoubleTextTests {
    /// The writer prints a double as Swift's `description` does (the shortest text that
    /// reads back to it), for any bit pattern, appended after what is already there.
    @Test func doublesPrintAsTheirDescription() async {
        await propertyCheck(count: 2000, input: Gen.uint64()) { bits in
            let d = Double(bitPattern: bits)
            var out = Array("x".utf8)
            JSONWriter.writeDouble(d, into: &out)
            let expected = d.isFinite ? d.description : "null"
            #expect(String(decoding: out, as: UTF8.self) == "x" + expected)
        }
    }

    /// Whole numbers take a shortcut of their own: the same text as `description`, on
    /// both sides of 2^53 (where the description switches to an exponent), for zero and
    /// negative zero, and for random whole numbers of every size.
    @Test func wholeNumbersPrintAsTheirDescription() async {
        let edges: [Double] = [
            0, -0.0, 1, -1, 9, 10, 14593, 1e15, 9_007_199_254_740_991, 9_007_199_254_740_992,
            -9_007_199_254_740_992, 9_007_199_254_740_994, 1e16, -1e16, 1e17, 1e300, 0.5, -0.5,
        ]
        func text(_ d: Double) -> String {
            var out: [UInt8] = []
            JSONWriter.writeDouble(d, into: &out)
            return String(decoding: out, as: UTF8.self)
        }
        for d in edges { #expect(text(d) == d.description, "\(d)") }
        await propertyCheck(count: 2000, input: Gen.uint64()) { bits in
            // A whole number of 0 to 63 significant bits, of either sign.
            let d = Double(Int64(bitPattern: bits) >> Int64(bits % 64))
            #expect(text(d) == d.description)
        }
    }

    /// Integers (one writer for events and the store's metadata) print as their
    /// description: at every digit-count boundary, both signs, and at random.
    @Test func integersPrintAsTheirDescription() async {
        var edges: [Int64] = [0, Int64.max, Int64.min, Int64.min + 1]
        var p: Int64 = 1
        for _ in 0..<19 {
            edges += [p - 1, p, p + 1, -(p - 1), -p, -(p + 1)]
            if p <= Int64.max / 10 { p *= 10 }
        }
        func text(_ v: Int64) -> String {
            var out: [UInt8] = []
            JSONWriter.writeInt(v, into: &out)
            return String(decoding: out, as: UTF8.self)
        }
        for v in edges { #expect(text(v) == v.description, "\(v)") }
        await propertyCheck(count: 2000, input: Gen.uint64()) { bits in
            // 0 to 63 significant bits, of either sign.
            let v = Int64(bitPattern: bits) >> Int64(bits % 64)
            #expect(text(v) == v.description)
        }
    }
}

/// ``JSONWriter/write(_:at:)`` (enrich and map write new fields straight into an
/// event's bytes) against ``JSONWriter/write(_:into:)``: the same text for every scalar,
/// within ``JSONWriter/scalarBound(_:)``.
@Suite struct PointerWriterTests {
    func both(_ v: JSON) -> (String, String) {
        var array: [UInt8] = []
        JSONWriter.write(v, into: &array)
        guard let bound = JSONWriter.scalarBound(v) else { return ("", "no bound") }
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: bound)
        defer { p.deallocate() }
        let n = JSONWriter.write(v, at: p)
        #expect(n <= bound)
        return (
            String(decoding: array, as: UTF8.self),
            String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
        )
    }

    @Test func scalarsWriteTheSameTextAtAPointer() async {
        let fixed: [JSON] = [
            .null, true, false, 0, -1, .int(Int64.min), .int(Int64.max), 0.0, -0.0, 1e300, -2.2250738585072014e-308,
            .double(.infinity), .double(.nan), 12345.000000000002, "", "plain", "q\"\\\n\r\t\u{8}\u{c}\u{1}\u{1f}é😀",
            .string(String(repeating: "\u{1}", count: 40)),
        ]
        for v in fixed {
            let (a, b) = both(v)
            #expect(a == b, "\(v)")
        }
        #expect(JSONWriter.scalarBound([1, 2]) == nil)
        #expect(JSONWriter.scalarBound(["a": 1]) == nil)
        await propertyCheck(count: 2000, input: Gen.uint64()) { bits in
            let (a, b) = both(.double(Double(bitPattern: bits)))
            #expect(a == b)
            let (c, d) = both(.int(Int64(bitPattern: bits) >> Int64(bits % 64)))
            #expect(c == d)
            let scalars = (0..<Int(bits % 12)).map { i in
                Unicode.Scalar(UInt8(truncatingIfNeeded: bits >> (i * 5)) & 0x7F)
            }
            let (e, f) = both(.string(String(String.UnicodeScalarView(scalars))))
            #expect(e == f)
        }
    }
}

/// ``JSONWriter/verbatimScalar(at:in:)`` (map copies such a value's text instead of
/// parsing and writing it): whenever it gives a text, that text is what writing the
/// parsed value gives; and it gives one for plain strings, integers and literals.
@Suite struct VerbatimScalarTests {
    /// The verbatim text of the first value of the object `{"v":TEXT}`, and what writing
    /// that value gives.
    func check(_ text: String) -> (verbatim: String?, written: String) {
        let object = Array(("{\"v\":" + text + ",\"w\":1}").utf8)
        return object.withUnsafeBytes { bytes in
            let verbatim = JSONWriter.verbatimScalar(at: 5, in: bytes).map { String(decoding: $0, as: UTF8.self) }
            let value = (try? JSONParser.parse(bytes))?["v"] ?? .null
            return (verbatim, JSONWriter.string(value))
        }
    }

    @Test func verbatimTextIsWhatWritingGives() async {
        let texts = [
            #""plain""#, #""""#, #""with \"quote\"""#, #""tab\t""#, #""\u0041""#, #""é""#, #""a/b""#, "0", "-0", "7",
            "-12", "123456789012345678", "1234567890123456789", "-9223372036854775808", "9223372036854775807",
            "99999999999999999999", "1.0", "1.5", "1e3", "1E3", "-0.0", "true", "false", "null", "[1]", "{\"a\":1}",
        ]
        for t in texts {
            let (v, w) = check(t)
            if let v { #expect(v == w, "\(t): verbatim \(v), written \(w)") }
        }
        for t in [#""plain""#, #""""#, #""a/b""#, "0", "7", "-12", "123456789012345678", "true", "false", "null"] {
            #expect(check(t).verbatim == t, "\(t)")
        }
        await propertyCheck(count: 2000, input: Gen.uint64()) { bits in
            let n = Int64(bitPattern: bits) >> Int64(bits % 64)
            let (v, w) = check(String(n))
            if let v { #expect(v == w) }
            let scalars = (0..<Int(bits % 12)).map { i in
                Unicode.Scalar(UInt8(truncatingIfNeeded: bits >> (i * 5)) & 0x7F)
            }
            let s = JSONWriter.string(.string(String(String.UnicodeScalarView(scalars))))
            let (x, y) = check(s)
            if let x { #expect(x == y, "\(s)") }
        }
    }
}

@Suite struct MultiFieldScanTests {
    @Test func manyFieldsInOnePassMatchFullParse() async {
        await propertyCheck(count: 500, input: JSONGen.numberedObject(depth: 3)) { o in
            var bytes: [UInt8] = []
            JSONWriter.write(.object(o), into: &bytes)
            let keys = ["k0", "missing", "k3", "k1"]
            var out: [JSON?] = []
            bytes.withUnsafeBytes { JSONParser.fields(keys.map { Array($0.utf8) }, in: $0, into: &out) }
            #expect(out == keys.map { o[$0] })
        }
    }
}
