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

/// A tumbling key whose window closed stays in the key table (idle) until the next
/// watermark that closes windows: found again if its next event comes before, removed
/// then if not. Neither is visible in the results or in ``WindowStateMachine/openKeys``.
@Suite struct WindowIdleKeyTests {
    @Test func idleKeysAreReusedOrRemovedAtTheNextClosingWatermark() {
        var m = WindowStateMachine(
            kind: .tumbling(size: 10, offset: 0), functions: [.countAll], inputs: [-1], allowedLateness: 0,
            maxOpenWindows: 100)
        var fired: [WindowResult] = []
        func add(_ key: String, _ t: Int64) {
            #expect(m.add(time: t, key: .string(key), values: [], into: &fired) == .counted)
        }
        for k in ["a", "b", "c"] { add(k, 1) }
        #expect(m.openKeys == 3)
        m.advance(to: 9, into: &fired)  // [0, 10) closes: a, b and c go idle
        #expect(fired.map(\.key) == [.string("a"), .string("b"), .string("c")])
        #expect(m.openKeys == 0 && m.openWindows == 0 && m.keyIndex.count == 3)
        fired.removeAll()
        add("a", 12)  // back before the next closing watermark: the same key index
        #expect(m.openKeys == 1 && m.keyIndex.count == 3)
        m.advance(to: 19, into: &fired)  // b and c, idle since the last one, go; a goes idle
        #expect(fired.map(\.key) == [.string("a")] && fired.first?.values == [.int(1)])
        #expect(m.openKeys == 0 && m.keyIndex.count == 1)
        fired.removeAll()
        add("b", 25)
        add("a", 26)
        m.advance(to: 29, into: &fired)
        #expect(fired.map(\.key) == [.string("b"), .string("a")])
        #expect(fired.map(\.values) == [[.int(1)], [.int(1)]])
        #expect(m.openKeys == 0 && m.keyIndex.count == 2)
        m.advance(to: 100, into: &fired)  // nothing to close: the idle keys stay
        #expect(m.keyIndex.count == 2)
    }
}
