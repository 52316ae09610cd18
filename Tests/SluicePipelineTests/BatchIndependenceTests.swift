import PropertyBased
import SluiceConnectors
import SluiceCore
import SluiceJSON
import SluicePipeline
import Testing

/// A run gives the same results however its input is cut into batches: time-sensitive
/// steps advance to each event's own source watermark.
@Suite struct BatchIndependenceTests {
    static let yaml = """
        time: { field: ts, lateness: 2s }
        inputs: { in: { stdin: {} } }
        streams:
          w:
            from: in
            steps:
              - window:
                  key: user
                  tumbling: 10s
                  allowed_lateness: 3s
                  aggregate: { n: count(), total: sum(amount) }
          r:
            from: in
            steps:
              - reorder: {}
        outputs:
          out: { from: [w], stdout: {} }
          late: { from: [w.late], stdout: {} }
          ordered: { from: [r], stdout: {} }
          rlate: { from: [r.late], stdout: {} }
        """

    func run(_ items: [InputItem], batch: Int) throws -> [String: [String]] {
        let p = try compile(Self.yaml)
        var options = RunOptions()
        options.sources["in"] = MemorySource(name: "in", items: items, batchSize: batch)
        var sinks: [String: CollectingSink] = [:]
        for name in p.outputNames {
            let s = CollectingSink(name: name)
            sinks[name] = s
            options.sinks[name] = s
        }
        let run = try p.start(options)
        #expect(run.wait() == .completed)
        return sinks.mapValues { $0.events.map { JSONWriter.string($0.value) } }
    }

    /// What the generated inputs exercised, so a generator change cannot quietly stop
    /// producing late events or late updates.
    final class Coverage {
        var late = 0
        var updates = 0
    }

    @Test func windowsAndLatenessDoNotDependOnBatchSize() async throws {
        // Per event: how far the clock moves (ms), how far behind it the event is, its user.
        let events = zip(Gen.int64(in: 0...399), Gen.int64(in: 0...19_999), Gen.int(in: 0...4)).array(of: 0...400)
        let coverage = Coverage()
        await propertyCheck(count: 12, input: events, Gen.int(in: 2...500)) { events, batch in
            var items: [InputItem] = []
            var t: Int64 = 1_700_000_000_000
            for (i, (dt, jitter, user)) in events.enumerated() {
                t += dt
                items.append(
                    .event(["user": .string("u\(user)"), "amount": .int(Int64(i % 17)), "ts": .int(t - jitter)]))
            }
            let one = try run(items, batch: 1)
            #expect(try run(items, batch: batch) == one)
            coverage.late += one["late"]?.count ?? 0
            coverage.updates += (one["out"] ?? []).filter { $0.contains(#""update":true"#) }.count
        }
        #expect(coverage.late > 0, "the inputs should produce late events")
        #expect(coverage.updates > 0, "and late updates")
    }
}
