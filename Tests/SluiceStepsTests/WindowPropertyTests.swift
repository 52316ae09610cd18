import PropertyBased
import SluiceCore
import SluiceJSON
import Testing

@testable import SluiceSteps

/// Each window kind against a brute-force reference that recomputes every window from the
/// full event list, on random inputs with out-of-order events, several keys, nulls,
/// missing fields and watermarks that make some events late.
@Suite struct WindowPropertyTests {
    /// One generated input step: the clock moves by `dt`, then either an event (key
    /// `k(key % nKeys)`, a value by `kind`: null, missing or `v`) `back` behind the clock,
    /// or (`advance`) a watermark advance.
    struct RawOp: Sendable, CustomStringConvertible {
        var dt: Int64
        var back: Int64
        var key: Int
        var kind: Int
        var v: Int64
        var advance: Bool
        var description: String { advance ? "advance" : "dt \(dt) back \(back) key \(key) kind \(kind) v \(v)" }
    }

    /// Input steps, generated (and shrunk) by PropertyBased.
    static let rawOps = zip(
        Gen.int64(in: 0...4), Gen.int64(in: 0...10), Gen.int(in: 0...3), Gen.int(in: 0...15), Gen.int64(in: -20...20),
        Gen.bool(1.0 / 3)
    ).map { RawOp(dt: $0, back: $1, key: $2, kind: $3, v: $4, advance: $5) }.array(of: 0...50)

    /// Where the clock starts, and how many keys there are.
    static let stream = zip(Gen.int64(in: -60...60), Gen.int(in: 1...4))

    /// The events (keys k0..k3, values with nulls and gaps) with times up to `disorder`
    /// behind the clock, and watermark advances `wmLag` behind the largest time seen, that
    /// `raw` describes.
    static func ops(_ raw: [RawOp], stream: (start: Int64, nKeys: Int), disorder: Int64, wmLag: Int64) -> [WindowOp] {
        var ops: [WindowOp] = []
        var clock = stream.start
        var maxSeen = Int64.min
        var wm = Int64.min
        var i: Int64 = 0
        for r in raw {
            clock += r.dt
            if r.advance {
                if maxSeen != Int64.min, maxSeen - wmLag > wm {
                    wm = maxSeen - wmLag
                    ops.append(.advance(wm))
                }
                continue
            }
            let t = clock - r.back % (disorder + 1)
            var o = JSONObject()
            o["k"] = .string("k\(r.key % stream.nKeys)")
            switch r.kind {
            case 0, 1: o["v"] = .null
            case 2: break
            default: o["v"] = .int(r.v)
            }
            o["id"] = .int(i)
            i += 1
            ops.append(.event(.object(o), time: t))
            maxSeen = max(maxSeen, t)
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
        // size, offset (below size), allowed lateness, keyed, disorder, watermark lag
        let params = zip(
            Gen.int64(in: 1...12), Gen.int64(in: 0...11), Gen.int64(in: 0...6), Gen.bool, Gen.int64(in: 0...10),
            Gen.int64(in: 0...5))
        await propertyCheck(count: 300, input: params, Self.stream, Self.rawOps) { p, stream, raw in
            let (size, offset, lateness, keyed) = (p.0, p.1 % p.0, p.2, p.3)
            let ops = Self.ops(raw, stream: stream, disorder: p.4, wmLag: p.5)
            let offsetText = offset > 0 ? "{size: \(size)ms, offset: \(offset)ms}" : "\(size)ms"
            guard
                let step = try? makeWindow(
                    "window: {\(Self.keyLine(keyed))tumbling: \(offsetText), allowed_lateness: \(lateness)ms, aggregate: \(refAggregateYAML)}"
                )
            else {
                Issue.record("did not compile")
                return
            }
            let got = runOps(step, ops)
            let want = refTimeWindows(ops, keyed: keyed, size: size, every: size, offset: offset, lateness: lateness)
            #expect(got.out == want.out)
            #expect(got.late == want.late)
            #expect(got.rejected.isEmpty)
            #expect(step.stateSize == 0, "state left after the end")
            coverage.record(got.out, late: got.late)
        }
        #expect(coverage.late > 0 && coverage.updates > 0)
    }

    @Test func hoppingMatchesTheReference() async throws {
        let coverage = Coverage()
        // size, every (at most size), offset (below every), allowed lateness, keyed, disorder, watermark lag.
        // The disorder reaches past the largest window and lateness, so that late events
        // (behind every window they belong to) come up in most runs, not one in a few.
        let params = zip(
            Gen.int64(in: 2...15), Gen.int64(in: 1...15), Gen.int64(in: 0...14), Gen.int64(in: 0...6), Gen.bool,
            Gen.int64(in: 0...30), Gen.int64(in: 0...5))
        await propertyCheck(count: 300, input: params, Self.stream, Self.rawOps) { p, stream, raw in
            let size = p.0
            let every = (p.1 - 1) % size + 1
            let (offset, lateness, keyed) = (p.2 % every, p.3, p.4)
            let ops = Self.ops(raw, stream: stream, disorder: p.5, wmLag: p.6)
            let yaml =
                "window: {\(Self.keyLine(keyed))hopping: {size: \(size)ms, every: \(every)ms, offset: \(offset)ms}, allowed_lateness: \(lateness)ms, aggregate: \(refAggregateYAML)}"
            guard let step = try? makeWindow(yaml) else {
                Issue.record("did not compile: \(yaml)")
                return
            }
            let got = runOps(step, ops)
            let want = refTimeWindows(ops, keyed: keyed, size: size, every: every, offset: offset, lateness: lateness)
            #expect(got.out == want.out)
            #expect(got.late == want.late)
            #expect(step.stateSize == 0)
            coverage.record(got.out, late: got.late)
        }
        #expect(coverage.late > 0 && coverage.updates > 0)
    }

    /// Sessions recomputed from scratch as connected runs of `[t, t+gap)` over all events of
    /// a key, where runs that touch connect (Flink's rule); the watermark lags the disorder
    /// by 2ms, so no event is late and no event can reach a session after it fired (a
    /// session fires at `end - 1`), but events still arrive out of order and bridge sessions.
    @Test func sessionsMatchTheReference() async throws {
        // gap, disorder, keyed
        let params = zip(Gen.int64(in: 1...8), Gen.int64(in: 0...8), Gen.bool)
        await propertyCheck(count: 300, input: params, Self.stream, Self.rawOps) { p, stream, raw in
            let (gap, disorder, keyed) = p
            let ops = Self.ops(raw, stream: stream, disorder: disorder, wmLag: disorder + 2)
            guard
                let step = try? makeWindow(
                    "window: {\(Self.keyLine(keyed))session: {gap: \(gap)ms}, aggregate: \(refAggregateYAML)}")
            else {
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
                byKey[key, default: []].append(
                    RefEvent(arrival: i, key: key, time: t, v: v["v"] ?? .null, id: Self.id(v)))
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
                        return (x.end, x.start, x.events.map(\.arrival).min() ?? 0) < (
                            y.end, y.start, y.events.map(\.arrival).min() ?? 0
                        )
                    }
                for d in due {
                    emitted.insert(d)
                    let s = sessions[d]
                    want.append(
                        Emission(
                            op: i,
                            value: refOutput(
                                keyed: keyed, key: s.key, start: s.start, end: s.end, events: s.events, update: false)))
                }
            }
            #expect(got.out == want)
            #expect(got.late.isEmpty)
            #expect(step.stateSize == 0)
        }
    }

