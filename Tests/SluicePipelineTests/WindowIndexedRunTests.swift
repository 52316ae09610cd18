import Foundation
import SluiceConnectors
import SluiceCore
import SluiceJSON
import SluicePipeline
import Testing

/// A window over a file input reads its key and inputs, and the pipeline its event time,
/// at the offsets the reader recorded (FieldIndex): a short plain string key is hashed
/// from its bytes, an integer time is read without a general parse. Whatever the lines
/// look like, the results must be those of the same events given parsed, which take the
/// general path.
@Suite struct WindowIndexedRunTests {
    static func pipeline(_ window: String) -> String {
        """
        inputs: { in: { stdin: {} } }
        time: { field: ts, lateness: 2s }
        streams:
          main:
            from: in
            steps:
              - window: \(window)
        outputs:
          out: { from: [main], stdout: {} }
          late: { from: [main.late], stdout: {} }
          bad: { from: [main.rejected], stdout: {} }
        """
    }

    static let windows = [
        "{ key: user, tumbling: 10s, aggregate: { n: count(), total: sum(amount), top: max(amount) } }",
        "{ key: user, session: { gap: 3s }, aggregate: { n: count(), total: sum(amount) } }",
        "{ key: user, hopping: { size: 10s, every: 5s }, aggregate: { n: count(), low: min(amount) } }",
    ]

    /// Keys on both sides of every fast-path line: short and long, escaped, non-ASCII
    /// (one equal to a short ASCII key), empty, numbers, null, other types, missing.
    static let keys = [
        #""u1""#, #""u2""#, #""abcdefghijklmno""#, #""abcdefghijklmnop""#, #""abcdefgh""#, #""""#,
        #""\u0075\u0031""#, #""u\"q""#, #""é""#, #""\u212A""#, #""K""#, #""Ke\u0301""#, #""Ké""#,
        "7", "7.0", "-3", "null", "true", "[1,2]", #"{"a":1}"#,
    ]

    @Test(arguments: windows)
    func indexedFileRunMatchesParsedEvents(window: String) throws {
        var seed: UInt64 = 0x2545_F491_4F6C_DD1D
        func next(_ n: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((seed >> 33) % UInt64(n))
        }
        var lines: [String] = []
        var t: Int64 = 1_700_000_000_000
        for i in 0..<1500 {
            // Mostly forward, sometimes back (late events), now and then far ahead.
            switch next(20) {
            case 0: t -= Int64(next(15_000))
            case 1: t += Int64(next(40_000))
            default: t += Int64(next(400))
            }
            var members = [#""id":\#(i)"#]
            if next(25) != 0 { members.append(#""user":\#(Self.keys[next(Self.keys.count)])"#) }
            switch next(12) {
            case 0: break
            case 1: members.append(#""amount":"12""#)
            case 2: members.append(#""amount":null"#)
            case 3: members.append(#""amount":\#(next(1000))"#)
            default: members.append(#""amount":\#(JSONWriter.string(.double(Double(next(100_000)) / 100)))"#)
            }
            switch next(40) {
            case 0: members.append(#""ts":"soon""#)
            case 1: members.append(#""ts":\#(t).5"#)
            case 2: members.append(#""ts":\#(t / 1000)e3"#)
            case 3: break
            default: members.append(#""ts":\#(t)"#)
            }
            if next(30) == 0 { members.append(#""ts":1"#) }  // a repeated key: the first counts
            if next(5) == 0 { members.swapAt(0, members.count - 1) }
            let spaced = next(8) == 0
            lines.append(
                spaced ? "{ " + members.joined(separator: " , ") + " }" : "{" + members.joined(separator: ",") + "}")
        }
        let p = try compile(Self.pipeline(window))
        let expected = try p.collect([
            "in": lines.map { InputItem.event(try! JSONParser.parse(Array($0.utf8))) }
        ])
        let (out, late, bad) = try runFile(p, lines)
        func texts(_ events: [Event]) -> [String] { events.map { JSONWriter.string($0.value) } }
        #expect(texts(out) == texts(expected.outputs["out"] ?? []))
        #expect(texts(late).sorted() == texts(expected.outputs["late"] ?? []).sorted())
        #expect(texts(bad).sorted() == texts(expected.outputs["bad"] ?? []).sorted())
        #expect(out.count > 100 && bad.count > 10)
    }

    /// The source reads an indexed integer time itself (`IndexedTime`), in every unit;
    /// times and malformed events must be those of the same events given parsed, which
    /// `assign` reads: overflowing seconds, fractions, exponents, strings, missing times.
    @Test(arguments: ["s", "ms", "us", "ns"])
    func indexedTimeMatchesParsedEvents(unit: String) throws {
        let p = try compile(
            """
            inputs: { in: { stdin: {} } }
            time: { field: ts, unit: \(unit), lateness: 1s }
            streams:
              main:
                from: in
                steps: [ { filter: "true" } ]
            outputs:
              out: { from: [main], stdout: {} }
              bad: { from: [in.malformed], stdout: {} }
            """)
        let times = [
            "1699999998701", "-1699999998701", "0", "-0", "17", "-999", "1234567", "9223372036854775",
            "-9223372036854776",
            "922337203685477580", "999999999999999999", "1.5", "-2.25", "17e2", "\"2024-01-01T00:00:00Z\"", "\"x\"",
            "null",
        ]
        var lines: [String] = []
        for (i, t) in times.enumerated() {
            lines.append(#"{"id":\#(i),"ts":\#(t)}"#)
            lines.append(#"{"ts":\#(t),"id":\#(i)}"#)
            lines.append(#"{ "id" : \#(i) , "ts" : \#(t) }"#)
        }
        lines.append(#"{"id":99}"#)
        let expected = try p.collect(["in": lines.map { InputItem.event(try! JSONParser.parse(Array($0.utf8))) }])
        let got = try runFromFile(p, lines, outputs: ["out", "bad"])
        func stamped(_ events: [Event]) -> [String] { events.map { "\(JSONWriter.string($0.value)) @\($0.time)" } }
        #expect(stamped(got["out"] ?? []) == stamped(expected.outputs["out"] ?? []))
        // The file's dead letters also carry their line: compared without it.
        func dead(_ events: [Event]) -> [String] {
            events.map { e in
                let message = e.value["error"]?["message"].map { JSONWriter.string($0) } ?? "?"
                return message + " " + (e.value["event"].map { JSONWriter.string($0) } ?? "?")
            }.sorted()
        }
        #expect(dead(got["bad"] ?? []) == dead(expected.outputs["bad"] ?? []))
        #expect((got["out"] ?? []).count > 20 && (got["bad"] ?? []).count >= 4)
    }

    /// Runs `lines` through `p` from a file (so the reader indexes fields): out, late, bad.
    func runFile(_ p: Pipeline, _ lines: [String]) throws -> ([Event], [Event], [Event]) {
        let got = try runFromFile(p, lines, outputs: ["out", "late", "bad"], duplicateKeys: .first)
        return (got["out"] ?? [], got["late"] ?? [], got["bad"] ?? [])
    }
}
