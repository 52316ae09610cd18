import PropertyBased
import SluiceCore
import SluiceJSON
import Testing

@testable import SluiceSteps

/// Each window kind against a brute-force reference that recomputes every window from the
/// full event list, on random inputs with out-of-order events, several keys, nulls,
/// missing fields and watermarks that make some events late.
@Suite struct WindowPropertyTests {
    /// Random events (keys k0..k3, values with nulls and gaps) with times up to `disorder`
    /// behind the clock, and watermark advances `wmLag` behind the largest time seen.
    static func genOps(_ rng: inout WindowRNG, disorder: Int64, wmLag: Int64) -> [WindowOp] {
        var ops: [WindowOp] = []
        let n = Int.random(in: 0...50, using: &rng)
        let nKeys = Int.random(in: 1...4, using: &rng)
        var clock = Int64.random(in: -60...60, using: &rng)
        var maxSeen = Int64.min
        var wm = Int64.min
        for i in 0..<n {
            clock += Int64.random(in: 0...4, using: &rng)
            let t = clock - Int64.random(in: 0...disorder, using: &rng)
            var o = JSONObject()
            o["k"] = .string("k\(Int.random(in: 0..<nKeys, using: &rng))")
            switch Int.random(in: 0..<16, using: &rng) {
            case 0, 1: o["v"] = .null
            case 2: break
            default: o["v"] = .int(Int64.random(in: -20...20, using: &rng))
            }
            o["id"] = .int(Int64(i))
            ops.append(.event(.object(o), time: t))
            maxSeen = max(maxSeen, t)
            if Int.random(in: 0..<3, using: &rng) == 0, maxSeen - wmLag > wm {
                wm = maxSeen - wmLag
                ops.append(.advance(wm))
            }
        }
        ops.append(.advance(Int64.max))
        return ops
    }

    static func keyLine(_ keyed: Bool) -> String { keyed ? "key: k, " : "" }

    /// Counts what the random inputs exercised, so a generator change cannot quietly stop
    /// producing late events or updates.
    final class Coverage: @unchecked Sendable {
        var late = 0
        var updates = 0
        func record(_ out: [Emission], late: [JSON]) {
            self.late += late.count
            updates += out.filter { $0.value["update"] == true }.count
        }
    }

    @Test func tumblingMatchesTheReference() async throws {
        let coverage = Coverage()
        await propertyCheck(count: 300, input: Gen.int64()) { seed in
            var rng = WindowRNG(seed)
            let size = Int64.random(in: 1...12, using: &rng)
            let offset = Int64.random(in: 0..<size, using: &rng)
            let lateness = Int64.random(in: 0...6, using: &rng)
            let keyed = Bool.random(using: &rng)
            let ops = Self.genOps(&rng, disorder: Int64.random(in: 0...10, using: &rng), wmLag: Int64.random(in: 0...5, using: &rng))
            let offsetText = offset > 0 ? "{size: \(size)ms, offset: \(offset)ms}" : "\(size)ms"
            guard let step = try? makeWindow("window: {\(Self.keyLine(keyed))tumbling: \(offsetText), allowed_lateness: \(lateness)ms, aggregate: \(refAggregateYAML)}") else {
                Issue.record("did not compile")
                return
            }
            let got = runOps(step, ops)
            let want = refTimeWindows(ops, keyed: keyed, size: size, every: size, offset: offset, lateness: lateness)
            #expect(got.out == want.out, "seed \(seed)")
            #expect(got.late == want.late, "seed \(seed)")
            #expect(got.rejected.isEmpty, "seed \(seed)")
            #expect(step.stateSize == 0, "seed \(seed): state left after the end")
            coverage.record(got.out, late: got.late)
        }
        #expect(coverage.late > 0 && coverage.updates > 0)
    }

    @Test func hoppingMatchesTheReference() async throws {
        let coverage = Coverage()
        await propertyCheck(count: 300, input: Gen.int64()) { seed in
            var rng = WindowRNG(seed)
            let size = Int64.random(in: 2...15, using: &rng)
            let every = Int64.random(in: 1...size, using: &rng)
            let offset = Int64.random(in: 0..<every, using: &rng)
            let lateness = Int64.random(in: 0...6, using: &rng)
            let keyed = Bool.random(using: &rng)
            let ops = Self.genOps(&rng, disorder: Int64.random(in: 0...10, using: &rng), wmLag: Int64.random(in: 0...5, using: &rng))
            let yaml = "window: {\(Self.keyLine(keyed))hopping: {size: \(size)ms, every: \(every)ms, offset: \(offset)ms}, allowed_lateness: \(lateness)ms, aggregate: \(refAggregateYAML)}"
            guard let step = try? makeWindow(yaml) else {
                Issue.record("did not compile: \(yaml)")
                return
            }
            let got = runOps(step, ops)
            let want = refTimeWindows(ops, keyed: keyed, size: size, every: every, offset: offset, lateness: lateness)
            #expect(got.out == want.out, "seed \(seed)")
            #expect(got.late == want.late, "seed \(seed)")
            #expect(step.stateSize == 0, "seed \(seed)")
            coverage.record(got.out, late: got.late)
        }
        #expect(coverage.late > 0 && coverage.updates > 0)
    }

