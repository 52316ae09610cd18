import PropertyBased
import SluiceCore
import SluiceJSON
import SluicePipeline
import Testing

@testable import SluiceSteps

/// A random saga: stages of one or two steps, each with a random timeout, retries and
/// compensation; written as YAML. Generated (and shrunk) by PropertyBased.
struct RandomSaga: CustomStringConvertible {
    struct StepSpec {
        var name: String
        var timeout: Int
        var retries: Int
        var backoff: Int
        /// 0: none, 1: not awaited, 2: awaited.
        var compensation: Int
    }
    var stages: [[StepSpec]]
    var lateness: Int
    var steps: [StepSpec] { stages.flatMap { $0 } }

    /// One step: its timeout, retries, backoff and compensation (named in ``make(_:lateness:)``).
    static let rawStep = zip(Gen.int(in: 20...80), Gen.int(in: 0...1), Gen.int(in: 0...20), Gen.int(in: 0...2))
        .map { StepSpec(name: "", timeout: $0, retries: $1, backoff: $2, compensation: $3) }

    /// One to three stages, a quarter of them two steps in parallel, and the lateness.
    static let generator = zip(
        zip(rawStep, rawStep, Gen.bool(0.25)).map { $2 ? [$0, $1] : [$0] }.array(of: 1...3), Gen.int(in: 0...30)
    )
    .map { make($0, lateness: $1) }

    /// The saga of `stages`, its steps named `s0`, `s1`, ... in order.
    static func make(_ stages: [[StepSpec]], lateness: Int) -> RandomSaga {
        var n = 0
        let named = stages.map { stage in
            stage.map { s in
                var s = s
                s.name = "s\(n)"
                n += 1
                return s
            }
        }
        return RandomSaga(stages: named, lateness: lateness)
    }

    /// The condition recognising a reply of `kind` (`ok`, `fail`, `undone`, `notundone`)
    /// to step `step`, as the saga's YAML writes it.
    typealias ReplyCondition = (_ kind: String, _ step: String) -> String

    func stepYAML(_ s: StepSpec, indent: String, reply: ReplyCondition, awaitedReads: String) -> String {
        var y = "\(indent)- name: \(s.name)\n"
        y += "\(indent)  command: { cmd: '\"\(s.name)\"', id: id, attempt: attempt }\n"
        y += "\(indent)  success: \(reply("ok", s.name))\n"
        y += "\(indent)  failure: \(reply("fail", s.name))\n"
        y += "\(indent)  timeout: \(s.timeout)s\n"
        if s.retries > 0 { y += "\(indent)  retry: { times: \(s.retries), backoff: \(s.backoff)s }\n" }
        switch s.compensation {
        case 1: y += "\(indent)  compensate: { comp: '\"\(s.name)\"', id: id }\n"
        case 2:
            y += "\(indent)  compensate:\n"
            y += "\(indent)    command: { comp: '\"\(s.name)\"', id: id\(awaitedReads) }\n"
            y += "\(indent)    success: \(reply("undone", s.name))\n"
            y += "\(indent)    failure: \(reply("notundone", s.name))\n"
            y += "\(indent)    timeout: 30s\n"
        default: break
        }
        return y
    }

    var yaml: String { pipeline() }

    /// The saga's pipeline. `reply` writes its reply conditions (by default `kind` and
    /// `step` tested apart); `awaitedReads` is added to awaited compensations' commands.
    func pipeline(
        reply: ReplyCondition = { "kind == \"\($0)\" && step == \"\($1)\"" }, awaitedReads: String = ""
    ) -> String {
        var y =
            "time: { field: ts, lateness: \(lateness)s }\nsteps:\n  - saga:\n      key: id\n      start: kind == \"start\"\n      retention: 50s\n      steps:\n"
        for stage in stages {
            if stage.count == 1 {
                y += stepYAML(stage[0], indent: "        ", reply: reply, awaitedReads: awaitedReads)
            } else {
                y += "        - parallel:\n"
                for s in stage { y += stepYAML(s, indent: "            ", reply: reply, awaitedReads: awaitedReads) }
            }
        }
        return y
    }

    var description: String { yaml }

