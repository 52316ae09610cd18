import PropertyBased
import SluiceCore
import SluiceJSON
import SluicePipeline
import SluiceTestSupport
import Testing

@testable import SluiceSteps

/// One input of a checkpoint test: an event or a watermark advance.
enum CheckpointOp {
    case event(Event)
    case advance(Int64)
}

/// Drives one step as a stage does and records everything it writes, in order, as text:
/// the port, the event time and the event's JSON text (byte for byte what a sink writes).
final class RecordingRun {
    let step: any Step
    var watermark = Int64.min
    var records: [String] = []

    init(_ step: any Step) { self.step = step }

    func run(_ op: CheckpointOp) {
        var out = StepOutput()
        switch op {
        case .event(let e):
            out.watermark = watermark
            if let s = step as? any InPlaceStep {
                withUnsafePointer(to: e) { s.process(at: $0, into: &out) }
            } else {
                step.process(e, into: &out)
            }
        case .advance(let w):
            watermark = w
            out.watermark = w
            step.advance(watermark: w, into: &out)
        }
        for e in out.events { records.append("main \(e.time) line \(e.line) \(e.description)") }
        for (p, e) in out.sides { records.append("side\(p) \(e.time) line \(e.line) \(e.description)") }
    }

    /// The state through the runtime's view of the step.
    func snapshot() throws -> StepState {
        guard let view = checkpointView(of: step) else { throw CheckpointTestError("no checkpoint view") }
        return try view.snapshotState()
    }

    /// This (fresh) step with `parts` restored, at `watermark`.
    func restore(_ parts: [StepState], watermark: Int64, owns: (Int) -> Bool = { _ in true }) throws {
        guard let view = checkpointView(of: step) else { throw CheckpointTestError("no checkpoint view") }
        try view.restoreState(parts, owns: owns)
        self.watermark = watermark
    }

    var counters: [String: Int] {
        var c: [String: Int] = [:]
        for (n, v) in step.counters { c[n, default: 0] += v }
        return c
    }
}

