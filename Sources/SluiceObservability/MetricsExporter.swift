import CoreMetrics
import Dispatch
import Prometheus
import SluiceCore
import Synchronization

/// Turns a run's live figures (``RunMetrics``) into swift-metrics metrics, exported by
/// swift-prometheus in the Prometheus text format 0.0.4 (docs/observability.md lists
/// every metric).
///
/// Each scrape copies the figures the stages last published (at most 200 ms old) into
/// the metrics: counters grow by what was added since the last scrape, gauges are set,
/// and latency samples are recorded into the histograms. Its registry is its own, not
/// the process-wide `MetricsSystem`, so several runs in one process (tests) do not mix.
package final class MetricsExporter: Sendable {
    /// Latency histogram buckets: 100 µs to 10 s.
    static let latencyBuckets: [Duration] = [
        .microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(10),
        .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(10),
    ]

    let metrics: RunMetrics
    let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory
    /// The counters made so far and the value each was last brought to, by name and
    /// labels; the gauges and timers made so far. Also serializes scrapes.
    private let made = Mutex<Made>(Made())
    struct Made {
        var counters: [String: (counter: CoreMetrics.Counter, value: Int64)] = [:]
        var gauges: [String: CoreMetrics.Gauge] = [:]
        var timers: [String: CoreMetrics.Timer] = [:]
        /// The `sluice_consumer_lag` gauges exported by the last scrape.
        var lagKeys = Set<String>()
    }

    package init(_ metrics: RunMetrics) {
        self.metrics = metrics
        var f = PrometheusMetricsFactory(registry: registry)
        f.defaultDurationHistogramBuckets = Self.latencyBuckets
        factory = f
    }

    /// The `/metrics` body.
    package func render() -> String {
        made.withLock { made in
            update(&made)
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return String(decoding: buffer, as: UTF8.self)
        }
    }

    private func key(_ name: String, _ labels: [(String, String)]) -> String {
        name + "{" + labels.map { "\($0.0)=\($0.1)" }.joined(separator: ",") + "}"
    }

    /// Brings counter `name{labels}` up to `value` (counters only grow: a smaller value,
    /// which a well-behaved stage never publishes, is ignored).
    private func count(_ made: inout Made, _ name: String, _ labels: [(String, String)], _ value: Int) {
        let k = key(name, labels)
        let entry =
            made.counters[k] ?? (CoreMetrics.Counter(label: name, dimensions: labels, factory: factory), 0)
        let v = Int64(value)
        if v > entry.value { entry.counter.increment(by: v - entry.value) }
        made.counters[k] = (entry.counter, max(v, entry.value))
    }

    private func gauge(_ made: inout Made, _ name: String, _ labels: [(String, String)], _ value: Double) {
        let k = key(name, labels)
        let g = made.gauges[k] ?? CoreMetrics.Gauge(label: name, dimensions: labels, factory: factory)
        made.gauges[k] = g
        g.record(value)
    }

    private func update(_ made: inout Made) {
        let p = ("pipeline", metrics.pipeline)
        let phase = metrics.phase
        gauge(&made, "sluice_up", [p], 1)
        gauge(&made, "sluice_ready", [p], metrics.isReady ? 1 : 0)
        gauge(&made, "sluice_failed", [p], { if case .failed = phase { return 1 } else { return 0 } }())

        for input in metrics.inputs {
            let l = [p, ("input", input.name)]
            count(&made, "sluice_input_events_total", l, input.events.load(ordering: .relaxed))
            count(&made, "sluice_input_malformed_total", l, input.malformed.load(ordering: .relaxed))
            if let b = input.bytes { count(&made, "sluice_input_bytes_total", l, b.value) }
        }

        // Partitions of one stream add up.
        var byStream: [String: [RunMetrics.StreamFigures]] = [:]
        for f in metrics.streams.values { byStream[f.stream, default: []].append(f) }
        let now = TimePolicy.nowMillis()
        for (stream, parts) in byStream.sorted(by: { $0.key < $1.key }) {
            let s = ("stream", stream)
            count(&made, "sluice_stream_events_out_total", [p, s], parts.reduce(0) { $0 + $1.eventsOut })
            var sides: [String: Int] = [:]
            for f in parts { for (n, c) in f.sides { sides[n, default: 0] += c } }
            for (side, c) in sides.sorted(by: { $0.key < $1.key }) {
                count(&made, "sluice_side_output_events_total", [p, s, ("side", side)], c)
            }
            let steps = parts.map(\.steps).max { $0.count < $1.count } ?? []
            for (i, step) in steps.enumerated() {
                let l = [p, s, ("step", step.name), ("kind", step.kind)]
                let figures = parts.compactMap { $0.steps.indices.contains(i) ? $0.steps[i] : nil }
                count(&made, "sluice_step_events_in_total", l, figures.reduce(0) { $0 + $1.eventsIn })
                count(&made, "sluice_step_events_out_total", l, figures.reduce(0) { $0 + $1.eventsOut })
                count(&made, "sluice_step_side_events_total", l, figures.reduce(0) { $0 + $1.sideOut })
                count(&made, "sluice_step_dropped_total", l, figures.reduce(0) { $0 + $1.dropped })
                let state = parts.reduce(0) { $0 + ($1.stateSizes.indices.contains(i) ? $1.stateSizes[i] : 0) }
                gauge(&made, "sluice_step_state_size", l, Double(state))
            }
            // The slowest partition's watermark is the stream's.
            let started = parts.filter { $0.watermark != Int64.min && $0.watermark != Int64.max }
            if let wm = started.map(\.watermark).min() {
                let lag: Int64
                if metrics.eventTime {
                    let seen = parts.map(\.maxEventTime).max() ?? wm
                    lag = seen == Int64.min ? 0 : max(0, seen - wm)
                } else {
                    lag = max(0, now - wm)
                }
                gauge(&made, "sluice_watermark_lag_seconds", [p, s], Double(lag) / 1000)
            }
        }

        for (name, events, bytes, latencies) in metrics.takeOutputs() {
            let l = [p, ("output", name)]
            count(&made, "sluice_output_events_total", l, events)
            if let bytes { count(&made, "sluice_output_bytes_total", l, bytes) }
            let k = key("sluice_output_latency_seconds", l)
            let t =
                made.timers[k]
                ?? CoreMetrics.Timer(label: "sluice_output_latency_seconds", dimensions: l, factory: factory)
            made.timers[k] = t
            for n in latencies { t.recordNanoseconds(Int64(clamping: n)) }
        }

        for e in metrics.edges {
            let l = [p, ("from", e.from), ("to", e.to)]
            gauge(&made, "sluice_ring_occupancy", l, Double(e.occupancy))
            gauge(&made, "sluice_ring_capacity", l, Double(e.capacity))
        }

        gauge(&made, "sluice_tap_clients", [p], Double(metrics.taps.clientCount))
        count(&made, "sluice_tap_dropped_events_total", [p], metrics.taps.dropped.load(ordering: .relaxed))

        let cp = metrics.checkpoints
        if cp.count > 0 {
            count(&made, "sluice_checkpoints_total", [p], cp.count)
            gauge(&made, "sluice_checkpoint_duration_seconds", [p], cp.lastDurationSeconds)
            gauge(&made, "sluice_checkpoint_size_bytes", [p], Double(cp.lastSizeBytes))
        }

        // Consumer lag per broker input and partition; a partition the input no longer
        // reads (a rebalance gave it to another member) leaves the output.
        var lagKeys = Set<String>()
        for (input, partitions) in metrics.consumerLag.sorted(by: { $0.key < $1.key }) {
            for tp in partitions {
                let l = [p, ("input", input), ("topic", tp.topic), ("partition", String(tp.partition))]
                gauge(&made, "sluice_consumer_lag", l, Double(tp.messages))
                lagKeys.insert(key("sluice_consumer_lag", l))
            }
        }
        for k in made.lagKeys.subtracting(lagKeys) { made.gauges.removeValue(forKey: k)?.destroy() }
        made.lagKeys = lagKeys
    }
}
