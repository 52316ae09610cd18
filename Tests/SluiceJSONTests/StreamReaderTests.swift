import Foundation
import SluiceJSON
import Testing

/// Reads `text` through `JSONStreamReader` from a file, with a small chunk size so that
/// values straddle chunk boundaries.
func readAll(_ text: [UInt8], format: JSONInputFormat, chunk: Int = 7, limits: JSONLimits = .default) throws -> (
    values: [String], malformed: [JSONChunk.Malformed], lines: [Int]
) {
    let path = NSTemporaryDirectory() + "sluice-reader-\(UUID().uuidString)"
    _ = FileManager.default.createFile(atPath: path, contents: Data(text))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let fd = open(path, O_RDONLY)
    defer { close(fd) }
    var reader = JSONStreamReader(fd: fd, format: format, limits: limits, chunkSize: chunk)
    var values: [String] = []
    var lines: [Int] = []
    var bad: [JSONChunk.Malformed] = []
    while let c = try reader.next() {
        for v in c.values {
            values.append(String(decoding: c.buffer.bytes(v.start, v.count), as: UTF8.self))
            lines.append(v.line)
        }
        bad += c.malformed
    }
    return (values, bad, lines)
}

@Suite struct StreamReaderTests {
    @Test func jsonLinesAcrossSmallChunks() throws {
        let r = try readAll(Array("{\"a\":1}\n\n  [1, 2]  \r\n\"x\"\nnope\n{\"b\":2}".utf8), format: .jsonl)
        #expect(r.values == [#"{"a":1}"#, "[1, 2]", #""x""#, #"{"b":2}"#])
        #expect(r.lines == [1, 3, 4, 6])
        #expect(r.malformed.map(\.line) == [5])
        #expect(r.malformed.first?.raw == "nope")
    }

    @Test func concatenatedValuesAsJqReadsThem() throws {
        let text = "{\"a\":\n 1} {\"b\":2}[3]\n 42 17\n\"s\"\ntrue"
        let r = try readAll(Array(text.utf8), format: .json)
        #expect(r.values == ["{\"a\":\n 1}", #"{"b":2}"#, "[3]", "42", "17", #""s""#, "true"])
        #expect(r.lines == [1, 2, 2, 3, 3, 4, 5])
        #expect(r.malformed.isEmpty)
    }

    @Test func concatenatedValuesRecoverAfterAnErrorAtTheNextLine() throws {
        let r = try readAll(Array("{\"a\":1}\n{\"b\": oops} {\"c\":1}\n{\"d\":4}\n".utf8), format: .json)
        #expect(r.values == [#"{"a":1}"#, #"{"d":4}"#])
        #expect(r.malformed.map(\.line) == [2])
    }

    @Test func aNumberAtTheVeryEndIsAValue() throws {
        let r = try readAll(Array("[1] 17".utf8), format: .json, chunk: 3)
        #expect(r.values == ["[1]", "17"])
        #expect(r.malformed.isEmpty)
    }

    @Test func aValueCutOffAtTheEndIsMalformed() throws {
        let r = try readAll(Array("[1] {\"a\":".utf8), format: .json)
        #expect(r.values == ["[1]"])
        #expect(r.malformed.count == 1)
    }

    @Test func oversizedLinesAreSkippedWithTheirStart() throws {
        var text =
            Array("{\"ok\":1}\n\"".utf8) + [UInt8](repeating: UInt8(ascii: "y"), count: 5000) + Array("\"\n[2]\n".utf8)
        let r = try readAll(text, format: .jsonl, chunk: 64, limits: JSONLimits(maxDepth: 512, maxEventSize: 1000))
        #expect(r.values == [#"{"ok":1}"#, "[2]"])
        #expect(r.lines == [1, 3])
        #expect(r.malformed.count == 1)
        #expect(r.malformed.first?.truncated == true)
        #expect(r.malformed.first?.line == 2)
        text = []
    }
}

@Suite struct RepeatedKeyTests {
    /// The repeated-key error of `text` (validated with `.reject`), or nil.
    func repeated(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { JSONParser.validate($0, duplicateKeys: .reject)?.message }
    }

    @Test func repeatedKeysAreFoundAtEveryLevel() {
        #expect(repeated(#"{"a":1,"a":2}"#)?.contains(#"repeated key "a""#) == true)
        #expect(repeated(#"{"a":1,"b":{"c":1,"d":[{"e":1,"e":1}]}}"#)?.contains(#""e""#) == true)
        #expect(repeated(#"[{"a":1},{"a":2}]"#) == nil)
        #expect(repeated(#"{"a":{"a":1},"b":{"a":1}}"#) == nil)
        #expect(repeated(#"{"abcdefghij":1,"abcdefghik":2,"abcdefghij":3}"#) != nil)
        #expect(repeated(#"{"abcdefghij":1,"abcdefghik":2}"#) == nil)
        #expect(repeated(#"{"":1,"":2}"#) != nil)
        #expect(repeated(#"{"a":1,"aa":2,"a\u0000":3}"#) == nil)
    }

