import Benchmark
import Foundation
@_spi(Benchmarks) import Sluice

/// Event lines like the compare script's, made in setup (outside the measured region).
func sampleLines(_ n: Int) -> [[UInt8]] {
    let types = ["click", "view", "login", "purchase", "logout"]
    let countries = ["US", "DE", "FR", "GB", "JP", "BR"]
    return (0..<n).map { i in
        let line =
            #"{"id":\#(i),"type":"\#(types[i % 5])","user":"u\#(i % 1000)","amount":\#(Double(i % 100000) / 100 + 0.25),"country":"\#(countries[i % 6])","ts":\#(1_700_000_000_000 + i * 10)}"#
        return Array(line.utf8)
    }
}

/// The same lines joined into one JSON-lines file image.
func sampleFile(_ n: Int) -> [UInt8] {
    var all: [UInt8] = []
    for l in sampleLines(n) {
        all += l
        all.append(0x0A)
    }
    return all
}

let jsonBenchmarks: @Sendable () -> Void = {
    let config = Benchmark.Configuration(
        metrics: [.throughput, .wallClock, .mallocCountTotal, .instructions],
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        thresholds: gateOnAllocations.merging([.instructions: .init(relative: [.p50: 25.0])]) { $1 }
    )
    let lines = sampleLines(1000)

    // One scaled iteration is one event; with scalingFactor .kilo a benchmark iteration
    // handles 1,000 of them.
    Benchmark(benchmarkName("JSON parse event"), configuration: config) { benchmark in
        for i in benchmark.scaledIterations { blackHole(BenchmarkJSON.parse(lines[i % lines.count])) }
    }

    Benchmark(benchmarkName("JSON validate event"), configuration: config) { benchmark in
        for i in benchmark.scaledIterations {
            blackHole(BenchmarkJSON.isValid(lines[i % lines.count]))
        }
    }

    let values = lines.compactMap { BenchmarkJSON.parse($0) }
    Benchmark(benchmarkName("JSON write event"), configuration: config) { benchmark in
        var out: [UInt8] = []
        out.reserveCapacity(1 << 20)
        for i in benchmark.scaledIterations {
            if out.count > 512 << 10 { out.removeAll(keepingCapacity: true) }
            BenchmarkJSON.write(values[i % values.count], into: &out)
            out.append(0x0A)
        }
        blackHole(out.count)
    }

    Benchmark(benchmarkName("JSON field scan (amount)"), configuration: config) { benchmark in
        for i in benchmark.scaledIterations {
            blackHole(BenchmarkJSON.field("amount", in: lines[i % lines.count]))
        }
    }

    // Reader to writer, as `sluice run` does for a pass-through pipeline, over a pipe.
    let file = sampleFile(100_000)
    Benchmark(
        benchmarkName("JSON lines read-to-write (100k events)"),
        configuration: .init(
            metrics: [.throughput, .wallClock, .mallocCountTotal], scalingFactor: .one, maxDuration: .seconds(3),
            thresholds: gateOnAllocations)
    ) { benchmark in
        let path = NSTemporaryDirectory() + "sluice-bench-\(getpid()).jsonl"
        _ = FileManager.default.createFile(atPath: path, contents: Data(file))
        defer { try? FileManager.default.removeItem(atPath: path) }
        for _ in benchmark.scaledIterations {
            let fd = open(path, O_RDONLY)
            var reader = BenchmarkLineCopier(fd: fd)
            var out: [UInt8] = []
            out.reserveCapacity(300 << 10)
            benchmark.startMeasurement()
            while reader.copyNextChunk(into: &out) {}
            benchmark.stopMeasurement()
            close(fd)
            blackHole(out.count)
        }
    }
}
