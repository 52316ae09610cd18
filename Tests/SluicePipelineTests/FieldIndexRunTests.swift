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

    /// Enrich appends its fields to a copy of the event's bytes and map writes its map
    /// as text (both recording where the indexed fields are): later steps must read the
    /// new fields, a `set` of a field the event has must replace it where it is, and the
    /// output must be the text the parsed events give (for compact lines, the same bytes).
    static let appendAndMap = """
        inputs: { in: { stdin: {} } }
        streams:
          main:
            from: in
            steps:
              - enrich:
                  set: { big: amount > 250.0, amount_cents: int(amount * 100.0), uid: user, tag: 'user + "!"' }
              - filter: big || amount_cents % 3 == 0 || tag == "u3!"
              - enrich: { set: { half: double(amount_cents) / 2.0, again: big, user: 'tag + "?"', who: user } }
          mapped:
            from: in
            steps:
              - map: '{"id": id, "big": amount > 250.0, "amount_cents": int(amount * 100.0), "u": user, "a": amount}'
              - filter: big || amount_cents % 2 == 0 || u == "u3"
              - enrich: { set: { c2: amount_cents + 1 } }
          odd:
            from: in
            steps:
              # An infinite value (a conversion error) before a failing read (an evaluation
              # error, which wins), a list (not a scalar), strings and doubles.
              - map: '{"inf": amount * 10.0, "u": user, "h": half}'
          odd2:
            from: in
            steps:
              - map: '{"d": amount / 3.0, "b": !(amount > 1.0), "u": user, "i": id, "s": user + "!", "n": -id}'
          oddEnrich:
            from: in
            steps:
              - enrich: { set: { inf: amount * 10.0, u2: user, d: amount / 3.0, s: 'user + "!"' } }
        outputs:
          out: { from: [main], stdout: {} }
          out2: { from: [mapped], stdout: {} }
          out3: { from: [odd, odd2, oddEnrich], stdout: {} }
          bad: { from: [main.rejected, mapped.rejected, odd.rejected, odd2.rejected, oddEnrich.rejected], stdout: {} }
        """

    @Test func appendedAndMappedEventsMatchParsedEvents() throws {
        // Deterministic pseudo-random events: compact, with the enriched fields present
        // now and then, odd whitespace, escaped strings, missing or non-number amounts.
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ n: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((seed >> 33) % UInt64(n))
        }
        var lines: [String] = []
        var compact: [Bool] = []
        for i in 0..<400 {
            var members = [#""id":\#(i)"#, #""user":"u\#(next(5))""#]
            switch next(8) {
            case 0: break
            case 1:
                let odd = [
                    #""amount":"12""#, #""amount":-0"#, #""amount":2.50e1"#, #""amount":0.05"#, #""amount":-0.0"#,
                    #""amount":1e2"#, #""amount":9999999999999999.5"#, #""amount":123456789012345678"#,
                    #""amount":250.00000000000001"#, #""amount":1e308"#,
                ]
                members.append(odd[next(odd.count)])
            case 2: members.append(#""amount":\#(next(100_000))"#)
            default: members.append(#""amount":\#(JSONWriter.string(.double(Double(next(100_000)) / 100)))"#)
            }
            // Values map copies as their text, and values whose text is not what
            // writing them gives (escapes, non-ASCII; `-0` and a double's long form
            // among the amounts).
            switch next(12) {
            case 0: members[1] = #""user":"\u0075\#(next(5))""#
            case 1: members[1] = #""user":"ü\#(next(5))""#
            default: break
            }
            if next(15) == 0 { members.remove(at: 1) }  // no user: `"u": user` fails
            if next(10) == 0 { members.append(#""big":"already""#) }
            if next(10) == 0 { members.append(#""tag":"t\"q\\""#) }
            if next(12) == 0 { members.append(#""half":[1,{"x":null}]"#) }
            if next(6) == 0 { members.swapAt(0, members.count - 1) }
            let spaced = next(8) == 0
            lines.append(
                spaced ? "{ " + members.joined(separator: " , ") + " }" : "{" + members.joined(separator: ",") + "}")
            compact.append(!spaced)
        }
        lines.append("{}")
        compact.append(true)
        let p = try compile(Self.appendAndMap)
        let expected = try p.collect([
            "in": lines.map { InputItem.event(try! JSONParser.parse(Array($0.utf8))) }
        ])
        let got = try runFromFile(p, lines, outputs: ["out", "out2", "out3", "bad"])
        let (out, out2, out3, bad) = (got["out"] ?? [], got["out2"] ?? [], got["out3"] ?? [], got["bad"] ?? [])
        #expect(texts(out) == texts(expected.outputs["out"] ?? []))
        #expect(texts(out2) == texts(expected.outputs["out2"] ?? []))
        #expect(texts(out3) == texts(expected.outputs["out3"] ?? []))
        #expect(out3.count > 300)
        #expect(texts(bad) == texts(expected.outputs["bad"] ?? []))
        #expect(out.count > 100 && out2.count > 100 && bad.count > 10)
        // Events whose input line was compact are written as the parsed events are.
        let compactIDs = Set(lines.indices.filter { compact[$0] }.map { Int64($0) })
        func written(_ events: [Event]) -> [String] {
            events.filter { e in
                e.value["id"].map { if case .int(let i) = $0 { compactIDs.contains(i) } else { false } } ?? false
            }
            .map(\.description).sorted()
        }
        #expect(written(out) == written(expected.outputs["out"] ?? []))
        #expect(written(out2) == written(expected.outputs["out2"] ?? []))
        // A set of a field the event has keeps its place: `user` stays second.
        if let e = out.first(where: { !compactIDs.isEmpty && $0.value["id"] == 1 }) {
            #expect(e.value.objectValue?.keys.prefix(2) == ["id", "user"])
        }
    }

    func check(_ yaml: String, kept: Int) throws {
        let p = try compile(yaml)
        let expected = try p.collect([
            "in": Self.lines.compactMap { line in
                (try? JSONParser.parse(Array(line.utf8))).map { InputItem.event($0) }
            }
        ])
        // Line e repeats a key: accepted with the first value, as the parsed events have it.
        let got = try runFromFile(p, Self.lines, outputs: ["out", "bad"], duplicateKeys: .first)
        let out = got["out"] ?? []
        #expect(texts(out) == texts(expected.outputs["out"] ?? []))
        #expect(texts(got["bad"] ?? []) == texts(expected.outputs["bad"] ?? []))
        #expect(out.count == kept)
    }
}

/// Runs `lines` through `p` from a file, so that the reader indexes fields as it does for
/// `sluice run` (`pipeline.collect` hands over parsed events): the events each output of
/// `outputs` received, by name. The run must complete.
func runFromFile(
    _ p: Pipeline, _ lines: [String], outputs: [String], duplicateKeys: DuplicateKeyPolicy? = nil
) throws -> [String: [Event]] {
    let path = NSTemporaryDirectory() + "sluice-indexed-run-\(UUID().uuidString).jsonl"
    _ = FileManager.default.createFile(atPath: path, contents: Data((lines.joined(separator: "\n") + "\n").utf8))
    defer { try? FileManager.default.removeItem(atPath: path) }
    var options = RunOptions()
    options.inputs["in"] = path
    options.duplicateKeys = duplicateKeys
    let sinks = outputs.map { CollectingSink(name: $0) }
    options.sinks = Dictionary(uniqueKeysWithValues: zip(outputs, sinks.map { $0 as any EventSink & Sendable }))
    let run = try p.start(options)
    #expect(run.wait() == .completed)
    return Dictionary(uniqueKeysWithValues: zip(outputs, sinks.map(\.events)))
}
