import SluiceConnectors
import SluiceCore
import SluiceJSON
import SluicePipeline
import Testing

func compile(_ yaml: String, params: [String: String] = [:]) throws -> Pipeline {
    try Pipeline.compile(yaml: yaml, file: "p.yaml", params: params)
}

func diagnostics(_ yaml: String) -> [String] {
    switch Result(catching: { () throws(Diagnostics) in try Pipeline.compile(yaml: yaml, file: "p.yaml") }) {
    case .success(let p): return p.warnings.items.map(\.description)
    case .failure(let d): return d.items.map(\.description)
    }
}

func events(_ values: [JSON]) -> [InputItem] { values.map { .event($0) } }

@Suite struct GraphTests {
    @Test func fanOutGivesEveryStreamEveryEventAndFanInMerges() throws {
        let p = try compile(
            """
            inputs:
              events: { stdin: {} }
            streams:
              big:
                from: events
                steps: [ { filter: "amount > 10" } ]
              small:
                from: events
                steps: [ { filter: "amount <= 10" } ]
              all:
                from: events
            outputs:
              both: { from: [big, small], stdout: {} }
              copy: { from: [all], stdout: {} }
            """)
        let input: [JSON] = (1...100).map { ["amount": .int(Int64($0))] }
        let (out, outcome) = try p.collect(["events": events(input)])
        #expect(outcome == .completed)
        #expect(out["copy"]?.map(\.value) == input)
        #expect(
            Set((out["both"] ?? []).map { JSONWriter.string($0.value) }) == Set(input.map { JSONWriter.string($0) }))
        #expect(out["big"]?.count == 90)
        #expect(out["small"]?.count == 10)
    }

    @Test func sideOutputsCanBeReadByStreamsAndOutputs() throws {
        let p = try compile(
            """
            inputs:
              in: { stdin: {} }
            streams:
              clean:
                from: in
                steps: [ { filter: "amount > 0" } ]
              fixed:
                from: clean.rejected
                steps: [ { map: "event.event" } ]
            outputs:
              out: { from: [clean], stdout: {} }
              bad: { from: [fixed, in.malformed], stdout: {} }
            """)
        let (out, _) = try p.collect(["in": events([["amount": 5], ["x": 1], ["amount": -1]])])
        #expect(out["out"]?.map(\.value) == [["amount": 5]])
        #expect(out["bad"]?.map(\.value) == [["x": 1]])
    }

    @Test func everyGraphMistakeIsADiagnosticWithAPlace() {
        let d = diagnostics(
            """
            inputs:
              in: { stdin: {} }
            streams:
              a: { from: b }
              b: { from: a }
              c: { from: nope }
              d: { from: a.lat }
            outputs:
              o1: { from: [c, in.bogus], file: { path: out.jsonl } }
              o2: { from: [d], file: out.jsonl }
            """)
        #expect(d.contains { $0.hasPrefix("p.yaml:4:") && $0.contains("streams form a cycle: a -> b -> a") })
        #expect(d.contains { $0.hasPrefix("p.yaml:6:14: error: unknown source 'nope' in stream 'c'") })
        #expect(d.contains { $0.hasPrefix("p.yaml:7:14: error: no step of stream 'a' produces side output 'lat'") })
        #expect(d.contains { $0.contains("input 'in' has no side output 'bogus'") })
        #expect(d.contains { $0.contains("output 'o2' writes 'out.jsonl', which another output already writes") })
    }

    @Test func unusedStreamIsAWarning() throws {
        let p = try compile(
            """
            inputs: { in: { stdin: {} } }
            streams:
              used: { from: in }
              spare: { from: in }
            outputs:
              out: { from: [used], stdout: {} }
            """)
        #expect(
            p.warnings.items.contains { $0.severity == .warning && $0.message.contains("stream 'spare' is not read") })
    }

    @Test func unknownKeysAndStepsGetSuggestions() {
        let d = diagnostics(
            """
            steps:
              - fliter: amount > 1
              - filter: x > 1
                wehn: y
            outputz: {}
            """)
        #expect(d.contains("p.yaml:2:5: error: unknown step 'fliter'; did you mean 'filter'?"))
        #expect(
            d.contains { $0.hasPrefix("p.yaml:4:5: error: unknown key 'wehn'") && $0.contains("did you mean 'when'?") })
        #expect(
            d.contains {
                $0.hasPrefix("p.yaml:5:1: error: unknown key 'outputz'") && $0.contains("did you mean 'outputs'?")
            })
    }

    @Test func paramsAndSetOverrides() throws {
        let yaml = """
            params: { threshold: 400 }
            steps:
              - filter: amount > params.threshold
            """
        let input = events([["amount": 450], ["amount": 600]])
        #expect(try compile(yaml).collect(["in": input]).outputs["out"]?.count == 2)
        #expect(try compile(yaml, params: ["threshold": "500"]).collect(["in": input]).outputs["out"]?.count == 1)
    }
}

@Suite struct EventTimeTests {
    @Test func timeIsReadFromTheFieldAndBadTimesAreRejected() throws {
        let p = try compile(
            """
            time: { field: ts, lateness: 2s }
            steps:
              - enrich: { set: { ok: true } }
            """)
        let (out, _) = try p.collect([
            "in": events([["ts": 1000], ["ts": "2023-11-14T22:13:20Z"], ["nots": 1], ["ts": "yesterday"]])
        ])
        #expect(out["out"]?.map(\.time) == [1000, 1_700_000_000_000])
        let bad = out["in.malformed"] ?? []
        #expect(bad.count == 2)
        #expect(bad.first?.value["error"]?["message"] == "no field 'ts' for the event time")
        // The input line (here the third event of the input), as docs/errors.md shows.
        #expect(bad.first?.value["error"]?["line"] == 3)
        #expect(bad.last?.value["error"]?["line"] == 4)
    }

    @Test func unitsConvertToMilliseconds() throws {
        let p = try compile(
            """
            time: { field: t, unit: s }
            steps: [ { filter: "true" } ]
            """)
        let (out, _) = try p.collect(["in": events([["t": 1.5], ["t": 2]])])
        #expect(out["out"]?.map(\.time) == [1500, 2000])
    }
}