    /// Random events for `runs` (one saga each): a start each, then replies (some for
    /// steps not running, some repeated), every time distinct; in arrival order, each at
    /// most `lateness` behind the latest before it.
    func events(_ runs: [SagaRun]) -> [(time: Int64, value: JSON)] {
        let kinds = ["ok", "ok", "ok", "fail", "undone", "notundone"]
        // (time, arrival time, value); each event arrives up to the lateness after its time.
        var evs: [(time: Int64, arrival: Int64, value: JSON)] = []
        var serial: Int64 = 0
        let late = Int64(lateness) * 1000
        func add(_ t: Int, delay: Int, _ e: JSON) {
            serial += 1
            // A generated time unit is a second (the saga's durations are in seconds); the
            // milliseconds keep every time distinct.
            let time = Int64(t) * 1000 + serial
            evs.append((time, time + late * Int64(delay) / 1000, e))
        }
        for (i, run) in runs.enumerated() {
            let id = JSON.string("k\(i)")
            add(run.start, delay: run.delay, .object(JSONObject([("kind", "start"), ("id", id)])))
            for r in run.replies {
                let s = steps[r.step % steps.count].name
                let e = JSON.object(JSONObject([("kind", .string(kinds[r.kind])), ("id", id), ("step", .string(s))]))
                add(run.start + r.after, delay: r.delay, e)
                if let again = r.repeated { add(run.start + r.after + again, delay: r.repeatDelay, e) }
            }
        }
        return evs.sorted { ($0.arrival, $0.time) < ($1.arrival, $1.time) }.map { (time: $0.time, value: $0.value) }
    }
}

/// The events of one saga, as generated: the start's time (in seconds) and its replies.
/// Each event's `delay` (0...1000) is how late it arrives, in thousandths of the lateness.
struct SagaRun: CustomStringConvertible {
    struct Reply {
        /// Which step (modulo the steps), which kind (an index into the kinds), and
        /// when, in seconds after the start.
        var step: Int
        var kind: Int
        var after: Int
        var delay: Int
        /// Seconds after the reply that a repeat of it comes, if it is repeated.
        var repeated: Int?
        var repeatDelay: Int
    }
    var start: Int
    var delay: Int
    var replies: [Reply]
    var description: String {
        "start \(start)+\(delay): "
            + replies.map {
                "s\($0.step) k\($0.kind) +\($0.after)+\($0.delay) again \($0.repeated.map { "\($0)" } ?? "-")"
            }
            .joined(separator: ", ")
    }

    static let reply = zip(
        Gen.int(in: 0...5), Gen.int(in: 0...5), Gen.int(in: 0...250), Gen.int(in: 0...1000), Gen.bool(0.2),
        Gen.int(in: 0...5), Gen.int(in: 0...1000)
    )
    .map { Reply(step: $0, kind: $1, after: $2, delay: $3, repeated: $4 ? $5 : nil, repeatDelay: $6) }

    /// One to six sagas' events, each up to twelve replies.
    static let generator = zip(Gen.int(in: 0...100), Gen.int(in: 0...1000), reply.array(of: 0...12))
        .map { SagaRun(start: $0, delay: $1, replies: $2) }.array(of: 1...6)
}

/// Drives a saga step like a stage: the watermark trails the latest time by the
/// lateness; every side output in one list, in the order emitted.
final class SagaHarness {
    let step: SagaStep
    let lateness: Int64
    var maxSeen = Int64.min
    var watermark = Int64.min
    var out: [(port: Int, value: JSON)] = []
    /// True: each event sees the watermark from before it (as a stage stamps events), so
    /// it waits in the step's queue; false: the watermark it raises, so an event at the
    /// watermark is taken at once.
    let stampBefore: Bool
    /// True: events are sent as their JSON text (raw), not as parsed values.
    let raw: Bool

    init(_ step: SagaStep, lateness: Int64, stampBefore: Bool = false, raw: Bool = false) {
        self.step = step
        self.lateness = lateness
        self.stampBefore = stampBefore
        self.raw = raw
    }

