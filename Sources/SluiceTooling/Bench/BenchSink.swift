import Dispatch
import SluiceCore
import SluiceJSON
import SluicePipeline

/// The output of `sluice bench`: writes each event's JSON into a scratch buffer that is
/// thrown away (so the figure includes the cost of serializing, as a real output pays),
/// counts events and bytes, and records the latency of every event that carries a
/// source's ingest stamp.
// Unchecked: a sink is written only by its output's thread, and read after the run.
final class BenchSink: EventSink, @unchecked Sendable {
    let name: String
    private(set) var events = 0
    private(set) var bytes = 0
    private(set) var latency = LatencyHistogram()
    private var scratch: [UInt8] = []

    init(name: String) {
        self.name = name
        scratch.reserveCapacity(1 << 16)
    }

    func write(_ batch: [Event]) throws {
        let now = DispatchTime.now().uptimeNanoseconds
        for e in batch {
            e.write(into: &scratch)
            bytes += scratch.count + 1
            scratch.removeAll(keepingCapacity: true)
            if e.ingestNanos != 0 { latency.record(now >= e.ingestNanos ? now - e.ingestNanos : 0) }
        }
        events += batch.count
    }
}