struct CheckpointTestError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A step configuration under test, with how the stream would route its events (the
/// step's key value), nil for steps whose outputs are not per key.
struct CheckpointCase: CustomStringConvertible, Sendable {
    var name: String
    var yaml: String
    /// The key value of an event, as the step reads it (nil: the case is not split by key).
    var route: (@Sendable (JSON) -> JSON?)?
    var description: String { name }

    func make() throws -> any Step {
        // Steps with timeouts need the pipeline to have event time.
        let pipeline = "time: {field: ts}\n" + oneStepPipelineYAML(yaml)
        guard let step = try Pipeline.compile(yaml: pipeline, file: "test.yaml").makeSteps(stream: "main").first else {
            throw CheckpointTestError("no step")
        }
        return step
    }
}

enum CheckpointCases {
    static let aggregates =
        "{n: count(), nv: count(v), total: sum(v), lo: min(v), hi: max(v), mean: avg(v), sd: stddev(v), f: first(id), l: last(id), ids: collect(id), d: count_distinct(v), med: 'percentile(v, 0.5)'}"
    static let byK: @Sendable (JSON) -> JSON? = { $0["k"] }

    static let all: [CheckpointCase] = [
        CheckpointCase(
            name: "tumbling",
            yaml: "window: {key: k, tumbling: 10ms, allowed_lateness: 6ms, aggregate: \(aggregates)}", route: byK),
        CheckpointCase(
            name: "hopping",
            yaml:
                "window: {key: k, hopping: {size: 20ms, every: 5ms}, allowed_lateness: 3ms, aggregate: \(aggregates)}",
            route: byK),
        CheckpointCase(
            name: "session",
            yaml: "window: {key: k, session: {gap: 6ms}, allowed_lateness: 4ms, aggregate: \(aggregates)}", route: byK),
        CheckpointCase(
            name: "count", yaml: "window: {key: k, count: {size: 3, every: 2}, aggregate: \(aggregates)}", route: byK),
        CheckpointCase(
            name: "composite key",
            yaml: "window: {key: {kk: k, kind: kind}, tumbling: 12ms, aggregate: {n: count(), total: sum(v)}}",
            route: { e in e["k"].map { JSON.array([$0, e["kind"] ?? .null]) } }),
        CheckpointCase(name: "global window", yaml: "window: {tumbling: 15ms, aggregate: \(aggregates)}", route: nil),
        CheckpointCase(
            name: "pattern",
            yaml: """
                pattern:
                  key: k
                  within: 30ms
                  timeouts: true
                  skip: none
                  sequence:
                    - name: a
                      where: kind == "a"
                    - name: b
                      where: kind == "b"
                      times: { min: 1, max: 3 }
                    - name: c
                      where: kind == "c"
                """, route: byK),
        CheckpointCase(
            name: "pattern without within",
            yaml: """
                pattern:
                  key: k
                  timeouts: true
                  sequence:
                    - name: a
                      where: kind == "a"
                    - name: b
                      where: kind == "b" && v != null
                """, route: nil),
        CheckpointCase(
            name: "pattern strict, not, iterative, emit",
            yaml: """
                pattern:
                  key: k
                  within: 25ms
                  skip: past_last
                  sequence:
                    - name: a
                      where: kind == "a"
                    - not: { where: kind == "start", contiguity: strict }
                    - name: b
                      where: kind == "b" && has(b.v) == false || kind == "b"
                      times: { min: 1, max: 2 }
                      contiguity: strict
                    - name: c
                      where: kind == "c" && id > a.id
                  emit:
                    first: a.id
                    n: size(b)
                    last: c.id
                """, route: byK),
        CheckpointCase(name: "dedupe", yaml: "dedupe: {key: d, within: 15ms}", route: { $0["d"] }),
        CheckpointCase(name: "dedupe max_keys", yaml: "dedupe: {key: d, within: 25ms, max_keys: 3}", route: nil),
        CheckpointCase(name: "reorder", yaml: "reorder: {max_buffer: 6}", route: nil),
        CheckpointCase(name: "reorder unbounded", yaml: "reorder: {}", route: nil),
        CheckpointCase(
            name: "saga",
            yaml: """
                saga:
                  key: k
                  start: kind == "start"
                  retention: 40ms
                  steps:
                    - name: s0
                      command: { cmd: '"s0"', id: k, attempt: attempt }
                      success: kind == "ok" && step == "s0"
                      failure: kind == "fail" && step == "s0"
                      timeout: 20ms
                      retry: { times: 1, backoff: 5ms }
                      compensate: { comp: '"s0"', id: k }
                    - name: s1
                      command: { cmd: '"s1"', id: k }
                      success: kind == "ok" && step == "s1"
                      failure: kind == "fail" && step == "s1"
                      timeout: 15ms
                """, route: byK),
        CheckpointCase(
            name: "when around a window",
            yaml: "window: {key: k, tumbling: 10ms, aggregate: {n: count(), total: sum(v)}}\nwhen: kind != \"c\"",
            route: byK),
    ]

    /// Random input: events of a few keys, somewhat out of order, some raw (with odd
    /// spacing, kept byte for byte), some parsed; watermark advances trailing the latest
    /// time; the end of input last.
    static func ops(seed: Int64) -> [CheckpointOp] {
        var rng = SplitMix64(seed: seed)
        let kinds = ["a", "b", "c", "a", "b", "start", "ok", "ok", "fail"]
        let nKeys = Int.random(in: 1...5, using: &rng)
        let disorder = Int64.random(in: 0...12, using: &rng)
        let lag = Int64.random(in: 0...6, using: &rng)
        var clock = Int64.random(in: -50...50, using: &rng)
        var ops: [CheckpointOp] = []
        var maxSeen = Int64.min
        var wm = Int64.min
        for i in 0..<Int.random(in: 10...120, using: &rng) {
            if Int.random(in: 0..<4, using: &rng) == 0 {
                if maxSeen != Int64.min, maxSeen - lag > wm {
                    wm = maxSeen - lag
                    ops.append(.advance(wm))
                }
                continue
            }
            clock += Int64.random(in: 0...3, using: &rng)
            let t = clock - Int64.random(in: 0...disorder, using: &rng)
            maxSeen = max(maxSeen, t)
            var fields: [(String, String)] = [
                ("k", "\"k\(Int.random(in: 0..<nKeys, using: &rng))\""),
                ("kind", "\"\(kinds[Int.random(in: 0..<kinds.count, using: &rng)])\""),
                ("id", "\(i)"),
                ("d", "\"d\(Int.random(in: 0..<6, using: &rng))\""),
                ("step", "\"s\(Int.random(in: 0...1, using: &rng))\""),
            ]
            switch Int.random(in: 0..<10, using: &rng) {
            case 0: fields.append(("v", "null"))
            case 1: break
            case 2: fields.append(("v", "\(Double(Int.random(in: -40...40, using: &rng)) / 4)e0"))
            default: fields.append(("v", "\(Int.random(in: -20...20, using: &rng))"))
            }
            fields.shuffle(using: &rng)
            let text = "{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: " ,  ") + "}"
            var e: Event
            if Bool.random(using: &rng) {
                let bytes = Array(text.utf8)
                e = bytes.withUnsafeBytes {
                    Event(raw: ByteBuffer(copying: $0), start: 0, count: bytes.count, line: i + 1)
                }
            } else {
                guard let v = try? JSONParser.parse(text) else { continue }
                e = Event(v, line: i + 1)
            }
            e.time = t
            ops.append(.event(e))
        }
        ops.append(.advance(Int64.max))
        return ops
    }

    /// The key value of an op's event for `c` (nil for advances).
    static func key(_ op: CheckpointOp, _ c: CheckpointCase) -> JSON? {
        guard case .event(let e) = op, let route = c.route else { return nil }
        return route(e.value) ?? .null
    }
}

