import Foundation
import SluiceCore
import SluiceJSON
import SluicePipeline
import SluiceTestSupport
import Testing

/// Runs `yaml` (reading stdin, writing stdout) over `input` as a whole run does, from a
/// file to a file; returns the output lines and the dead-letter counts.
func runOverFile(
    _ yaml: String, input: [UInt8], format: JSONInputFormat? = nil, duplicateKeys: DuplicateKeyPolicy? = nil
) throws -> (lines: [String], deadLetters: [String: Int], dlq: [String]) {
    let pipeline: Pipeline
    switch Result(catching: { () throws(Diagnostics) in try Pipeline.compile(yaml: yaml, file: "p.yaml") }) {
    case .success(let p): pipeline = p
    case .failure(let d): throw d
    }
    let dir = NSTemporaryDirectory() + "sluice-path-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    _ = FileManager.default.createFile(atPath: dir + "/in", contents: Data(input))
    var options = RunOptions()
    options.inputs[""] = dir + "/in"
    options.outputs[""] = dir + "/out"
    options.deadLetterPath = dir + "/dlq"
    options.format = format
    options.duplicateKeys = duplicateKeys
    let run = try pipeline.start(options)
    _ = run.wait()
    func lines(_ path: String) -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .dropLast().map(String.init)
    }
    var dead: [String: Int] = [:]
    for (n, c) in run.deadLetters { dead[n] = c }
    return (lines(dir + "/out"), dead, lines(dir + "/dlq"))
}

let passThrough = """
    steps:
      - filter: "true"
    """

@Suite struct PipelinePathTests {
    static let suite = "conformance/json/test_parsing"

    /// Every `y_` file of JSONTestSuite read with `--format json` comes out as one line
    /// holding the same value: a value that spans lines is written compactly.
    @Test(.enabled(if: SharedSuites.available(suite)))
    func everyAcceptedFileIsOneLinePerValue() throws {
        let folder = try SharedSuites.url(Self.suite)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix("y_") }
            .sorted()
        #expect(names.count == 95)
        var failures: [String] = []
        for name in names {
            let bytes = [UInt8](try Data(contentsOf: folder.appendingPathComponent(name)))
            // Two files repeat a key (`{"a":"b","a":"c"}`); accept them here (see below).
            let r = try runOverFile(passThrough, input: bytes, format: .json, duplicateKeys: .last)
            let expected = try bytes.withUnsafeBytes { try JSONParser.parse($0, duplicateKeys: .last) }
            guard r.lines.count == 1, r.deadLetters.isEmpty else {
                failures.append("\(name): \(r.lines.count) lines, dead letters \(r.deadLetters)")
                continue
            }
            let line = r.lines[0]
            if line.utf8.contains(0x0D) { failures.append("\(name): carriage return in the output line") }
            if (try? JSONParser.parse(line, maxDepth: 1024)) != expected {
                failures.append("\(name): \(line) is not the value read")
            }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    @Test func aValueSpanningLinesIsWrittenOnOneLine() throws {
        let text = "{\"a\":\n [1,\n 2],\r\n \"b\": \"x\\ny\"}\n{\"c\":  3}  [\n]"
        let r = try runOverFile(passThrough, input: Array(text.utf8), format: .json)
        // The one-line value keeps its bytes; the others are re-encoded compactly.
        #expect(r.lines == [#"{"a":[1,2],"b":"x\ny"}"#, #"{"c":  3}"#, "[]"])
    }

    @Test func repeatedKeysAreMalformedByDefault() throws {
        let input = Array("{\"a\":1,\"a\":2}\n{\"a\":1}\n{\"x\":{\"k\":1,\"k\":1}}\n{\"b\":1,\"\\u0062\":2}\n".utf8)
        let r = try runOverFile("steps:\n  - filter: \"a == 1\"\n", input: input)
        #expect(r.lines == [#"{"a":1}"#])
        #expect(r.deadLetters["in.malformed"] == 3)
        #expect(r.dlq.count == 3)
        #expect(r.dlq.first?.contains(#"repeated key \"a\""#) == true)
        #expect(r.dlq.first?.contains("duplicate_keys") == true)
        let json = try runOverFile(passThrough, input: input, format: .json)
        #expect(json.lines == [#"{"a":1}"#])
        #expect(json.deadLetters["in.malformed"] == 3)
    }

    @Test func repeatedKeysCanBeAcceptedAndAreWrittenOnce() throws {
        let input = Array("{\"a\":1,\"b\":0,\"a\":2}\n{\"x\":{\"k\":1,\"k\":3}}\n".utf8)
        // first: Sluice reads a = 1 and writes only that.
        let first = try runOverFile(
            "steps:\n  - filter: \"has(event.x) || a == 1\"\n", input: input, duplicateKeys: .first)
        #expect(first.lines == [#"{"a":1,"b":0}"#, #"{"x":{"k":1}}"#])
        // last: a = 2 at a's first place, as JavaScript and Python read it.
        let last = try runOverFile(
            "steps:\n  - filter: \"has(event.x) || a == 2\"\n", input: input, duplicateKeys: .last)
        #expect(last.lines == [#"{"a":2,"b":0}"#, #"{"x":{"k":3}}"#])
        // The pipeline's input option does the same.
        let yaml = """
            inputs:
              in: { stdin: {}, duplicate_keys: last }
            streams:
              s: { from: in, steps: [ { filter: "has(event.x) || a == 2" } ] }
            outputs:
              out: { from: [s], stdout: {} }
            """
        #expect(try runOverFile(yaml, input: input).lines == last.lines)
    }
}