    func send(_ value: JSON, time: Int64) {
        let before = watermark
        maxSeen = max(maxSeen, time)
        watermark = max(watermark, maxSeen - lateness)
        var o = StepOutput()
        o.watermark = stampBefore ? before : watermark
        var v = value
        if case .object(var obj) = v {
            obj["ts"] = .int(time)
            v = .object(obj)
        }
        if raw {
            // As a reader makes it: the event's bytes, read by the step's raw paths.
            let text = Array(JSONWriter.string(v).utf8)
            let buffer = text.withUnsafeBytes { ByteBuffer(copying: $0) }
            var e = Event(raw: buffer, start: 0, count: text.count)
            e.time = time
            step.process(e, into: &o)
        } else {
            step.process(Event(v, time: time), into: &o)
        }
        step.advance(watermark: watermark, into: &o)
        for (p, e) in o.sides { out.append((p, e.value)) }
    }

    func end() {
        var o = StepOutput()
        o.watermark = Int64.max
        step.advance(watermark: Int64.max, into: &o)
        for (p, e) in o.sides { out.append((p, e.value)) }
    }
}

func compileSaga(_ yaml: String) throws -> SagaStep {
    switch Result(catching: { () throws(Diagnostics) in try Pipeline.compile(yaml: yaml, file: "saga.yaml") }) {
    case .success(let p):
        guard let s = p.makeSteps(stream: "main").first as? SagaStep else { throw SagaTestError.notASaga }
        return s
    case .failure(let d):
        throw SagaTestError.diagnostics(d.items.map(\.description).joined(separator: "\n"))
    }
}

enum SagaTestError: Error {
    case notASaga
    case diagnostics(String)
}

@Suite struct SagaPropertyTests {
    /// The emitted events of one saga, in order, as short strings: `cmd s1#2`,
    /// `comp s1`, `log KIND STEP`.
    static func perSaga(_ out: [(port: Int, value: JSON)], step: SagaStep) -> [String: [String]] {
        var by: [String: [String]] = [:]
        for (p, v) in out {
            if p == step.compiled.commandsPort {
                guard case .string(let id)? = v["id"] else { continue }
                if case .string(let c)? = v["cmd"], case .int(let a)? = v["attempt"] {
                    by[id, default: []].append("cmd \(c)#\(a)")
                } else if case .string(let c)? = v["comp"] {
                    by[id, default: []].append("comp \(c)")
                }
            } else if p == step.compiled.logPort {
                guard case .string(let id)? = v["saga"], case .string(let k)? = v["event"] else { continue }
                var s = "log \(k)"
                if case .string(let st)? = v["step"] { s += " \(st)" }
                by[id, default: []].append(s)
            }
        }
        return by
    }

    /// Checks the issue's invariants on one saga's events; the problems found.
    static func problems(_ lines: [String], saga: RandomSaga) -> [String] {
        var problems: [String] = []
        let names = saga.steps.map(\.name)
        var completed = Set<String>()
        var failed = false
        var lastCompensated = Int.max
        var terminals = 0
        for (i, l) in lines.enumerated() {
            let parts = l.split(separator: " ").map(String.init)
            if terminals > 0 { problems.append("'\(l)' after the end") }
            switch (parts[0], parts[1]) {
            case ("cmd", _):
                if failed { problems.append("'\(l)': a step started after a failure") }
            case ("log", "step_completed"):
                completed.insert(parts[2])
            case ("log", "step_failed"):
                failed = true
            case ("log", "compensating"):
                let s = parts[2]
                if !completed.contains(s) { problems.append("compensating \(s) before it completed") }
                guard let idx = names.firstIndex(of: s) else { break }
                if idx >= lastCompensated { problems.append("compensations not in reverse order at \(s)") }
                lastCompensated = idx
                if i + 1 >= lines.count || lines[i + 1] != "comp \(s)" {
                    if !(i + 1 < lines.count && lines[i + 1].hasPrefix("log compensation_failed")) {
                        problems.append("compensating \(s) without its command")
                    }
                }
            case ("log", "completed"):
                terminals += 1
                if completed.count != names.count {
                    problems.append("completed with \(completed.count) of \(names.count) steps")
                }
            case ("log", "failed"), ("log", "compensation_failed"):
                terminals += 1
                if !failed { problems.append("\(l) without a failed step") }
            default: break
            }
        }
        if lines.first != "log started" { problems.append("does not start with 'started'") }
        if terminals != 1 { problems.append("\(terminals) ends") }
        return problems
    }