/// Round trips of every stateful step's checkpoint state: a step restored from another's
/// snapshot goes on exactly as the other does; state split by key group over several
/// copies, or merged from several, gives the same outputs; corrupt state is refused.
@Suite struct CheckpointRoundTripTests {
    /// Snapshot after a random prefix of the input, restore into a fresh step: both give
    /// the same outputs and side outputs for the rest, byte for byte and in order,
    /// including the end-of-input flush.
    @Test(arguments: CheckpointCases.all)
    func restoredStepGoesOnTheSame(_ c: CheckpointCase) async throws {
        await propertyCheck(count: 60, input: Gen.int64(), Gen.int(in: 0...1000)) { seed, cutAt in
            let ops = CheckpointCases.ops(seed: seed)
            let cut = cutAt % ops.count
            let a = RecordingRun(try c.make())
            for op in ops[..<cut] { a.run(op) }
            let before = a.records.count
            let b = RecordingRun(try c.make())
            try b.restore([try a.snapshot()], watermark: a.watermark)
            #expect(b.counters == a.counters)
            // And once more, from the restored step's own snapshot.
            let b2 = RecordingRun(try c.make())
            try b2.restore([try b.snapshot()], watermark: b.watermark)
            for op in ops[cut...] {
                a.run(op)
                b.run(op)
                b2.run(op)
            }
            #expect(Array(a.records[before...]) == b.records, "cut at \(cut) of \(ops.count)")
            #expect(b2.records == b.records, "restored twice, cut at \(cut) of \(ops.count)")
        }
    }

    /// The state split by key group over 2 or 3 copies, each fed the rest of the events
    /// whose key routes to it: together they give what the one step gives, and their
    /// counters add up to its counters.
    @Test(arguments: CheckpointCases.all.filter { $0.route != nil })
    func splitStateGivesTheSameOutputs(_ c: CheckpointCase) async throws {
        await propertyCheck(count: 40, input: Gen.int64(), Gen.int(in: 0...1000), Gen.int(in: 2...3)) {
            seed, cutAt, n in
            let ops = CheckpointCases.ops(seed: seed)
            let cut = cutAt % ops.count
            let a = RecordingRun(try c.make())
            for op in ops[..<cut] { a.run(op) }
            let before = a.records.count
            let state = try a.snapshot()
            var copies: [RecordingRun] = []
            for j in 0..<n {
                let r = RecordingRun(try c.make())
                try r.restore([state], watermark: a.watermark) { KeyGroups.owner(ofGroup: $0, parallelism: n) == j }
                copies.append(r)
            }
            var summed: [String: Int] = [:]
            for r in copies { summed.merge(r.counters, uniquingKeysWith: +) }
            #expect(summed == a.counters)
            for op in ops[cut...] {
                a.run(op)
                if let k = CheckpointCases.key(op, c) {
                    copies[KeyGroups.owner(ofHash: JSONKeyHash.hash(k), parallelism: n)].run(op)
                } else {
                    for r in copies { r.run(op) }
                }
            }
            #expect(Array(a.records[before...]).sorted() == copies.flatMap(\.records).sorted())
        }
    }

    /// Two copies that ran side by side, merged into one step: it gives the rest of the
    /// outputs that one step would have given from the start.
    @Test(arguments: CheckpointCases.all.filter { $0.route != nil })
    func mergedStatesGiveTheSameOutputs(_ c: CheckpointCase) async throws {
        await propertyCheck(count: 40, input: Gen.int64(), Gen.int(in: 0...1000)) { seed, cutAt in
            let ops = CheckpointCases.ops(seed: seed)
            let cut = cutAt % ops.count
            let a = RecordingRun(try c.make())
            let copies = [RecordingRun(try c.make()), RecordingRun(try c.make())]
            for op in ops[..<cut] {
                a.run(op)
                if let k = CheckpointCases.key(op, c) {
                    copies[KeyGroups.owner(ofHash: JSONKeyHash.hash(k), parallelism: 2)].run(op)
                } else {
                    for r in copies { r.run(op) }
                }
            }
            let before = a.records.count
            let b = RecordingRun(try c.make())
            try b.restore(try copies.map { try $0.snapshot() }, watermark: a.watermark)
            #expect(b.counters == a.counters)
            for op in ops[cut...] {
                a.run(op)
                b.run(op)
            }
            #expect(Array(a.records[before...]).sorted() == b.records.sorted())
        }
    }