    /// Sessions recomputed from scratch as connected runs of `[t, t+gap)` over all events of
    /// a key, where runs that touch connect (Flink's rule); the watermark lags the disorder
    /// by 2ms, so no event is late and no event can reach a session after it fired (a
    /// session fires at `end - 1`), but events still arrive out of order and bridge sessions.
    @Test func sessionsMatchTheReference() async throws {
        await propertyCheck(count: 300, input: Gen.int64()) { seed in
            var rng = WindowRNG(seed)
            let gap = Int64.random(in: 1...8, using: &rng)
            let disorder = Int64.random(in: 0...8, using: &rng)
            let keyed = Bool.random(using: &rng)
            let ops = Self.genOps(&rng, disorder: disorder, wmLag: disorder + 2)
            guard let step = try? makeWindow("window: {\(Self.keyLine(keyed))session: {gap: \(gap)ms}, aggregate: \(refAggregateYAML)}") else {
                Issue.record("did not compile")
                return
            }
            let got = runOps(step, ops)
            // Reference: all events per key, split where the next time is past the running
            // end (last time + gap); an event exactly at the end extends the session.
            var byKey: [JSON: [RefEvent]] = [:]
            for (i, op) in ops.enumerated() {
                guard case .event(let v, let t) = op else { continue }
                let key = keyed ? v["k"] ?? .null : JSON.null
                byKey[key, default: []].append(RefEvent(arrival: i, key: key, time: t, v: v["v"] ?? .null, id: Self.id(v)))
            }
            var sessions: [(key: JSON, start: Int64, end: Int64, events: [RefEvent])] = []
            for (key, evs) in byKey {
                var current: [RefEvent] = []
                var end = Int64.min
                for e in evs.sorted(by: { ($0.time, $0.arrival) < ($1.time, $1.arrival) }) {
                    if !current.isEmpty && e.time > end {
                        sessions.append((key, current[0].time, end, current))
                        current = []
                    }
                    current.append(e)
                    end = max(end, e.time + gap)
                }
                if !current.isEmpty { sessions.append((key, current[0].time, end, current)) }
            }
            var want: [Emission] = []
            var emitted = Set<Int>()
            for (i, op) in ops.enumerated() {
                guard case .advance(let w) = op else { continue }
                let due = sessions.indices.filter { !emitted.contains($0) && sessions[$0].end - 1 <= w }
                    .sorted { a, b in
                        let x = sessions[a], y = sessions[b]
                        return (x.end, x.start, x.events.map(\.arrival).min() ?? 0) < (y.end, y.start, y.events.map(\.arrival).min() ?? 0)
                    }
                for d in due {
                    emitted.insert(d)
                    let s = sessions[d]
                    want.append(Emission(op: i, value: refOutput(keyed: keyed, key: s.key, start: s.start, end: s.end, events: s.events, update: false)))
                }
            }
            #expect(got.out == want, "seed \(seed)")
            #expect(got.late.isEmpty, "seed \(seed)")
            #expect(step.stateSize == 0, "seed \(seed)")
        }
    }

    @Test func countWindowsMatchTheReference() async throws {
        await propertyCheck(count: 300, input: Gen.int64()) { seed in
            var rng = WindowRNG(seed)
            let size = Int64.random(in: 1...6, using: &rng)
            let every = Int64.random(in: 1...size, using: &rng)
            let keyed = Bool.random(using: &rng)
            let ops = Self.genOps(&rng, disorder: 10, wmLag: 0)
            guard let step = try? makeWindow("window: {\(Self.keyLine(keyed))count: {size: \(size), every: \(every)}, aggregate: \(refAggregateYAML)}") else {
                Issue.record("did not compile")
                return
            }
            let got = runOps(step, ops)
            var perKey: [JSON: [RefEvent]] = [:]
            var want: [Emission] = []
            func output(_ key: JSON, _ evs: [RefEvent]) -> JSON {
                refOutput(keyed: keyed, key: key, start: evs.map(\.time).min() ?? 0, end: evs.map(\.time).max() ?? 0, events: evs, update: false)
            }
            for (i, op) in ops.enumerated() {
                guard case .event(let v, let t) = op else { continue }
                let key = keyed ? v["k"] ?? .null : JSON.null
                perKey[key, default: []].append(RefEvent(arrival: i, key: key, time: t, v: v["v"] ?? .null, id: Self.id(v)))
                let evs = perKey[key] ?? []
                // Window j holds events [j*every, j*every+size); it completes on its last one.
                let last = Int64(evs.count - 1)
                if last - size + 1 >= 0, (last - size + 1) % every == 0 {
                    let j = (last - size + 1) / every
                    want.append(Emission(op: i, value: output(key, Array(evs[Int(j * every)...Int(last)]))))
                }
            }
            var partial: [(JSON, [RefEvent])] = []
            for (key, evs) in perKey {
                var j: Int64 = 0
                while j * every < Int64(evs.count) {
                    if j * every + size > Int64(evs.count) { partial.append((key, Array(evs[Int(j * every)...]))) }
                    j += 1
                }
            }
            partial.sort { a, b in
                ((a.1.map(\.time).max() ?? 0), (a.1.map(\.time).min() ?? 0), a.1[0].arrival)
                    < ((b.1.map(\.time).max() ?? 0), (b.1.map(\.time).min() ?? 0), b.1[0].arrival)
            }
            for (key, evs) in partial { want.append(Emission(op: ops.count - 1, value: output(key, evs))) }
            #expect(got.out == want, "seed \(seed)")
            #expect(got.late.isEmpty, "seed \(seed)")
            #expect(step.stateSize == 0, "seed \(seed)")
        }
    }

    static func id(_ v: JSON) -> Int64 {
        if case .int(let i)? = v["id"] { return i }
        return -1
    }
}
