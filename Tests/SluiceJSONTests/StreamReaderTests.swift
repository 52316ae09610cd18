import Foundation
import SluiceJSON
import Testing

/// Reads `text` through `JSONStreamReader` from a file, with a small chunk size so that
/// values straddle chunk boundaries.
func readAll(_ text: [UInt8], format: JSONInputFormat, chunk: Int = 7, limits: JSONLimits = .default) throws -> (values: [String], malformed: [JSONChunk.Malformed], lines: [Int]) {
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
        var text = Array("{\"ok\":1}\n\"".utf8) + [UInt8](repeating: UInt8(ascii: "y"), count: 5000) + Array("\"\n[2]\n".utf8)
        let r = try readAll(text, format: .jsonl, chunk: 64, limits: JSONLimits(maxDepth: 512, maxEventSize: 1000))
        #expect(r.values == [#"{"ok":1}"#, "[2]"])
        #expect(r.lines == [1, 3])
        #expect(r.malformed.count == 1)
        #expect(r.malformed.first?.truncated == true)
        #expect(r.malformed.first?.line == 2)
        text = []
    }
}
