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

    @Test func windowsAndLatenessDoNotDependOnBatchSize() throws {
        var rng = SplitMix(seed: 7)
        var items: [InputItem] = []
        var t: Int64 = 1_700_000_000_000
        for i in 0..<3000 {
            t += Int64(rng.next() % 400)
            let jitter = Int64(rng.next() % 20000)
            items.append(.event([
                "user": .string("u\(rng.next() % 5)"), "amount": .int(Int64(i % 17)), "ts": .int(t - jitter),
            ]))
        }
        let one = try run(items, batch: 1)
        let big = try run(items, batch: 1000)
        let odd = try run(items, batch: 37)
        #expect((one["late"]?.count ?? 0) > 0, "the input should produce late events")
        #expect((one["out"] ?? []).contains { $0.contains(#""update":true"#) }, "and late updates")
        #expect(one == big)
        #expect(one == odd)
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