    @Test func randomRepliesKeepTheSagaInvariants() async {
        await propertyCheck(count: 200, input: RandomSaga.generator, SagaRun.generator) { saga, runs in
            let events = saga.events(runs)
            guard let step = try? compileSaga(saga.yaml) else {
                Issue.record("does not compile:\n\(saga.yaml)")
                return
            }
            let h = SagaHarness(step, lateness: Int64(saga.lateness) * 1000)
            for e in events { h.send(e.value, time: e.time) }
            h.end()
            #expect(!h.out.contains { $0.port == step.compiled.latePort }, "an event within the lateness went to late")
            let by = Self.perSaga(h.out, step: step)
            let started = Set(
                events.compactMap { e -> String? in
                    guard case .string("start")? = e.value["kind"], case .string(let id)? = e.value["id"] else {
                        return nil
                    }
                    return id
                })
            #expect(Set(by.keys) == started)
            for (id, lines) in by {
                let p = Self.problems(lines, saga: saga)
                #expect(p.isEmpty, "saga \(id): \(p)\n\(lines.joined(separator: "\n"))\n\(saga.yaml)")
            }
            #expect(step.stateSize == 0, "everything is forgotten by the end of input")
        }
    }

    /// Events reordered within the lateness give what the same events in time order give.
    @Test func reorderingWithinTheLatenessChangesNothing() async {
        await propertyCheck(count: 150, input: RandomSaga.generator, SagaRun.generator) { saga, runs in
            let events = saga.events(runs)
            guard let a = try? compileSaga(saga.yaml), let b = try? compileSaga(saga.yaml) else { return }
            let shuffled = SagaHarness(a, lateness: Int64(saga.lateness) * 1000)
            for e in events { shuffled.send(e.value, time: e.time) }
            shuffled.end()
            let ordered = SagaHarness(b, lateness: Int64(saga.lateness) * 1000)
            for e in events.sorted(by: { $0.time < $1.time }) { ordered.send(e.value, time: e.time) }
            ordered.end()
            #expect(shuffled.out.map { JSONWriter.string($0.value) } == ordered.out.map { JSONWriter.string($0.value) })
            // Events taken at once (at the watermark) or through the queue: the same.
            guard let c = try? compileSaga(saga.yaml) else { return }
            let queued = SagaHarness(c, lateness: Int64(saga.lateness) * 1000, stampBefore: true)
            for e in events { queued.send(e.value, time: e.time) }
            queued.end()
            #expect(queued.out.map { JSONWriter.string($0.value) } == ordered.out.map { JSONWriter.string($0.value) })
        }
    }

    /// A snapshot taken midway and restored into a fresh step gives the same future.
    @Test func aSnapshotRestoredIntoAFreshStepGivesTheSameFuture() async {
        await propertyCheck(count: 150, input: RandomSaga.generator, SagaRun.generator, Gen.int(in: 0...1000)) {
            saga, runs, cutAt in
            let events = saga.events(runs)
            guard let a = try? compileSaga(saga.yaml), let b = try? compileSaga(saga.yaml) else { return }
            // Somewhere in the events, in thousandths of them.
            let cut = events.count * cutAt / 1000
            let original = SagaHarness(a, lateness: Int64(saga.lateness) * 1000)
            for e in events[..<cut] { original.send(e.value, time: e.time) }
            // The snapshot goes through text, as a checkpoint file would.
            let text = JSONWriter.string(a.snapshot())
            guard let parsed = try? JSONParser.parse(Array(text.utf8)) else {
                Issue.record("snapshot does not parse")
                return
            }
            do {
                try b.restore(parsed)
            } catch {
                Issue.record("restore: \(error)")
                return
            }
            let restored = SagaHarness(b, lateness: Int64(saga.lateness) * 1000)
            restored.maxSeen = original.maxSeen
            restored.watermark = original.watermark
            original.out = []
            for e in events[cut...] {
                original.send(e.value, time: e.time)
                restored.send(e.value, time: e.time)
            }
            original.end()
            restored.end()
            #expect(
                original.out.map { JSONWriter.string($0.value) } == restored.out.map { JSONWriter.string($0.value) })
            #expect(JSONWriter.string(a.snapshot()) == JSONWriter.string(b.snapshot()))
        }
    }
}
