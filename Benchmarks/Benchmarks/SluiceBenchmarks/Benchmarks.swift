import Benchmark

/// Every benchmark group of the suite.
let benchmarks: @Sendable () -> Void = {
    jsonBenchmarks()
    stepBenchmarks()
    sagaBenchmarks()
    runtimeBenchmarks()
    checkpointBenchmarks()
}
