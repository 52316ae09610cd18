@_spi(Benchmarks) import Sluice

// The events and the stage driver of the in-process step benchmarks, shared by the
// package-benchmark suite (Benchmarks/SluiceBenchmarks) and the callgrind driver
// (Tools/CallgrindDriver), which must not link package-benchmark.

/// Deterministic events like gen_events.py's, parsed (so steps see `.value` events),
/// with event time set. `users` keys; `stepMillis` between consecutive events.
package func makeEvents(_ n: Int, users: Int = 1000, stepMillis: Int64 = 10) -> [Event] {
    let types = ["click", "view", "login", "purchase", "logout"]
    let countries = ["US", "DE", "FR", "GB", "JP", "BR"]
    var rng: UInt64 = 42
    func next() -> UInt64 {
        rng &+= 0x9E37_79B9_7F4A_7C15
        var z = rng
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    return (0..<n).map { i in
        let ts = 1_700_000_000_000 + Int64(i) * stepMillis
        var o = JSONObject(minimumCapacity: 6)
        o["id"] = .int(Int64(i + 1))
        o["type"] = .string(types[Int(next() % 5)])
        o["user"] = .string("u\(next() % UInt64(users))")
        o["amount"] = .double(Double(next() % 100_000) / 100 + 0.01)
        o["country"] = .string(countries[Int(next() % 6)])
        o["ts"] = .int(ts)
        return Event(.object(o), time: ts)
    }
}

/// The pattern scenarios of issue #6 (as `PatternBenchTests` in the main package):
/// pre-parsed `{"user", "kind", "amount"}` events over 10,000 users, ten events per
/// millisecond (so each user has an event a second), event time set. `kinds(i)` gives
/// event `i`'s kind and amount.
package func makePatternEvents(_ n: Int, kinds: (Int) -> (String, Int64)) -> [Event] {
    (0..<n).map { i in
        let (kind, amount) = kinds(i)
        var o = JSONObject(minimumCapacity: 3)
        o["user"] = .string("u\(i % 10_000)")
        o["kind"] = .string(kind)
        o["amount"] = .int(amount)
        return Event(.object(o), time: 1_700_000_000_000 + Int64(i / 10))
    }
}

/// The steps of a one-stream pipeline, as a chain the way a stage runs them.
package func makeChain(_ yaml: String) -> BenchmarkChain {
    do {
        return BenchmarkChain(try Pipeline.compile(yaml: yaml))
    } catch {
        print("benchmark pipeline does not compile: \(error)")
        return BenchmarkChain()
    }
}

/// `events` cut into batches of `size`, as a stage hands them to its steps.
package func batched(_ events: [Event], size: Int = 512) -> [[Event]] {
    stride(from: 0, to: events.count, by: size).map { Array(events[$0..<min($0 + size, events.count)]) }
}

package final class Driver {
    let chain: BenchmarkChain
    var batches: [[Event]]
    let span: Int64
    let lateness: Int64
    let timed: Bool
    var pass: Int64 = 0
    var index = 0
    var watermark = Int64.min
    var maxTime = Int64.min
    var sides: [(port: Int, event: Event)] = []

    package init(_ yaml: String, events: [Event], lateness: Int64 = 2000) {
        chain = makeChain(yaml)
        timed = chain.usesWatermarks
        self.lateness = lateness
        batches = batched(events)
        let first = events.first?.time ?? 0
        let last = events.last?.time ?? 0
        span = last - first + (events.count > 1 ? (last - first) / Int64(events.count - 1) : 1)
        sides.reserveCapacity(1024)
    }

    /// Runs at least `events` events; returns how many came out.
    package func run(_ events: Int) -> Int {
        var done = 0
        var out = 0
        while done < events {
            let count = batches[index].count
            if timed {
                let shift = pass > 0 ? span : 0
                var maxTime = self.maxTime
                let lateness = self.lateness
                batches[index].withUnsafeMutableBufferPointer { batch in
                    for j in batch.indices {
                        // As a source stamps them: the watermark before this event.
                        batch[j].time += shift
                        batch[j].sourceWatermark = maxTime == Int64.min ? Int64.min : maxTime - lateness
                        maxTime = max(maxTime, batch[j].time)
                    }
                }
                self.maxTime = maxTime
                out += chain.process(batches[index], watermark: watermark, sides: &sides, stamped: true).count
                // Then the watermark the source sends after the batch, as a stage gets it.
                let wm = maxTime - lateness
                if wm > watermark {
                    watermark = wm
                    out += chain.advance(watermark: wm, sides: &sides).count
                }
            } else {
                out += chain.process(batches[index], watermark: watermark, sides: &sides).count
            }
            sides.removeAll(keepingCapacity: true)
            done += count
            index += 1
            if index == batches.count {
                index = 0
                pass += 1
            }
        }
        return out
    }
}
