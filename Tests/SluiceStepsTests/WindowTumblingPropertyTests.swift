import SluiceCore
import SluiceJSON
import SluiceTestSupport
import Testing

@testable import SluiceSteps

/// The tumbling window reuses the last event's window bounds while events fall in it
/// (no division per event), and reads the key and inputs of a lent event where they
/// are. Against a model that aligns every event on its own: random times, in and out
/// of order, negative, and across offsets.
@Suite struct WindowTumblingPropertyTests {
    @Test(arguments: [(60_000, 0), (60_000, 7_000), (1_000, 999), (3, 1)])
    func eventsLandInTheirAlignedWindows(size: Int64, offset: Int64) throws {
        for path in [StepHarness.Path.value, .pointer] {
            let h = StepHarness(
                try makeWindow(
                    "window: { key: k, tumbling: { size: \(size)ms, offset: \(offset)ms }, aggregate: { n: count(), total: sum(v), top: max(v) } }"
                ), path: path)
            var rng = SystemRandomNumberGenerator()
            var model: [String: [Int64: (n: Int, total: Int64, top: Int64)]] = [:]
            var t = Int64.random(in: -5 * size...5 * size, using: &rng)
            for _ in 0..<2000 {
                switch Int.random(in: 0..<10, using: &rng) {
                case 0: t -= Int64.random(in: 0...3 * size, using: &rng)  // back
                case 1: t += Int64.random(in: 0...3 * size, using: &rng)  // far ahead
                default: t += Int64.random(in: 0...max(1, size / 7), using: &rng)
                }
                let key = "k\(Int.random(in: 0..<5, using: &rng))"
                let v = Int64.random(in: -100...100, using: &rng)
                h.send(["k": .string(key), "v": .int(v)], time: t)
                var r = (t - offset) % size
                if r < 0 { r += size }
                let start = t - r
                var w = model[key, default: [:]][start] ?? (0, 0, Int64.min)
                w.n += 1
                w.total += v
                w.top = max(w.top, v)
                model[key, default: [:]][start] = w
            }
            h.advance(to: .max)
            var got: [String: [Int64: (n: Int, total: Int64, top: Int64)]] = [:]
            for e in h.take() {
                guard case .string(let k)? = e["k"], case .int(let s)? = e["window_start"],
                    case .int(let end)? = e["window_end"],
                    case .int(let n)? = e["n"], case .int(let total)? = e["total"], case .int(let top)? = e["top"]
                else {
                    Issue.record("unexpected result \(e)")
                    continue
                }
                #expect(end == s + size)
                got[k, default: [:]][s] = (Int(n), total, top)
            }
            #expect(got.keys.sorted() == model.keys.sorted())
            for (k, ws) in model {
                #expect(got[k]?.keys.sorted() == ws.keys.sorted(), "key \(k)")
                for (s, w) in ws {
                    let g = got[k]?[s]
                    #expect(g?.n == w.n && g?.total == w.total && g?.top == w.top, "key \(k) window \(s)")
                }
            }
        }
    }
}
