import PropertyBased
import SluiceCore
import SluiceJSON
import Testing

@testable import SluiceSteps

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The documented error bounds of the bounded-memory aggregates (docs/windows.md):
/// `percentile` within 1 % relative error beyond 2,048 values, `count_distinct` within a
/// few standard errors (0.81 %) beyond 4,096 distinct values.
@Suite struct WindowSketchTests {
    /// Checks a sketch quantile against the exact one: within `alpha` of the exact
    /// interpolated value when both neighbours have the same sign.
    func expectClose(_ est: Double, exact sorted: [Double], q: Double, alpha: Double, _ context: String) {
        let pos = q * Double(sorted.count - 1)
        let lo = Int(pos.rounded(.down))
        let hi = min(lo + 1, sorted.count - 1)
        let truth = sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - Double(lo))
        let bound: Double
        if (sorted[lo] >= 0) == (sorted[hi] >= 0) {
            bound = alpha * abs(truth) + 1e-9
        } else {
            bound = alpha * max(abs(sorted[lo]), abs(sorted[hi])) + 1e-9
        }
        #expect(abs(est - truth) <= bound, "\(context) q=\(q): \(est) vs \(truth)")
    }

    @Test func ddSketchQuantilesAreWithinOnePercent() async {
        await propertyCheck(count: 40, input: Gen.int64()) { seed in
            var rng = SplitMix64(seed: seed)
            var sketch = DDSketch(alpha: 0.01)
            var values: [Double] = []
            let shape = Int.random(in: 0..<4, using: &rng)
            for _ in 0..<Int.random(in: 1...5000, using: &rng) {
                let u = Double.random(in: 0..<1, using: &rng)
                let x: Double
                switch shape {
                case 0: x = u * 1e6
                case 1: x = -log(1 - u) * 250  // exponential latencies
                case 2: x = (u - 0.5) * 2000  // both signs
                default: x = Double(Int.random(in: 1...10, using: &rng))  // few distinct values
                }
                values.append(x)
                sketch.add(x)
            }
            values.sort()
            for q in [0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1] {
                expectClose(sketch.quantile(q) ?? .nan, exact: values, q: q, alpha: 0.01, "seed \(seed) shape \(shape)")
            }
        }
    }

    @Test func ddSketchMergeEqualsAddingEverything() {
        var a = DDSketch(), b = DDSketch(), all = DDSketch()
        for i in 0..<3000 {
            let x = Double(i % 977) * 1.5 - 300
            if i % 3 == 0 { a.add(x) } else { b.add(x) }
            all.add(x)
        }
        a.merge(b)
        #expect(a == all)
    }

    @Test func ddSketchStaysBoundedOverHugeRanges() {
        var s = DDSketch()
        var x = 1e-8
        while x < 1e300 {
            s.add(x)
            x *= 1.01
        }
        #expect(s.positive.counts.count <= DDSketch.maxBuckets)
        #expect((s.quantile(1) ?? 0) > 1e297)
    }

    @Test func hyperLogLogIsWithinThreePercent() {
        var scratch: [UInt8] = []
        for n in [5_000, 20_000, 200_000] {
            var h = HyperLogLog(precision: 14)
            for i in 0..<n { h.add(hash: StableHash.hash(.string("user-\(i)"), scratch: &scratch)) }
            let err = abs(Double(h.estimate - Int64(n))) / Double(n)
            #expect(err < 0.03, "n=\(n): estimate \(h.estimate), error \(err)")
        }
    }

    @Test func stableHashDoesNotDependOnTheProcess() {
        var scratch: [UInt8] = []
        // FNV-1a of the JSON text `"a"` through the Murmur finaliser: no per-process seed.
        #expect(StableHash.hash("a", scratch: &scratch) == StableHash.mix(fnv(#""a""#)))
        #expect(StableHash.hash(["x": 1], scratch: &scratch) == StableHash.mix(fnv(#"{"x":1}"#)))
    }

    func fnv(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h
    }

    @Test func percentileIsExactUpToTheLimitThenWithinOnePercent() throws {
        for n in [Aggregates.exactPercentileLimit, 20_000] {
            let h = StepHarness(
                try makeWindow(
                    "window: { tumbling: 1h, aggregate: { p50: 'percentile(v, 0.5)', p99: 'percentile(v, 0.99)' } }"))
            var rng = SplitMix64(seed: Int64(n))
            var values: [Double] = []
            for i in 0..<n {
                let v = Int64.random(in: 1...100_000, using: &rng)
                values.append(Double(v))
                h.send(["v": .int(v)], time: Int64(i % 1000))
            }
            h.advance(to: .max)
            let o = h.take().first ?? .null
            values.sort()
            for (name, q) in [("p50", 0.5), ("p99", 0.99)] {
                let got = o[name]?.numberValue ?? .nan
                if n <= Aggregates.exactPercentileLimit {
                    #expect(got == Aggregates.exactQuantile(values, q))
                } else {
                    expectClose(got, exact: values, q: q, alpha: Aggregates.percentileAlpha, "n=\(n)")
                }
            }
        }
    }

    @Test func countDistinctIsExactUpToTheLimitThenEstimated() throws {
        for n in [Aggregates.exactDistinctLimit, 50_000] {
            let h = StepHarness(
                try makeWindow("window: { tumbling: 1h, aggregate: { users: count_distinct(user), n: count() } }"))
            for i in 0..<n {
                h.send(["user": .string("u\(i)")], time: 1)
                h.send(["user": .string("u\(i)")], time: 2)  // repeats do not count
            }
            h.advance(to: .max)
            let o = h.take().first ?? .null
            let got = o["users"]?.numberValue ?? 0
            if n <= Aggregates.exactDistinctLimit {
                #expect(got == Double(n))
            } else {
                #expect(abs(got - Double(n)) / Double(n) < 0.03, "estimate \(got) for \(n)")
            }
        }
    }

    @Test func sessionMergesCombineSketches() throws {
        let h = StepHarness(
            try makeWindow(
                "window: { session: 10ms, aggregate: { p: 'percentile(v, 0.9)', d: count_distinct(v), n: count() } }"))
        var values: [Double] = []
        // Two sessions of 6,000 events each, far over both exact limits, bridged late.
        for i in 0..<6000 {
            h.send(["v": .int(Int64(i))], time: 0)
            h.send(["v": .int(Int64(i + 100_000))], time: 100)
            values += [Double(i), Double(i + 100_000)]
        }
        #expect(h.step.stateSize == 2)
        for t in stride(from: 5, through: 95, by: 5) { h.send(["v": 7], time: Int64(t)) }
        values += Array(repeating: 7, count: 19)
        #expect(h.step.stateSize == 1)
        h.advance(to: .max)
        let o = h.take().first ?? .null
        #expect(o["n"] == 12_019)
        values.sort()
        expectClose(o["p"]?.numberValue ?? .nan, exact: values, q: 0.9, alpha: 0.01, "merged")
        #expect(abs((o["d"]?.numberValue ?? 0) - 12_000) / 12_000 < 0.03)
    }
}
