import SluiceJSON
import Testing

@testable import SluiceSteps

/// `WindowStateMachine.fastResult` (a closing window's `count`, `sum`, `min` and `max`
/// read from the accumulator alone) against `Aggregates.result`: wherever the fast path
/// answers, the same value, bit for bit; where it does not (an overflowed sum, a `min`
/// or `max` that is not a double, the other functions), `result` is asked.
@Suite struct WindowResultFastPathTests {
    static func same(_ a: JSON, _ b: JSON) -> Bool {
        switch (a, b) {
        case (.double(let x), .double(let y)): x.bitPattern == y.bitPattern
        default: a == b
        }
    }

    static let functions: [(AggregateFunction, AggregatePlan.Op)] = [
        (.countAll, .countAll), (.count, .count), (.sum, .sum), (.max, .max), (.min, .min), (.avg, .general),
    ]

    static func value(_ rng: inout some RandomNumberGenerator) -> JSON {
        switch Int.random(in: 0..<9, using: &rng) {
        case 0: .null
        case 1: .int(Int64.random(in: -1000...1000, using: &rng))
        case 2: .int(Int64.max - Int64.random(in: 0...3, using: &rng))
        case 3: .int(Int64.min + Int64.random(in: 0...3, using: &rng))
        case 4: .double(-0.0)
        case 5: .double(Double(Int.random(in: -100_000...100_000, using: &rng)) / 100)
        case 6: .double(Double.random(in: -1e300...1e300, using: &rng))
        case 7: .string("s\(Int.random(in: 0..<3, using: &rng))")
        default: .double(Double.random(in: -1...1, using: &rng))
        }
    }

    @Test func fastResultsAreTheGeneralOnes() {
        var rng = SystemRandomNumberGenerator()
        var answered = 0
        var scratch: [UInt8] = []
        for _ in 0..<20_000 {
            let (f, op) = Self.functions[Int.random(in: 0..<Self.functions.count, using: &rng)]
            var a = Accumulator()
            var x = Aggregates.make(f)
            // Numbers only for sum, min and max (the window rejects the rest before
            // adding); any value for the counts.
            let numeric = f.needsNumbers
            for _ in 0..<Int.random(in: 0...6, using: &rng) {
                var v = Self.value(&rng)
                if numeric, case .string = v { v = .int(1) }
                Aggregates.add(f, &a, &x, v, time: 0, seq: 0, scratch: &scratch)
            }
            let general = Aggregates.result(f, a, x)
            guard let fast = WindowStateMachine.fastResult(op, a) else { continue }
            answered += 1
            guard case .success(let g) = general else {
                Issue.record("\(f): fast \(fast), the general path failed")
                continue
            }
            #expect(Self.same(fast, g), "\(f): fast \(fast), general \(g)")
        }
        #expect(answered > 10_000)
    }

    /// The same through the in-place adds the machine uses (`apply`), and whole windows.
    @Test func closedWindowsMatchTheGeneralResults() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let fs: [AggregateFunction] = [.countAll, .count, .sum, .max, .min, .avg]
            var m = WindowStateMachine(
                kind: .tumbling(size: 10, offset: 0), functions: fs, inputs: [-1, 0, 0, 0, 0, 0],
                allowedLateness: 0, maxOpenWindows: 1000)
            var fired: [WindowResult] = []
            var model: [Int64: [JSON]] = [:]
            for t in 0..<Int64.random(in: 1...40, using: &rng) {
                var v = Self.value(&rng)
                if case .string = v { v = .null }
                _ = m.add(time: t, key: .string("k"), values: [v], into: &fired)
                model[t / 10 * 10, default: []].append(v)
            }
            m.advance(to: Int64.max - 1, into: &fired)
            #expect(fired.count == model.count)
            for r in fired {
                let vs = model[r.start] ?? []
                var scratch: [UInt8] = []
                for (i, f) in fs.enumerated() {
                    var a = Accumulator()
                    var x = Aggregates.make(f)
                    for v in vs {
                        Aggregates.add(f, &a, &x, i == 0 ? .null : v, time: 0, seq: 0, scratch: &scratch)
                    }
                    switch Aggregates.result(f, a, x) {
                    case .success(let g):
                        #expect(Self.same(r.values[i], g), "\(f) over \(vs): \(r.values[i]) against \(g)")
                    case .failure:
                        #expect(r.errors.contains { $0.index == i }, "\(f) over \(vs)")
                        #expect(r.values[i] == .null)
                    }
                }
            }
        }
    }
}
