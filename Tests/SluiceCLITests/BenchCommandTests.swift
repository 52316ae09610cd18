import Foundation
import Testing

/// `sluice bench`: the bad-input paths and the shape of `--json`. Timings are never
/// asserted (the machine is shared); only that the figures are there and consistent.
@Suite struct BenchCommandTests {
    static let generated = """
        inputs:
          in:
            generate:
              count: 50
              fields:
                id: counter()
                amount: random_double(1.0, 1000.0)
                country: choice(["US", "DE"])
        streams:
          main:
            from: in
            steps:
              - filter: amount > 250.0 && country == "US"
        outputs:
          out: { from: [main], stdout: {} }
        """

    @Test func aPipelineThatReadsOnlyStdinIsAUsageError() throws {
        let r = try CLI.run(["bench", "pipelines/quickstart.yaml"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("--input"))
        #expect(r.stdout == "")
    }

    @Test func aPipelineErrorPrintsDiagnosticsAndNoFigures() throws {
        let dir = try CLI.folder(["bad.yaml": "steps:\n  - fliter: amount > 1\n"])
        let r = try CLI.run(["bench", "bad.yaml"], in: dir)
        #expect(r.status == 2)
        #expect(r.stderr.contains("bad.yaml:2:5: error: unknown step 'fliter'"))
        #expect(r.stdout == "")
    }

    @Test func anUnknownInputIsAUsageError() throws {
        let dir = try CLI.folder(["p.yaml": Self.generated])
        let r = try CLI.run(["bench", "p.yaml", "--input", "nope=x.jsonl"], in: dir)
        #expect(r.status == 64)
        #expect(r.stderr.contains("no input 'nope'"))
    }

    @Test func jsonIsOneObjectWithEveryFigure() throws {
        let dir = try CLI.folder(["p.yaml": Self.generated])
        let r = try CLI.run(["bench", "p.yaml", "--events", "300", "--warmup", "100", "--json"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 1)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let o = try #require(object)
        for key in [
            "pipeline", "source", "warmup_events", "seconds", "events_in", "events_out", "side_events",
            "events_per_sec_in", "events_per_sec_out", "bytes_in", "bytes_out", "mb_per_sec_in", "mb_per_sec_out",
            "steps", "latency_ms", "peak_rss_bytes", "allocations_per_event", "outcome", "notes",
        ] {
            #expect(o[key] != nil, "missing \(key)")
        }
        #expect(o["events_in"] as? Int == 300)
        #expect(o["warmup_events"] as? Int == 100)
        #expect(o["outcome"] as? String == "completed")
        #expect((o["peak_rss_bytes"] as? Int ?? 0) > 0)
        #expect(o["allocations_per_event"] is NSNull)
        let out = try #require(o["events_out"] as? Int)
        #expect(out <= 300)
        let steps = try #require(o["steps"] as? [[String: Any]])
        #expect(steps.count == 1)
        #expect(steps.first?["kind"] as? String == "filter")
        #expect(steps.first?["events_in"] as? Int == 300)
        let latency = try #require(o["latency_ms"] as? [String: Any])
        #expect(latency["count"] as? Int == out)
        for key in ["p50", "p90", "p99", "p99_9", "max"] { #expect(latency[key] != nil, "missing latency \(key)") }
    }

    @Test func aFileInputIsMeasuredAndTheTableNamesEachFigure() throws {
        let events =
            (1...40).map { #"{"id":\#($0),"amount":\#($0 * 20).5,"country":"US"}"# }.joined(separator: "\n") + "\n"
        let dir = try CLI.folder(["events.jsonl": events])
        let r = try CLI.run(
            ["bench", CLI.root.appendingPathComponent("pipelines/quickstart.yaml").path, "--input", "events.jsonl"],
            in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        for label in ["time:", "events:", "bytes:", "steps:", "latency:", "memory:", "allocs:"] {
            #expect(r.stdout.contains(label), "no '\(label)' line")
        }
        #expect(r.stdout.contains("in 40 "))
        #expect(r.stdout.contains("allocs:    n/a"))
    }
}