    @Test func keysCompareDecodedAsSluiceReadsThem() {
        // An escape, and canonically equivalent spellings (JSONObject keys compare so).
        #expect(repeated(#"{"a":1,"\u0061":2}"#) != nil)
        #expect(repeated(#"{"\u0061":1,"a":2}"#) != nil)
        #expect(repeated("{\"\u{E9}\":1,\"e\u{301}\":2}") != nil)
        #expect(repeated("{\"K\":1,\"\u{212A}\":2}") != nil)
        #expect(repeated(#"{"a\"":1,"a\\":2}"#) == nil)
    }

    @Test func earlierKeysAreFoundPastNestedValuesAndWhitespace() {
        // Every count of keys up to past the hash-set threshold, the repeat last, with
        // values that hold quotes, braces and escaped keys of their own.
        for n in 1...40 {
            let members = (0..<n).map { i in
                "\n  \"key\(i)\" :\t{\"x\":[1,{\"key\(i)\":\"}\\\"{\"}],\"\\u0061\":null} "
            }
            #expect(repeated("{ " + members.joined(separator: ",") + "}") == nil, "\(n) keys")
            for j in [0, n / 2, n - 1] {
                let again = members + ["\"key\(j)\": 1"]
                #expect(
                    repeated("{ " + again.joined(separator: ",") + "}")?.contains("\"key\(j)\"") == true,
                    "\(n) keys, key\(j) again")
            }
        }
    }

    @Test func shortKeysAreReadInOneLoadAndStillCompared() {
        // Keys under eight bytes are stepped over with one load when eight bytes follow
        // them; others, and keys too close to the end, byte by byte. A repeat is found
        // whichever way each of the two was read, at every length around the boundary.
        for n in 0...10 {
            let key = String("abcdefghijk".prefix(n))
            let longer = key + "z"
            for tail in ["", ",\"pad\":\"" + String(repeating: "p", count: 20) + "\""] {
                #expect(repeated("{\"\(key)\":1,\"\(key)\":2\(tail)}")?.contains("\"\(key)\"") == true, "\(n)")
                #expect(repeated("{\"\(key)\":1,\"\(longer)\":2\(tail)}") == nil, "\(n)")
                #expect(repeated("{\"\(longer)\":1,\"\(key)\":2\(tail)}") == nil, "\(n)")
                // The same key spelled with an escape after the plain one, and before it.
                if n > 0 {
                    let escaped = "\\u00" + String(key.utf8.first ?? 0, radix: 16) + key.dropFirst()
                    #expect(repeated("{\"\(key)\":1,\"\(escaped)\":2\(tail)}") != nil, "\(n)")
                    #expect(repeated("{\"\(escaped)\":1,\"\(key)\":2\(tail)}") != nil, "\(n)")
                }
            }
        }
    }

    @Test func largeObjectsAreCheckedInLinearTime() {
        var many = (0..<50_000).map { "\"k\($0)\":\($0)" }
        #expect(repeated("{" + many.joined(separator: ",") + "}") == nil)
        many.append("\"k777\":0")
        #expect(repeated("{" + many.joined(separator: ",") + "}")?.contains(#""k777""#) == true)
        // Escaped spellings in a large object too.
        many[many.count - 1] = #""\u006b777":0"#
        #expect(repeated("{" + many.joined(separator: ",") + "}") != nil)
    }

    @Test func theIndexingReaderFindsThemToo() throws {
        // Top-level objects are validated by the indexing path when the pipeline reads fields.
        func object(_ n: Int, repeat j: Int?) -> String {
            var members = (0..<n).map { "\"k\($0)\":{\"k\($0)\":[\($0)]}" }
            if let j { members.append("\"k\(j)\":0") }
            return "{" + members.joined(separator: ",") + "}"
        }
        let lines = [
            object(5, repeat: nil), object(5, repeat: 3), object(40, repeat: nil), object(40, repeat: 39),
            object(40, repeat: 0),
        ]
        let path = NSTemporaryDirectory() + "sluice-dup-index-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: path, contents: Data((lines.joined(separator: "\n") + "\n").utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        var reader = JSONStreamReader(fd: fd, chunkSize: 64, fieldIndex: FieldIndex(["k1", "k39"]))
        var good: [Int] = []
        var bad: [Int] = []
        while let c = try reader.next() {
            good += c.values.map(\.line)
            bad += c.malformed.map(\.line)
        }
        #expect(good == [1, 3])
        #expect(bad == [2, 4, 5])
    }

    @Test func theReaderRejectsOrMarksForRewriting() throws {
        let text = Array("{\"a\":1,\"a\":2}\n{\"b\":1}\n".utf8)
        let r = try readAll(text, format: .jsonl)
        #expect(r.values == [#"{"b":1}"#])
        #expect(r.malformed.first?.message.contains(#"repeated key "a""#) == true)
        #expect(r.malformed.first?.message.contains("column 8") == true)

        let path = NSTemporaryDirectory() + "sluice-dup-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: path, contents: Data(text))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        var reader = JSONStreamReader(fd: fd, duplicateKeys: .last)
        var values = 0
        var rewritten: [Int] = []
        while let c = try reader.next() {
            rewritten += c.rewritten.map { $0 + values }
            values += c.values.count
            #expect(c.malformed.isEmpty)
        }
        #expect(values == 2)
        #expect(rewritten == [0])
        let parsed = try Array(#"{"a":1,"b":2,"a":3}"#.utf8).withUnsafeBytes {
            try JSONParser.parse($0, duplicateKeys: .last)
        }
        #expect(parsed == ["a": 3, "b": 2])
    }
}
