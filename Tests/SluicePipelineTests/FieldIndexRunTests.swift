import Foundation
import SluiceConnectors
import SluiceCore
import SluiceJSON
import SluicePipeline
import Testing

/// A file input records where the fields the pipeline reads start while it validates
/// each line (FieldIndex); steps then read them from those offsets. Whatever the lines
/// look like, the results must be those of the same events given parsed, which read
/// fields the ordinary way.
@Suite struct FieldIndexRunTests {
    static let yaml = """
        inputs: { in: { stdin: {} } }
        streams:
          main:
            from: in
            key: user
            parallelism: 2
            steps:
              - filter: has(event.amount) && amount > 10.0 || country == "US"
              - enrich: { set: { cents: int(amount * 100.0), big: amount > 50.0 } }
        outputs:
          out: { from: [main], stdout: {} }
          bad: { from: [main.rejected], stdout: {} }
        """

    static let lines = [
        #"{"user":"a","amount":12.5,"country":"DE"}"#,
        #"{"user":"b","amount":5.0,"country":"US"}"#,
        #"{"user":"c","country":"US"}"#,
        #"{"amount":99.0,"user":"d","country":"FR"}"#,
        #"{"user":"e","amount":20.0,"amount":1.0,"country":"DE"}"#,
        #"{"user":"f","\u0061mount":70.0,"country":"DE"}"#,
        #"{"user":"g","amount":30.0,"cents":1,"country":"DE"}"#,
        #"{ "user" : "h" , "amount" : 1e2 , "country" : "JP" }"#,
        #"{"user":"i","amount":"11","country":"DE"}"#,
        #"[1,2,3]"#,
        #"{"user":"j","nested":{"amount":500.0},"amount":15.0,"country":"BR"}"#,
    ]

    func texts(_ events: [Event]) -> [String] { events.map { JSONWriter.string($0.value) }.sorted() }

    /// Filters that read only indexed fields bind raw events by their bytes, without a
    /// copy; fan-out gives every stream the same events.
    static let fanOut = """
        inputs: { in: { stdin: {} } }
        streams:
          a: { from: in, steps: [ { filter: 'amount > 10.0' } ] }
          b: { from: in, steps: [ { filter: 'country == "US" || country == "JP"' } ] }
          c: { from: in, steps: [ { filter: 'amount > 10.0 && user != "e"' } ] }
        outputs:
          out: { from: [a, b, c], stdout: {} }
          bad: { from: [a.rejected, b.rejected, c.rejected], stdout: {} }
        """

    @Test func indexedFileRunMatchesParsedEvents() throws {
        try check(Self.yaml, kept: 8)
        try check(Self.fanOut, kept: 16)
    }

    func check(_ yaml: String, kept: Int) throws {
        let p = try compile(yaml)
        let expected = try p.collect([
            "in": Self.lines.compactMap { line in
                (try? JSONParser.parse(Array(line.utf8))).map { InputItem.event($0) }
            }
        ])
        let path = NSTemporaryDirectory() + "sluice-field-index-\(UUID().uuidString).jsonl"
        _ = FileManager.default.createFile(
            atPath: path, contents: Data((Self.lines.joined(separator: "\n") + "\n").utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        var options = RunOptions()
        options.inputs["in"] = path
        // Line e repeats a key: accepted with the first value, as the parsed events have it.
        options.duplicateKeys = .first
        let out = CollectingSink(name: "out")
        let bad = CollectingSink(name: "bad")
        options.sinks = ["out": out, "bad": bad]
        let run = try p.start(options)
        #expect(run.wait() == .completed)
        #expect(texts(out.events) == texts(expected.outputs["out"] ?? []))
        #expect(texts(bad.events) == texts(expected.outputs["bad"] ?? []))
        #expect(out.events.count == kept)
    }
}