    /// Truncated or flipped bytes anywhere in a snapshot: restoring throws a
    /// ``StateError`` or gives some state, and the step then runs a whole input without
    /// crashing. A truncated shared part always throws.
    @Test(arguments: CheckpointCases.all)
    func corruptStateIsRefusedNeverCrashes(_ c: CheckpointCase) async throws {
        var refused = 0
        var tried = 0
        for seed in Int64(1)...12 {
            let ops = CheckpointCases.ops(seed: seed)
            let a = RecordingRun(try c.make())
            for op in ops.dropLast() { a.run(op) }
            let state = try a.snapshot()
            var rng = SplitMix64(seed: seed &* 7919)
            for trial in 0..<25 {
                var bad = state
                let groups = state.groups.keys.sorted()
                let g = groups.isEmpty || trial % 4 == 0 ? nil : groups[Int.random(in: 0..<groups.count, using: &rng)]
                var bytes = g.map { state.groups[$0] ?? [] } ?? state.shared
                guard !bytes.isEmpty else { continue }
                let truncate = trial % 2 == 0
                if truncate {
                    bytes.removeLast(Int.random(in: 1...bytes.count, using: &rng))
                } else {
                    let i = Int.random(in: 0..<bytes.count, using: &rng)
                    bytes[i] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng))
                }
                if let g { bad.groups[g] = bytes } else { bad.shared = bytes }
                tried += 1
                let b = RecordingRun(try c.make())
                do {
                    try b.restore([bad], watermark: a.watermark)
                } catch is StateError {
                    refused += 1
                    continue
                }
                #expect(!(truncate && g == nil), "a truncated shared part was accepted")
                // Whatever state it took, the step runs on.
                for op in ops { b.run(op) }
            }
        }
        #expect(tried == 0 || refused > 0)
    }

    /// A state of a format version this Sluice does not know is refused with a message
    /// that names the step kind.
    @Test(arguments: CheckpointCases.all)
    func unknownVersionIsRefused(_ c: CheckpointCase) throws {
        let a = RecordingRun(try c.make())
        var state = try a.snapshot()
        state.version = 99
        let b = RecordingRun(try c.make())
        let kind = String(c.yaml.prefix { $0 != ":" })
        #expect {
            try b.restore([state], watermark: Int64.min)
        } throws: { e in
            (e as? StateError)?.message.contains("\(kind):") == true
                && (e as? StateError)?.message.contains("version 99") == true
        }
    }

    /// Percentile sketches and distinct counters past their exact limits survive a
    /// checkpoint: the restored window gives the same estimates.
    @Test func sketchesRoundTrip() throws {
        let c = CheckpointCase(
            name: "sketch",
            yaml:
                "window: {key: k, tumbling: 1h, aggregate: {p50: 'percentile(v, 0.5)', p99: 'percentile(v, 0.99)', d: count_distinct(v), n: count()}}",
            route: nil)
        let a = RecordingRun(try c.make())
        var ops: [CheckpointOp] = []
        var rng = SplitMix64(seed: Int64(42))
        for i in 0..<9000 {
            let v: JSON = i % 3 == 0 ? .double(Double.random(in: -1e6...1e6, using: &rng)) : .int(Int64(i))
            ops.append(.event(Event(.object(JSONObject([("k", .string("k\(i % 2)")), ("v", v)])), time: Int64(i))))
        }
        ops.append(.advance(Int64.max))
        for op in ops[..<7000] { a.run(op) }
        let state = try a.snapshot()
        let b = RecordingRun(try c.make())
        try b.restore([state], watermark: a.watermark)
        for op in ops[7000...] {
            a.run(op)
            b.run(op)
        }
        #expect(a.records.count == 2)
        #expect(a.records == b.records)
        // The state holds the sketches, not every value.
        let size = state.shared.count + state.groups.values.reduce(0) { $0 + $1.count }
        #expect(size < 120_000)
    }

    /// Buffered raw events come back as the same bytes, line and time.
    @Test func bufferedEventsKeepTheirBytes() throws {
        let step = ReorderStep(maxBuffer: nil, latePort: SidePort.late)
        let text = Array(#"{ "b":1,   "a" : [1.50, "\u00e9"] }"#.utf8)
        var e = text.withUnsafeBytes { Event(raw: ByteBuffer(copying: $0), start: 0, count: text.count, line: 17) }
        e.time = 5
        let a = RecordingRun(step)
        a.run(.event(e))
        let b = RecordingRun(ReorderStep(maxBuffer: nil, latePort: SidePort.late))
        try b.restore([try a.snapshot()], watermark: a.watermark)
        b.run(.advance(Int64.max))
        #expect(b.records == ["main 5 line 17 " + String(decoding: text, as: UTF8.self)])
    }
}