    @Test func countWindowsMatchTheReference() async throws {
        // size, every (at most size), keyed
        let params = zip(Gen.int64(in: 1...6), Gen.int64(in: 1...6), Gen.bool)
        await propertyCheck(count: 300, input: params, Self.stream, Self.rawOps) { p, stream, raw in
            let size = p.0
            let every = (p.1 - 1) % size + 1
            let keyed = p.2
            let ops = Self.ops(raw, stream: stream, disorder: 10, wmLag: 0)
            guard
                let step = try? makeWindow(
                    "window: {\(Self.keyLine(keyed))count: {size: \(size), every: \(every)}, aggregate: \(refAggregateYAML)}"
                )
            else {
                Issue.record("did not compile")
                return
            }
            let got = runOps(step, ops)
            var perKey: [JSON: [RefEvent]] = [:]
            var want: [Emission] = []
            func output(_ key: JSON, _ evs: [RefEvent]) -> JSON {
                refOutput(
                    keyed: keyed, key: key, start: evs.map(\.time).min() ?? 0, end: evs.map(\.time).max() ?? 0,
                    events: evs, update: false)
            }
            for (i, op) in ops.enumerated() {
                guard case .event(let v, let t) = op else { continue }
                let key = keyed ? v["k"] ?? .null : JSON.null
                perKey[key, default: []].append(
                    RefEvent(arrival: i, key: key, time: t, v: v["v"] ?? .null, id: Self.id(v)))
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
            #expect(got.out == want)
            #expect(got.late.isEmpty)
            #expect(step.stateSize == 0)
        }
    }

    static func id(_ v: JSON) -> Int64 {
        if case .int(let i)? = v["id"] { return i }
        return -1
    }
}
