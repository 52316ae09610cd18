import SluiceCore
import SluiceJSON
import Testing

@testable import SluiceSteps

/// What a test feeds a window: events and watermark advances, in arrival order.
enum WindowOp {
    case event(JSON, time: Int64)
    case advance(Int64)
}

/// One emission: the op that caused it and the event.
struct Emission: Equatable, CustomStringConvertible {
    var op: Int
    var value: JSON
    var description: String { "@\(op) \(value)" }
}

/// Runs `ops` through `step`, recording which op produced each output, and the `late` side output.
func runOps(_ step: any Step, _ ops: [WindowOp]) -> (out: [Emission], late: [JSON], rejected: [JSON]) {
    let h = StepHarness(step)
    var out: [Emission] = []
    for (i, op) in ops.enumerated() {
        switch op {
        case .event(let v, let t): h.send(v, time: t)
        case .advance(let w): h.advance(to: w)
        }
        out += h.take().map { Emission(op: i, value: $0) }
    }
    return (out, (h.sides[SidePort.late] ?? []).map(\.value), (h.sides[SidePort.rejected] ?? []).map(\.value))
}

func makeWindow(_ yaml: String) throws -> any Step {
    switch compileStep(yaml) {
    case .success(let s): return s
    case .failure(let d): throw d
    }
}

/// Diagnostics from compiling `yaml`, or an empty list when it compiled.
func windowErrors(_ yaml: String) -> [Diagnostic] {
    switch compileStep(yaml) {
    case .success: return []
    case .failure(let d): return d.items
    }
}

// MARK: - Brute-force reference

/// One input event of the reference model.
struct RefEvent {
    var arrival: Int
    var key: JSON
    var time: Int64
    var v: JSON
    var id: Int64
}

/// The aggregates the property tests use, in this order.
let refAggregateYAML =
    "{n: count(), nv: count(v), total: sum(v), lo: min(v), hi: max(v), mean: avg(v), f: first(id), l: last(id), ids: collect(id), d: count_distinct(v), med: 'percentile(v, 0.5)'}"

/// Computes the aggregates of `refAggregateYAML` from scratch over `events`.
func refAggregates(_ events: [RefEvent]) -> [(String, JSON)] {
    let byTime = events.sorted { ($0.time, $0.arrival) < ($1.time, $1.arrival) }
    let vs: [Int64] = events.compactMap { if case .int(let i) = $0.v { return i } else { return nil } }
    var out: [(String, JSON)] = []
    out.append(("n", .int(Int64(events.count))))
    out.append(("nv", .int(Int64(vs.count))))
    out.append(("total", vs.isEmpty ? .null : .int(vs.reduce(0, +))))
    out.append(("lo", vs.min().map { .int($0) } ?? .null))
    out.append(("hi", vs.max().map { .int($0) } ?? .null))
    out.append(("mean", vs.isEmpty ? .null : .double(Double(vs.reduce(0, +)) / Double(vs.count))))
    out.append(("f", byTime.first.map { .int($0.id) } ?? .null))
    out.append(("l", byTime.last.map { .int($0.id) } ?? .null))
    out.append(("ids", .array(byTime.map { .int($0.id) })))
    out.append(("d", .int(Int64(Set(vs).count))))
    if vs.isEmpty {
        out.append(("med", .null))
    } else {
        let s = vs.sorted().map(Double.init)
        let pos = 0.5 * Double(s.count - 1)
        let lo = Int(pos)
        let hi = min(lo + 1, s.count - 1)
        out.append(("med", .double(s[lo] + (s[hi] - s[lo]) * (pos - Double(lo)))))
    }
    return out
}

/// The output event of a window as docs/windows.md shapes it.
func refOutput(keyed: Bool, key: JSON, start: Int64, end: Int64, events: [RefEvent], update: Bool) -> JSON {
    var o = JSONObject()
    if keyed { o["k"] = key }
    o["window_start"] = .int(start)
    o["window_end"] = .int(end)
    for (k, v) in refAggregates(events) { o[k] = v }
    if update { o["update"] = true }
    return .object(o)
}

/// Floor division for the reference's window alignment.
func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

/// Every aligned window `[s, s+size)` with `s = k·every + offset` that holds `t`, found by scanning.
func refWindows(_ t: Int64, size: Int64, every: Int64, offset: Int64) -> [(Int64, Int64)] {
    var out: [(Int64, Int64)] = []
    var k = floorDiv(t - size - offset, every) - 1
    while k * every + offset <= t {
        let s = k * every + offset
        if s <= t && t < s + size { out.append((s, s + size)) }
        k += 1
    }
    return out
}

/// A reference run of tumbling/hopping windows over `ops`: recomputes every window's
/// result from its full event list whenever it fires, with Flink's lateness rules.
func refTimeWindows(
    _ ops: [WindowOp], keyed: Bool, size: Int64, every: Int64, offset: Int64, lateness: Int64
) -> (out: [Emission], late: [JSON]) {
    struct W: Hashable {
        var key: JSON
        var start: Int64
        var end: Int64
    }
    var wm = Int64.min
    var contents: [W: [RefEvent]] = [:]
    var fired: Set<W> = []
    var out: [Emission] = []
    var late: [JSON] = []
    func result(_ w: W, update: Bool) -> JSON {
        refOutput(keyed: keyed, key: w.key, start: w.start, end: w.end, events: contents[w] ?? [], update: update)
    }
    for (i, op) in ops.enumerated() {
        switch op {
        case .event(let value, let t):
            let e = RefEvent(
                arrival: i, key: keyed ? value["k"] ?? .null : .null, time: t, v: value["v"] ?? .null,
                id: value["id"].flatMap { if case .int(let x) = $0 { x } else { nil } } ?? -1)
            let ws = refWindows(t, size: size, every: every, offset: offset)
                .filter { $0.1 - 1 + lateness > wm }
                .map { W(key: e.key, start: $0.0, end: $0.1) }
            if ws.isEmpty {
                late.append(value)
                continue
            }
            for w in ws { contents[w, default: []].append(e) }
            for w in ws.sorted(by: { ($0.end, $0.start) < ($1.end, $1.start) }) {
                if fired.contains(w) {
                    out.append(Emission(op: i, value: result(w, update: true)))
                } else if w.end - 1 <= wm {
                    fired.insert(w)
                    out.append(Emission(op: i, value: result(w, update: false)))
                }
            }
        case .advance(let w):
            guard w > wm else { continue }
            wm = w
            let due = contents.keys.filter { !fired.contains($0) && $0.end - 1 <= wm }
                .sorted { a, b in
                    let fa = contents[a]?.map(\.arrival).min() ?? 0
                    let fb = contents[b]?.map(\.arrival).min() ?? 0
                    return (a.end, a.start, fa) < (b.end, b.start, fb)
                }
            for d in due {
                fired.insert(d)
                out.append(Emission(op: i, value: result(d, update: false)))
            }
        }
    }
    return (out, late)
}
