import Foundation
import SluiceJSON
import Testing

/// The reader's flat-object fast path (`JSONParser.validateFlat`) against the general
/// validator, on random event-like lines and on mutations of them: it may decline a line
/// (the general path then reads it), but whatever it accepts the general path must
/// accept too, without a repeated key, with the same field offsets.
@Suite struct FlatObjectTests {
    /// SplitMix64: a deterministic stream of random numbers, so a failure repeats.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func pick<T>(_ a: [T]) -> T { a[below(a.count)] }
    }

    static let keys: [[UInt8]] = [
        "id", "type", "user", "amount", "country", "ts", "a", "b", "abcdefg", "abcdefgh", "abcdefghijklmnop",
        "abcdefghijklmnoq", "k0", "", #"\u0061"#, #"a\"b"#, "é", "tab\there",
    ].map { Array($0.utf8) }

    static let values: [[UInt8]] =
        [
            "1", "-0", "0", "0.5", "-12.25", "1699999998701", "123456789012345678901234", "1e5", "1E-7", "2.5e+3",
            "1E400", "-", "01", "1.", ".5", "-a", "1.e3", "\"click\"", "\"u760\"", "\"\"", #""a\"b""#, #""\u00e9""#,
            #""\ud83d\ude00""#, #""\x""#, #""\u12g4""#, "\"é€😀\"", "\"a long string, more than sixteen bytes\"",
            "true", "false", "null", "tru", "fals", "nul", "truex", "{}", "[]", #"{"a":1,"a":2}"#,
            #"{"a":{"b":[1,{}]}}"#,
            "[1,2,\"x\"]", "[1,]", "{\"a\"}", "\"unterminated", "\"tab\there\"",
        ].map { Array($0.utf8) } + [
            [0x22, 0xC3, 0x28, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],
            [0x22, 0xE2, 0x82, 0x22], [0x22, 0x01, 0x22], [0x22, 0x7F, 0x22], [0x22, 0xC2, 0xA9, 0x22],
        ]

    /// Bytes a mutation writes: structure, string and number bytes, controls, UTF-8.
    static let noise: [UInt8] =
        Array("\"\\{}[],: \t\r\n0159.-+eEtfnu/x".utf8) + [0x00, 0x1F, 0x7F, 0x80, 0xC3, 0xED, 0xFF]

    /// An event-like line: members from the pools above, compact or spaced, then up to
    /// three random edits.
    static func line(_ r: inout Random) -> [UInt8] {
        var out: [UInt8] = []
        if r.below(8) == 0 { out += Array("  ".utf8) }
        out.append(UInt8(ascii: "{"))
        let members = r.below(10)
        let spaced = r.below(3) == 0
        for i in 0..<members {
            if i > 0 { out += spaced ? Array(", ".utf8) : [UInt8(ascii: ",")] }
            out.append(UInt8(ascii: "\""))
            out += r.pick(keys)
            out.append(UInt8(ascii: "\""))
            out += spaced ? Array(": ".utf8) : [UInt8(ascii: ":")]
            // Mostly the plain scalars of events, sometimes anything in the pool.
            out += r.below(4) == 0 ? r.pick(values) : r.pick(Array(values[0..<6] + values[17..<20] + values[27..<30]))
        }
        out.append(UInt8(ascii: "}"))
        if r.below(8) == 0 { out += Array(" \t".utf8) }
        for _ in 0..<r.below(4) {
            guard !out.isEmpty else { break }
            let at = r.below(out.count)
            switch r.below(4) {
            case 0: out[at] = r.pick(noise)
            case 1: out.insert(r.pick(noise), at: at)
            case 2: out.remove(at: at)
            default: out.removeSubrange(at...)
            }
        }
        return out
    }

    @Test func acceptsOnlyWhatTheGeneralPathAcceptsWithTheSameOffsets() {
        var r = Random(state: 22)
        let index = FieldIndex(["amount", "user", "abcdefghijklmnop", "k0", "a", "é"])
        var accepted = 0
        var valid = 0
        for _ in 0..<40_000 {
            let bytes = Self.line(&r)
            bytes.withUnsafeBytes { buf in
                let general = JSONParser.validate(buf, duplicateKeys: .reject)
                if general == nil { valid += 1 }
                for idx in [nil, index] {
                    var fast = FieldOffsets()
                    guard JSONParser.validateFlat(buf, index: idx, offsets: &fast) else { continue }
                    if idx == nil { accepted += 1 }
                    #expect(general == nil, "accepted: \(String(decoding: bytes, as: UTF8.self))")
                    if let idx {
                        var slow = FieldOffsets()
                        #expect(JSONParser.validate(buf, index: idx, offsets: &slow) == nil)
                        #expect(fast == slow, "offsets: \(String(decoding: bytes, as: UTF8.self))")
                    } else {
                        #expect(fast.isEmpty)
                    }
                }
            }
        }
        // The fast path must take most valid lines, or the test exercises nothing.
        #expect(accepted > valid / 2, "fast path took \(accepted) of \(valid) valid lines")
    }

    @Test func declinesAtEveryCutOfAnEvent() {
        // Every prefix of events (too short to be whole) and every single-byte change.
        let events = [
            #"{"id":1,"type":"click","user":"u760","amount":145.93,"country":"FR","ts":1699999998701}"#,
            #"{"a": true, "b": false, "c": null, "d": [1, {"e": "f"}], "g": -0.5e-3, "h": "\u00e9\n"}"#,
            #"{"abcdefghijklmnop":"abcdefghijklmnopqrstu","abcdefghijklmnoq":"é€"}"#,
        ]
        for event in events {
            let bytes = Array(event.utf8)
            var offsets = FieldOffsets()
            #expect(bytes.withUnsafeBytes { JSONParser.validateFlat($0, index: nil, offsets: &offsets) })
            for n in 0..<bytes.count {
                let prefix = Array(bytes[0..<n])
                #expect(!prefix.withUnsafeBytes { JSONParser.validateFlat($0, index: nil, offsets: &offsets) })
                for b in Self.noise {
                    var changed = bytes
                    changed[n] = b
                    changed.withUnsafeBytes { buf in
                        if JSONParser.validateFlat(buf, index: nil, offsets: &offsets) {
                            #expect(
                                JSONParser.validate(buf, duplicateKeys: .reject) == nil,
                                "\(String(decoding: changed, as: UTF8.self))")
                        }
                    }
                }
            }
        }
    }

    @Test func theReaderReportsWhatTheGeneralPathFinds() throws {
        // Lines read through the reader (fast path first) against each line validated on
        // its own: the same values, with the same offsets, and the same errors at the
        // same columns, whatever the chunk size (values straddle chunk boundaries).
        var r = Random(state: 7)
        var lines: [[UInt8]] = []
        for _ in 0..<3000 {
            var l = Self.line(&r)
            l.removeAll { $0 == 0x0A }
            lines.append(l)
        }
        var text: [UInt8] = []
        for l in lines { text += l + [0x0A] }
        let index = FieldIndex(["amount", "user", "k0"])
        let path = NSTemporaryDirectory() + "sluice-flat-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: path, contents: Data(text))
        defer { try? FileManager.default.removeItem(atPath: path) }
        for chunk in [7, 100, 64 << 10] {
            for idx in [nil, index] {
                let fd = open(path, O_RDONLY)
                defer { close(fd) }
                var reader = JSONStreamReader(fd: fd, chunkSize: chunk, fieldIndex: idx)
                var got: [Int: String] = [:]
                var offsets: [Int: FieldOffsets] = [:]
                while let c = try reader.next() {
                    for v in c.values {
                        got[v.line] = "ok"
                        offsets[v.line] = v.offsets
                    }
                    for m in c.malformed { got[m.line] = m.message }
                }
                for (i, line) in lines.enumerated() {
                    var s = 0
                    var e = line.count
                    while s < e, [0x20, 0x09, 0x0D].contains(line[s]) { s += 1 }
                    while e > s, [0x20, 0x09, 0x0D].contains(line[e - 1]) { e -= 1 }
                    let trimmed = Array(line[s..<e])
                    if trimmed.isEmpty {
                        #expect(got[i + 1] == nil)
                        continue
                    }
                    trimmed.withUnsafeBytes { buf in
                        // A syntax error is reported before a repeated key found earlier.
                        if let err = JSONParser.validate(buf) ?? JSONParser.validate(buf, duplicateKeys: .reject) {
                            let message = got[i + 1] ?? "nil"
                            #expect(
                                message.hasPrefix("invalid JSON: \(err.message)")
                                    && message.hasSuffix("(column \(err.offset + s + 1))"),
                                "line \(i + 1), chunk \(chunk): \(message)")
                        } else {
                            #expect(got[i + 1] == "ok", "line \(i + 1), chunk \(chunk)")
                            var want = FieldOffsets()
                            if let idx { _ = JSONParser.validate(buf, index: idx, offsets: &want) }
                            #expect(offsets[i + 1] == want, "line \(i + 1), chunk \(chunk)")
                        }
                    }
                }
            }
        }
    }
}
