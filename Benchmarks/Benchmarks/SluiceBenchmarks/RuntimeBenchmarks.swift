import Benchmark
import BenchmarkFixtures
import Dispatch
import Foundation
@_spi(Benchmarks) import Sluice

/// The runtime's hand-off: batches of events through an SPSC ring from one thread to
/// another, as between two stages. One scaled iteration is one event (`.mega`: a
/// benchmark iteration moves 1,000,000 events in batches of 512).
let runtimeBenchmarks: @Sendable () -> Void = {
    let batch = makeEvents(512)
    for batchSize in [512, 64] {
        let b = Array(batch.prefix(batchSize))
        Benchmark(
            benchmarkName("ring hand-off (batches of \(batchSize))"),
            configuration: .init(
                metrics: [.throughput, .wallClock, .mallocCountTotal],
                scalingFactor: .mega,
                maxDuration: .seconds(3),
                thresholds: gateOnAllocations
            )
        ) { benchmark in
            let total = benchmark.scaledIterations.count
            let ring = BenchmarkRing(capacity: 16)
            let done = DispatchSemaphore(value: 0)
            let counted = Counter()
            let consumer = Thread {
                var n = 0
                while let es = ring.pop() { n += es.count }
                counted.value = n
                done.signal()
            }
            consumer.start()
            var sent = 0
            while sent < total {
                ring.push(b)
                sent += b.count
            }
            ring.pushEnd()
            done.wait()
            blackHole(counted.value)
        }
    }
}

/// Carries the consumer's count back to the measuring thread (read after a semaphore).
final class Counter: @unchecked Sendable {
    var value = 0
}
