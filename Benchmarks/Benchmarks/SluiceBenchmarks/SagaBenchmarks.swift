import Benchmark
import BenchmarkFixtures
@_spi(Benchmarks) import Sluice

/// The saga step (issue 20): the replies of 1,000,000 concurrent order sagas, made as
/// gen_saga_replies.py makes them (every saga starts first, then the services answer
/// round by round, payments declined at `failureRate`), run through the step in
/// process in batches of 512. One scaled iteration is one event (`.mega`: throughput
/// reads as millions of events per second); when the events run out a fresh step
/// starts over. `peakMemoryResident` over the 1,000,000 running sagas, less the events
/// themselves, gives the memory per running saga (docs/performance.md).
let sagaBenchmarks: @Sendable () -> Void = {
    for rate in [0.01, 0.1] {
        Benchmark(
            benchmarkName("step saga 1M concurrent (failure rate \(rate))"),
            configuration: Benchmark.Configuration(
                metrics: [.throughput, .wallClock, .peakMemoryResident, .mallocCountTotal],
                scalingFactor: .mega,
                maxDuration: .seconds(30),
                maxIterations: 10
            )
        ) { benchmark, replay in
            blackHole(replay.run(benchmark.scaledIterations.count))
        } setup: {
            SagaReplay(sagaBenchmarkYAML, events: makeSagaReplies(sagas: 1_000_000, failureRate: rate))
        }
    }
}
