import Benchmark
@_spi(Benchmarks) import Sluice

/// Checkpoints of a window step holding 1,000,000 open keys (issue 16: "a checkpoint of
/// 1,000,000 open window keys completes in under 2 s, and its size is reported"): taking
/// the snapshot (the copy a stage makes while the barrier passes), and restoring it into
/// a fresh step. The state's size is printed once, at setup.
let checkpointBenchmarks: @Sendable () -> Void = {
    let keys = 1_000_000
    let yaml = """
        time: { field: ts }
        steps:
          - window:
              key: user
              tumbling: 1h
              aggregate: { n: count(), total: sum(amount), top: max(amount) }
              max_open_windows: 2000000
        """
    let config = Benchmark.Configuration(
        metrics: [.wallClock, .peakMemoryResident], scalingFactor: .one, maxDuration: .seconds(20), maxIterations: 5)

    func filled() throws -> BenchmarkCheckpoint {
        let pipeline = try Pipeline.compile(yaml: yaml)
        guard let c = BenchmarkCheckpoint(pipeline) else { throw BenchmarkSetupError("no stateful step") }
        let ts: Int64 = 1_700_000_000_000
        var batch: [Event] = []
        batch.reserveCapacity(512)
        for i in 0..<keys {
            var o = JSONObject(minimumCapacity: 3)
            o["user"] = .string("u\(i)")
            o["amount"] = .double(Double(i % 1000) / 10)
            o["ts"] = .int(ts + Int64(i % 1000))
            batch.append(Event(.object(o), time: ts + Int64(i % 1000)))
            if batch.count == 512 {
                c.process(batch, watermark: ts)
                batch.removeAll(keepingCapacity: true)
            }
        }
        c.process(batch, watermark: ts)
        return c
    }

    Benchmark(benchmarkName("checkpoint snapshot 1M window keys"), configuration: config) {
        (benchmark: Benchmark, c: BenchmarkCheckpoint) in
        for _ in benchmark.scaledIterations { blackHole(try c.snapshot()) }
    } setup: {
        let c = try filled()
        print("checkpoint of \(c.stateSize) open windows: \(try c.snapshot()) bytes")
        return c
    }

    Benchmark(benchmarkName("checkpoint restore 1M window keys"), configuration: config) {
        (benchmark: Benchmark, c: BenchmarkCheckpoint) in
        for _ in benchmark.scaledIterations { blackHole(try c.restoreIntoFresh()) }
    } setup: {
        let c = try filled()
        _ = try c.snapshot()
        return c
    }
}

struct BenchmarkSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
