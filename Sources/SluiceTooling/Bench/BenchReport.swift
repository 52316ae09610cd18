import SluiceCore
import SluiceJSON
import SluicePipeline

/// The result of ``Pipeline/bench(_:)``: throughput, per-step time, latency, memory.
package struct BenchReport: Sendable {
    /// Time spent in one step, summed over the partitions of its stream.
    package struct StepShare: Sendable {
        /// The stream's name.
        package var stream: String
        /// The step's name (its kind unless `name:` was given).
        package var step: String
        /// The step's kind (`filter`, `window`, ...).
        package var kind: String
        /// Events the step received.
        package var eventsIn: Int
        /// Events the step emitted on its main output.
        package var eventsOut: Int
        /// Time inside the step, in nanoseconds.
        package var nanos: UInt64
        /// `nanos` as a fraction (0...1) of the time of all steps.
        package var share: Double
    }

    /// The pipeline file.
    package var pipeline: String
    /// What was read, for people (`generate: 1000000 events`, `file in=events.jsonl`).
    package var source: String
    /// Events of the unmeasured warm-up run.
    package var warmupEvents: Int
    /// Wall-clock seconds of the measured run, from start to the last output written.
    package var seconds: Double
    /// Events read by all inputs.
    package var eventsIn: Int
    /// Events written to the pipeline's outputs (all of them counted and discarded).
    package var eventsOut: Int
    /// Events that went to side outputs nothing reads (rejected, late, malformed, ...).
    package var sideEvents: Int
    /// Bytes of JSON read, or nil when unknown (stdin that is not a file).
    package var bytesIn: Int?
    /// True when `bytesIn` is estimated (generated events: the mean size of a sample).
    package var bytesInEstimated: Bool
    /// Bytes of JSON lines the outputs would have written.
    package var bytesOut: Int
    /// Per step, in stream and step order.
    package var steps: [StepShare]
    /// Source-to-output latency of every output event that kept its ingest stamp
    /// (events made by windows and patterns are new and carry none).
    package var latency: LatencyHistogram
    /// Peak resident memory of the process (getrusage `ru_maxrss`), in bytes.
    package var peakRSSBytes: Int
    /// Heap allocations per event, or nil when not measurable in this process
    /// (the CLI has no malloc hook; the Benchmarks suite counts them).
    package var allocationsPerEvent: Double?
    /// How the measured run ended.
    package var outcome: Execution.Outcome
    /// Remarks about how the flags were applied (an unbound stdin input read as empty, ...).
    package var notes: [String]
    /// With `--checkpoint-dir`: the checkpoints taken.
    package var checkpoints: CheckpointStats? = nil

    /// Input events per second.
    package var eventsPerSecondIn: Double { rate(Double(eventsIn)) }
    /// Output events per second.
    package var eventsPerSecondOut: Double { rate(Double(eventsOut)) }
    /// Input megabytes (10^6 bytes) per second, when the input size is known.
    package var megabytesPerSecondIn: Double? { bytesIn.map { rate(Double($0) / 1e6) } }
    /// Output megabytes (10^6 bytes) per second.
    package var megabytesPerSecondOut: Double { rate(Double(bytesOut) / 1e6) }

    func rate(_ x: Double) -> Double { seconds > 0 ? x / seconds : 0 }

    /// The latency percentiles reported, as (label, JSON key, quantile).
    static let percentiles: [(String, String, Double)] = [
        ("p50", "p50", 0.5), ("p90", "p90", 0.9), ("p99", "p99", 0.99), ("p99.9", "p99_9", 0.999),
    ]

    /// The report for people, one line per topic.
    package var lines: [String] {
        var out: [String] = []
        out.append(
            "pipeline:  \(pipeline) (\(source)\(warmupEvents > 0 ? ", after \(warmupEvents) warm-up events" : ""))")
        out.append("time:      \(fixed(seconds, 3)) s")
        out.append(
            "events:    in \(eventsIn) (\(human(eventsPerSecondIn))/s), out \(eventsOut) (\(human(eventsPerSecondOut))/s), side outputs \(sideEvents)"
        )
        let inText: String
        if let bytesIn, let mbs = megabytesPerSecondIn {
            inText = "\(bytesInEstimated ? "~" : "")\(fixed(Double(bytesIn) / 1e6, 1)) MB (\(fixed(mbs, 1)) MB/s)"
        } else {
            inText = "n/a"
        }
        out.append(
            "bytes:     in \(inText), out \(fixed(Double(bytesOut) / 1e6, 1)) MB (\(fixed(megabytesPerSecondOut, 1)) MB/s)"
        )
        if !steps.isEmpty {
            let nameWidth = steps.map { $0.stream.count + 1 + $0.step.count }.max() ?? 0
            for (i, s) in steps.enumerated() {
                let name = "\(s.stream)/\(s.step)"
                let pad = String(repeating: " ", count: nameWidth - name.count)
                let pct = fixed(s.share * 100, 1)
                let perEvent = s.eventsIn > 0 ? fixed(Double(s.nanos) / Double(s.eventsIn), 0) : "-"
                out.append(
                    "\(i == 0 ? "steps:     " : "           ")\(name)\(pad)  \(String(repeating: " ", count: max(0, 5 - pct.count)))\(pct)%  \(perEvent) ns/event  in \(s.eventsIn) out \(s.eventsOut)"
                )
            }
        }
        if latency.count > 0 {
            var parts = Self.percentiles.map { "\($0.0) \(millis(latency.quantile($0.2)))" }
            parts.append("max \(millis(latency.max))")
            out.append("latency:   \(parts.joined(separator: "  ")) ms (\(latency.count) events)")
        } else {
            out.append("latency:   n/a (no output event kept its ingest stamp)")
        }
        if let c = checkpoints {
            let ms = { (n: UInt64) in fixed(Double(n) / 1e6, 1) }
            out.append(
                "checkpoints: \(c.count) (\(c.failed) failed), p50 \(ms(c.p50)) ms, max \(ms(c.max)) ms, last \(c.lastBytes) bytes"
            )
        }
        out.append("memory:    peak RSS \(fixed(Double(peakRSSBytes) / 1_048_576, 1)) MiB")
        out.append(
            "allocs:    \(allocationsPerEvent.map { fixed($0, 2) + " per event" } ?? "n/a (no malloc counter in the CLI; run the Benchmarks suite for mallocCountTotal)")"
        )
        for n in notes { out.append("note:      \(n)") }
        return out
    }

    /// The report as one JSON object, for machines.
    package var json: JSON {
        var o = JSONObject()
        o.appendUnchecked(key: "pipeline", value: .string(pipeline))
        if let c = checkpoints {
            o.appendUnchecked(
                key: "checkpoints",
                value: [
                    "count": .int(Int64(c.count)), "failed": .int(Int64(c.failed)),
                    "p50_ms": .double(Double(c.p50) / 1e6),
                    "max_ms": .double(Double(c.max) / 1e6), "last_bytes": .int(Int64(c.lastBytes)),
                ])
        }
        o.appendUnchecked(key: "source", value: .string(source))
        o.appendUnchecked(key: "warmup_events", value: .int(Int64(warmupEvents)))
        o.appendUnchecked(key: "seconds", value: .double(seconds))
        o.appendUnchecked(key: "events_in", value: .int(Int64(eventsIn)))
        o.appendUnchecked(key: "events_out", value: .int(Int64(eventsOut)))
        o.appendUnchecked(key: "side_events", value: .int(Int64(sideEvents)))
        o.appendUnchecked(key: "events_per_sec_in", value: .double(eventsPerSecondIn))
        o.appendUnchecked(key: "events_per_sec_out", value: .double(eventsPerSecondOut))
        o.appendUnchecked(key: "bytes_in", value: bytesIn.map { .int(Int64($0)) } ?? .null)
        o.appendUnchecked(key: "bytes_in_estimated", value: .bool(bytesInEstimated))
        o.appendUnchecked(key: "bytes_out", value: .int(Int64(bytesOut)))
        o.appendUnchecked(key: "mb_per_sec_in", value: megabytesPerSecondIn.map { .double($0) } ?? .null)
        o.appendUnchecked(key: "mb_per_sec_out", value: .double(megabytesPerSecondOut))
        o.appendUnchecked(
            key: "steps",
            value: .array(
                steps.map { s in
                    var so = JSONObject()
                    so.appendUnchecked(key: "stream", value: .string(s.stream))
                    so.appendUnchecked(key: "step", value: .string(s.step))
                    so.appendUnchecked(key: "kind", value: .string(s.kind))
                    so.appendUnchecked(key: "events_in", value: .int(Int64(s.eventsIn)))
                    so.appendUnchecked(key: "events_out", value: .int(Int64(s.eventsOut)))
                    so.appendUnchecked(key: "nanos", value: .int(Int64(clamping: s.nanos)))
                    so.appendUnchecked(key: "share", value: .double(s.share))
                    return .object(so)
                }))
        var lat = JSONObject()
        lat.appendUnchecked(key: "count", value: .int(Int64(clamping: latency.count)))
        for (_, key, q) in Self.percentiles {
            lat.appendUnchecked(key: key, value: latency.count > 0 ? .double(Double(latency.quantile(q)) / 1e6) : .null)
        }
        lat.appendUnchecked(key: "max", value: latency.count > 0 ? .double(Double(latency.max) / 1e6) : .null)
        o.appendUnchecked(key: "latency_ms", value: .object(lat))
        o.appendUnchecked(key: "peak_rss_bytes", value: .int(Int64(peakRSSBytes)))
        o.appendUnchecked(key: "allocations_per_event", value: allocationsPerEvent.map { .double($0) } ?? .null)
        let outcomeText: String
        switch outcome {
        case .completed: outcomeText = "completed"
        case .outputClosed: outcomeText = "output closed"
        case .failed(let m): outcomeText = "failed: \(m)"
        }
        o.appendUnchecked(key: "outcome", value: .string(outcomeText))
        o.appendUnchecked(key: "notes", value: .array(notes.map { .string($0) }))
        return .object(o)
    }
}

/// `x` with `digits` decimals (no Foundation in this module).
func fixed(_ x: Double, _ digits: Int) -> String {
    guard x.isFinite else { return "\(x)" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let n = (abs(x) * scale).rounded()
    let whole = Int64(n / scale)
    var text = (x < 0 && n > 0 ? "-" : "") + "\(whole)"
    if digits > 0 {
        let frac = Int64(n - Double(whole) * scale)
        let f = "\(frac)"
        text += "." + String(repeating: "0", count: max(0, digits - f.count)) + f
    }
    return text
}

/// 12345678 → "12.3M".
func human(_ x: Double) -> String {
    if x >= 1e6 { return fixed(x / 1e6, 2) + "M" }
    if x >= 1e3 { return fixed(x / 1e3, 1) + "k" }
    return fixed(x, 0)
}

/// Nanoseconds as milliseconds with three decimals.
func millis(_ nanos: UInt64) -> String { fixed(Double(nanos) / 1e6, 3) }
