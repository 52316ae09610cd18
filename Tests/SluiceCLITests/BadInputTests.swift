import Foundation
import Testing

/// Bad input never stops a run: every bad event is reported with its line number and
/// goes to `malformed`, the good ones flow on, exit 0.
@Suite struct BadInputTests {
    /// Runs a pass-through pipeline over `bytes` (as a file) with `--dlq`; returns the
    /// result and the dead letters, one JSON text per line.
    func passThrough(_ bytes: [UInt8]) throws -> (CLIResult, [String]) {
        let dir = try CLI.folder(["p.yaml": "steps: []\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("in.jsonl")
        try Data(bytes).write(to: input)
        let dlq = dir.appendingPathComponent("dlq.jsonl")
        let r = try CLI.run([
            "run", dir.appendingPathComponent("p.yaml").path, "--input", input.path, "--dlq", dlq.path,
        ])
        let dead = (try? String(contentsOf: dlq, encoding: .utf8)) ?? ""
        return (r, dead.split(separator: "\n").map(String.init))
    }

    @Test func binaryGarbageAndATruncatedLastLine() throws {
        var bytes: [UInt8] = [0xFF, 0xFE, 0x00, 0x01, 0x80, 0x0A]
        bytes += Array(#"{"ok":1}"#.utf8) + [0x0A]
        bytes += Array(#"{"ok":2,"cut":"#.utf8)
        let (r, dead) = try passThrough(bytes)
        #expect(r.status == 0)
        #expect(r.stdout == "{\"ok\":1}\n")
        #expect(dead.count == 2)
        #expect(dead.first?.contains(#""line":1"#) == true)
        #expect(dead.last?.contains(#""line":3"#) == true)
        #expect(r.stderr.contains("in.malformed: 2"))
    }

    @Test func invalidUTF8InAString() throws {
        let bytes = Array(#"{"s":""#.utf8) + [0xC3, 0x28] + Array("\"}\n{\"s\":\"é\"}\n".utf8)
        let (r, dead) = try passThrough(bytes)
        #expect(r.status == 0)
        #expect(r.stdout == "{\"s\":\"é\"}\n")
        #expect(dead.count == 1)
        #expect(dead.first?.contains("invalid UTF-8") == true)
    }

    @Test func aHundredMegabyteLineIsReportedNotBuffered() throws {
        var bytes = Array(#"{"n":1}"#.utf8) + [0x0A]
        bytes += Array(#"{"big":""#.utf8)
        bytes += [UInt8](repeating: UInt8(ascii: "x"), count: 100 << 20)
        bytes += Array("\"}\n".utf8) + Array(#"{"n":3}"#.utf8) + [0x0A]
        let (r, dead) = try passThrough(bytes)
        #expect(r.status == 0)
        #expect(r.stdout == "{\"n\":1}\n{\"n\":3}\n")
        #expect(dead.count == 1)
        #expect(dead.first?.contains(#""line":2"#) == true)
        #expect(dead.first?.contains("larger than the 16777216-byte limit") == true)
        #expect(dead.first?.contains(#""truncated":true"#) == true)
        #expect((dead.first?.utf8.count ?? 0) < 4096)
    }

    @Test func nestingAHundredThousandDeep() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let (r, dead) = try passThrough(Array((deep + "\n[1]\n").utf8))
        #expect(r.status == 0)
        #expect(r.stdout == "[1]\n")
        #expect(dead.count == 1)
        #expect(dead.first?.contains("nesting deeper than 512 levels") == true)
    }

    @Test func anEmptyFileAndBlankLines() throws {
        for bytes in [[UInt8](), Array("\n\n  \n\t\n\r\n".utf8)] {
            let (r, dead) = try passThrough(bytes)
            #expect(r.status == 0)
            #expect(r.stdout == "")
            #expect(r.stderr == "")
            #expect(dead.isEmpty)
        }
    }

    /// `sluice run ... | head -1`: the reader goes away; sluice stops quietly, exit 0.
    @Test func aClosedPipeStopsTheRunQuietly() throws {
        let dir = try CLI.folder(["p.yaml": "steps: []\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("in.jsonl")
        var text = ""
        for i in 0..<200_000 { text += "{\"i\":\(i)}\n" }
        try text.write(to: input, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = CLI.binary
        p.arguments = ["run", dir.appendingPathComponent("p.yaml").path, "--input", input.path]
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        _ = out.fileHandleForReading.readData(ofLength: 16)
        try out.fileHandleForReading.close()
        p.waitUntilExit()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(p.terminationStatus == 0)
        #expect(stderr == "")
    }

    /// An output that cannot be written is a runtime failure with a clear message.
    @Test func anUnwritableOutputIsExitOne() throws {
        let dir = try CLI.folder([
            "p.yaml": """
            inputs: { in: { stdin: {} } }
            streams: { main: { from: in } }
            outputs: { out: { from: [main], file: { path: no/such/dir/out.jsonl } } }
            """
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run(["run", dir.appendingPathComponent("p.yaml").path], stdin: "{}\n")
        #expect(r.status == 1)
        #expect(r.stderr.contains("cannot open"))
        #expect(r.stderr.contains("no/such/dir/out.jsonl"))
    }
}
