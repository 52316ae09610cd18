import PropertyBased
import SluiceJSON
import Testing

/// A small deterministic generator, so that a failing seed reproduces the same value.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(_ seed: Int64) { state = UInt64(bitPattern: seed) }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random JSON values: every kind, nested, with awkward strings and numbers.
func randomJSON(_ rng: inout SplitMix64, depth: Int = 0) -> JSON {
    let kind = Int.random(in: 0..<(depth > 4 ? 5 : 7), using: &rng)
    switch kind {
    case 0: return .null
    case 1: return .bool(Bool.random(using: &rng))
    case 2:
        switch Int.random(in: 0..<3, using: &rng) {
        case 0: return .int(Int64.random(in: -1000...1000, using: &rng))
        case 1: return .int(Int64(bitPattern: rng.next()))
        default: return .int([Int64.min, Int64.max, 0, -1][Int.random(in: 0..<4, using: &rng)])
        }
    case 3:
        switch Int.random(in: 0..<3, using: &rng) {
        case 0: return .double(Double(Int.random(in: -100_000...100_000, using: &rng)) / 8)
        case 1:
            // Any finite bit pattern: shortest-form printing must read back exactly.
            var d = Double(bitPattern: rng.next())
            while !d.isFinite { d = Double(bitPattern: rng.next()) }
            return .double(d)
        default: return .double([0.0, -0.0, 1e300, Double.leastNonzeroMagnitude, 0.1, 1e22, 1e23, 123456789.125][Int.random(in: 0..<8, using: &rng)])
        }
    case 4: return .string(randomString(&rng))
    case 5:
        return .array((0..<Int.random(in: 0...5, using: &rng)).map { _ in randomJSON(&rng, depth: depth + 1) })
    default:
        var o = JSONObject()
        for _ in 0..<Int.random(in: 0...5, using: &rng) { o[randomString(&rng)] = randomJSON(&rng, depth: depth + 1) }
        return .object(o)
    }
}

func randomString(_ rng: inout SplitMix64) -> String {
    let alphabet: [Unicode.Scalar] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{0}", "\u{1F}", "\u{7F}", "é", "€", "😀", "\u{FFFF}", "\u{10FFFF}"]
    var s = String.UnicodeScalarView()
    for _ in 0..<Int.random(in: 0...12, using: &rng) { s.append(alphabet[Int.random(in: 0..<alphabet.count, using: &rng)]) }
    return String(s)
}

@Suite struct JSONPropertyTests {
    @Test func writeThenParseGivesTheSameValue() async {
        await propertyCheck(count: 2000, input: Gen.int64()) { seed in
            var rng = SplitMix64(seed)
            let value = randomJSON(&rng)
            let text = JSONWriter.string(value)
            let back = try? JSONParser.parse(text)
            #expect(back == value, "seed \(seed): \(text)")
            // Kinds survive: an int never comes back as a double or the reverse.
            if case .double(let d)? = back, case .double(let e) = value { #expect(d.sign == e.sign) }
        }
    }

    @Test func validatorAgreesWithParserOnWrittenValues() async {
        await propertyCheck(count: 1000, input: Gen.int64()) { seed in
            var rng = SplitMix64(seed)
            var bytes: [UInt8] = []
            JSONWriter.write(randomJSON(&rng), into: &bytes)
            #expect(bytes.withUnsafeBytes { JSONParser.validate($0) } == nil)
        }
    }

    @Test func fieldScanMatchesFullParse() async {
        await propertyCheck(count: 1000, input: Gen.int64()) { seed in
            var rng = SplitMix64(seed)
            var o = JSONObject()
            for i in 0..<Int.random(in: 1...6, using: &rng) { o["k\(i)"] = randomJSON(&rng, depth: 2) }
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
        await propertyCheck(count: 2000, input: Gen.int64()) { seed in
            let d = Double(bitPattern: UInt64(bitPattern: seed))
            var out = Array("x".utf8)
            JSONWriter.writeDouble(d, into: &out)
            let expected = d.isFinite ? d.description : "null"
            #expect(String(decoding: out, as: UTF8.self) == "x" + expected)
        }
    }
}

@Suite struct MultiFieldScanTests {
    @Test func manyFieldsInOnePassMatchFullParse() async {
        await propertyCheck(count: 500, input: Gen.int64()) { seed in
            var rng = SplitMix64(seed)
            var o = JSONObject()
            for i in 0..<Int.random(in: 1...6, using: &rng) { o["k\(i)"] = randomJSON(&rng, depth: 2) }
            var bytes: [UInt8] = []
            JSONWriter.write(.object(o), into: &bytes)
            let keys = ["k0", "missing", "k3", "k1"]
            var out: [JSON?] = []
            bytes.withUnsafeBytes { JSONParser.fields(keys.map { Array($0.utf8) }, in: $0, into: &out) }
            #expect(out == keys.map { o[$0] })
        }
    }
}
