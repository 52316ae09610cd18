import Benchmark

/// Metrics and limits shared by the step benchmarks. One scaled iteration is one event;
/// with `.kilo` a benchmark iteration handles 1,000 of them, so `throughput` reads as
/// thousands of events per second. Allocation counts are checked against
/// `Thresholds/` (`swift package benchmark thresholds check`): a change of more than 50
/// allocations per 1,000 events fails, while times are too noisy on a shared machine to
/// gate on and are left out of the static check.
var stepConfig: Benchmark.Configuration {
    Benchmark.Configuration(
        metrics: [.throughput, .wallClock, .mallocCountTotal],
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 100_000,
        thresholds: gateOnAllocations
    )
}

/// Allocations gate the static check; throughput and time only catch collapses between
/// two baselines (a 4x slowdown).
var gateOnAllocations: [BenchmarkMetric: BenchmarkThresholds] {
    [
        // p90 is what `Thresholds/` stores: 50 allocations per 1,000 events either way
        // (0.05 per event) is past the harness's own jitter; one more per event is 1,000.
        .mallocCountTotal: .init(absolute: [.p90: 50]),
        // Only p50 for times: the static check compares p90s and skips these, while
        // `baseline check` between two runs still catches a collapse.
        .throughput: .init(relative: [.p50: 75.0]),
        .wallClock: .init(relative: [.p50: 300.0]),
    ]
}

/// A benchmark's name with spaces as underscores. `thresholds update` writes
/// `Thresholds/TARGET.NAME.p90.json` with spaces replaced, but package-benchmark 1.38.1's
/// `thresholds check` looks the file up by the name as given, so a name with spaces
/// never finds its thresholds; names without spaces work both ways.
func benchmarkName(_ readable: String) -> String {
    readable.split(separator: " ", omittingEmptySubsequences: false).joined(separator: "_")
}
