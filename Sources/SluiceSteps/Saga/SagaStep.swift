import SluiceCEL
import SluiceCore
import SluiceJSON

/// `saga:` (docs/sagas.md): long-running transactions per key over a stream of replies.
///
/// The operator around a ``SagaStateMachine``: it reads each event's key and start
/// condition on arrival, holds events until the watermark passes them (so that replies
/// reordered within the lateness are taken in event-time order, and the same at any
/// parallelism), keeps the queue of saga deadlines, and turns the machine's decisions
/// into events: commands to `STREAM.commands`, log events to `STREAM.log`, bad or
/// unexpected replies to `STREAM.rejected`. It sends nothing to the main output.
final class SagaStep: InPlaceStep {
    let compiled: CompiledSaga
    var machine: SagaStateMachine
    let activation: EventActivation

    /// An event waiting for the watermark, with what was read from it on arrival.
    /// Released in event-time order, equal times in arrival order (`seq`).
    struct Pending: EventTimeOrdered {
        var time: Int64
        var seq: Int64
        var key: JSON
        var isStart: Bool
        var event: Event

        func before(_ o: Pending) -> Bool { time != o.time ? time < o.time : seq < o.seq }
    }
    var queue = EventTimeQueue<Pending>()
    var nextSeq: Int64 = 0

    /// A saga's next deadline; stale when the saga's `scheduled` no longer says it.
    /// Released in deadline order, equal deadlines in saga start order (`serial`).
    struct Timer: EventTimeOrdered {
        var deadline: Int64
        var serial: Int64
        var slot: Int

        var time: Int64 { deadline }
        func before(_ o: Timer) -> Bool { deadline != o.deadline ? deadline < o.deadline : serial < o.serial }
    }
    var timers = EventTimeQueue<Timer>()
    /// Per slot, the deadline it is queued at (``unscheduled``: none).
    var scheduled: [Int64] = []
    static let unscheduled = Int64.min

    /// The keys of the last start event (per step: success reply) kept, shared by the
    /// next one of the same keys (``SagaKept/project(_:_:keys:)``).
    var dataKeys: [String] = []
    var replyKeys: [[String]]

    /// Per step: whether its command (compensation) reads `replies` or `attempt`.
    let commandBinds: [Bool]
    let compensationBinds: [Bool]
    /// How a field of a command object is made: by CEL, or without it.
    enum CommandPart {
        case cel
        /// The expression is this field name of the start event alone (``plainFields(_:_:)``).
        case field(String)
        /// The expression is a constant: this value.
        case constant(JSON)
    }
    /// Per step, per field of its command (compensation) object, how it is made.
    let commandFields: [[CommandPart]]
    let compensationFields: [[CommandPart]]

    init(_ compiled: CompiledSaga) {
        self.compiled = compiled
        commandBinds = compiled.steps.map(\.command.readsBindings)
        compensationBinds = compiled.steps.map { $0.compensate?.readsBindings ?? false }
        commandFields = compiled.steps.map { Self.plainFields($0.command, compiled.compiler) }
        compensationFields = compiled.steps.map { $0.compensate.map { Self.plainFields($0, compiled.compiler) } ?? [] }
        machine = SagaStateMachine(plan: compiled.plan)
        replyKeys = Array(repeating: [], count: compiled.steps.count)
        activation = compiled.compiler.activation()
    }

    /// For each field of a `.fields` command, the name of the start event's field its
    /// expression reads when the expression is that name alone and nothing else could
    /// answer to it (not `event`, `params`, a table, `replies` or `attempt`): its value is
    /// then the start event's field as it is, read without CEL when present.
    /// Constants are taken once, here.
    static func plainFields(_ command: SagaCommand, _ compiler: ExpressionCompiler) -> [CommandPart] {
        guard case .fields(_, let exprs) = command else { return [] }
        return exprs.map { e in
            if let c = e.program.constantValue, let v = try? c.toJSON() { return .constant(v) }
            let name = e.source
            guard let first = name.utf8.first,
                first == UInt8(ascii: "_")
                    || (first | 0x20) >= UInt8(ascii: "a") && (first | 0x20) <= UInt8(ascii: "z"),
                name.utf8.allSatisfy({ c in
                    c == UInt8(ascii: "_") || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
                        || ((c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z"))
                }),
                !["event", "params", "replies", "attempt", "true", "false", "null"].contains(name),
                compiler.tables[name] == nil,
                e.program.referencedNames.map(\.string) == [name]
            else { return .cel }
            return .field(name)
        }
    }

    /// Running and retained sagas, and events waiting for the watermark.
    var stateSize: Int { machine.running + machine.finished + queue.count }

    var counters: [(name: String, value: Int)] {
        [("running sagas", machine.running), ("duplicate replies", machine.duplicates)]
    }

    // MARK: Step

    func process(_ event: Event, into out: inout StepOutput) {
        let time = event.time
        if time == Event.noTime {
            out.reject(event, step: compiled.stepName, message: "saga: the event has no time")
            return
        }
        if time < out.watermark {
            out.side(compiled.latePort, event)
            return
        }
        activation.event = event
        let key: JSON
        switch compiled.key {
        case .field(let f):
            guard let v = event.field(f) else {
                activation.event = Event(.null)
                out.reject(event, step: compiled.stepName, message: "saga: key: no such field '\(f)'")
                return
            }
            key = v
        case .expression(let e):
            do {
                key = try e.evaluateJSON(activation)
            } catch {
                activation.event = Event(.null)
                out.reject(event, step: compiled.stepName, message: "saga: key: \(error.message)")
                return
            }
        }
        let isStart: Bool
        do {
            isStart = try compiled.start.evaluateBool(activation)
        } catch {
            activation.event = Event(.null)
            out.reject(event, step: compiled.stepName, message: "saga: start: \(error.message)")
            return
        }
        let pending = Pending(time: time, seq: nextSeq, key: key, isStart: isStart, event: event)
        nextSeq += 1
        if queue.isEmpty && time <= out.watermark {
            // Nothing waits before it: taken now, as the queue would give it (after the
            // deadlines at or before its time), without a trip through the queue.
            let watermark = out.watermark
            var effects = Effects(step: self)
            swap(&effects.out, &out)
            defer { swap(&effects.out, &out) }
            if let t = timers.min, t.deadline <= time {
                activation.event = Event(.null)
                drain(upTo: time, effects: &effects)
                handle(pending, effects: &effects)
            } else {
                // No deadline first: the event is still bound, with the fields the key
                // and start read, for the conditions.
                handle(pending, bound: true, effects: &effects)
            }
            drain(upTo: watermark, effects: &effects)
            return
        }
        activation.event = Event(.null)
        queue.push(pending)
        if time <= out.watermark { drain(upTo: out.watermark, into: &out) }
    }

    func advance(watermark: Int64, into out: inout StepOutput) {
        drain(upTo: watermark, into: &out)
    }

    /// Takes queued events and due deadlines up to `limit` in event-time order; a
    /// deadline goes before an event at the same time (a reply at the deadline is late).
    func drain(upTo limit: Int64, into out: inout StepOutput) {
        var effects = Effects(step: self)
        swap(&effects.out, &out)
        defer { swap(&effects.out, &out) }
        drain(upTo: limit, effects: &effects)
    }

    func drain(upTo limit: Int64, effects: inout Effects) {
        while true {
            let te = queue.min?.time
            if let t = timers.min, t.deadline <= limit, te == nil || t.deadline <= te! {
                timers.popMin()
                guard t.slot < scheduled.count, scheduled[t.slot] == t.deadline,
                    machine.serial(t.slot) == t.serial
                else { continue }
                scheduled[t.slot] = Self.unscheduled
                if !machine.fire(slot: t.slot, upTo: t.deadline, effects: &effects) {
                    schedule(t.slot)
                }
                continue
            }
            guard let te, te <= limit, let p = queue.popMin() else { return }
            handle(p, effects: &effects)
        }
    }

    /// Takes one event: starts a saga or hands a reply to the machine. `bound`: the
    /// activation is already bound to the event.
    func handle(_ p: Pending, bound: Bool = false, effects: inout Effects) {
        if p.isStart {
            if bound { activation.event = Event(.null) }
            let data = SagaKept.project(p.event, compiled.kept.data, keys: &dataKeys)
            switch machine.start(id: p.key, data: data, time: p.time, effects: &effects) {
            case .started(let slot):
                if slot >= scheduled.count {
                    scheduled.append(contentsOf: repeatElement(Self.unscheduled, count: slot + 1 - scheduled.count))
                }
                scheduled[slot] = Self.unscheduled
                schedule(slot)
            case .rejected(let reason):
                effects.out.reject(p.event, step: compiled.stepName, message: "saga: " + reason)
            }
            return
        }
        if !bound { activation.event = p.event }
        let steps = compiled.steps
        let act = activation
        let kept = compiled.kept
        let outcome = machine.reply(
            id: p.key, reply: { s in SagaKept.project(p.event, kept.replies[s], keys: &self.replyKeys[s]) },
            time: p.time,
            classify: { (c: SagaCondition) throws(SagaConditionError) -> Bool in
                let (e, what): (Expression?, String)
                switch c {
                case .success(let s): (e, what) = (steps[s].success, "success")
                case .failure(let s): (e, what) = (steps[s].failure, "failure")
                case .compensationSuccess(let s): (e, what) = (steps[s].compensateSuccess, "compensate success")
                case .compensationFailure(let s): (e, what) = (steps[s].compensateFailure, "compensate failure")
                }
                guard let e else { return false }
                do throws(CELError) {
                    return try e.evaluateBool(act)
                } catch {
                    let name: String
                    switch c {
                    case .success(let s), .failure(let s), .compensationSuccess(let s), .compensationFailure(let s):
                        name = self.compiled.plan.steps[s].name
                    }
                    throw SagaConditionError(message: "\(what) of step '\(name)': \(error.message)")
                }
            }, effects: &effects)
        activation.event = Event(.null)
        switch outcome {
        case .handled(let slot): schedule(slot)
        case .duplicate: break
        case .rejected(let reason): effects.out.reject(p.event, step: compiled.stepName, message: "saga: " + reason)
        }
    }

    /// Queues the saga's next deadline unless an entry at or before it is queued (that
    /// one, when it comes, finds nothing due and queues the real deadline).
    func schedule(_ slot: Int) {
        guard let serial = machine.serial(slot) else { return }
        let d = machine.nextDeadline(slot: slot)
        if d == Int64.max && machine.phase(slot) != .finished { return }
        if scheduled[slot] != Self.unscheduled && scheduled[slot] <= d { return }
        scheduled[slot] = d
        timers.push(Timer(deadline: d, serial: serial, slot: slot))
    }

    // MARK: Snapshots

    /// The step's whole state as JSON (docs/sagas.md, "State"): the sagas, and the events
    /// still waiting for the watermark. A fresh step given it by ``restore(_:)`` goes on
    /// exactly as this one would.
    func snapshot() -> JSON {
        var pending: [JSON] = []
        var q = queue
        while let p = q.popMin() {
            pending.append(
                .object(
                    JSONObject([
                        ("time", .int(p.time)), ("seq", .int(p.seq)), ("key", p.key), ("start", .bool(p.isStart)),
                        ("event", p.event.value),
                    ])))
        }
        return .object(
            JSONObject([("machine", machine.snapshot()), ("queue", .array(pending)), ("next_seq", .int(nextSeq))]))
    }

    /// Replaces this step's state with `snapshot`'s.
    func restore(_ snapshot: JSON) throws(SagaStateMachine.SnapshotError) {
        guard case .object(let o) = snapshot, let m = o["machine"], case .array(let pending)? = o["queue"],
            case .int(let seq)? = o["next_seq"]
        else { throw SagaStateMachine.SnapshotError(description: "saga snapshot: not a saga step's snapshot") }
        machine = try SagaStateMachine.restore(m, plan: compiled.plan)
        queue = EventTimeQueue<Pending>()
        for case .object(let p) in pending {
            guard case .int(let t)? = p["time"], case .int(let s)? = p["seq"], let key = p["key"],
                case .bool(let start)? = p["start"],
                let event = p["event"]
            else { throw SagaStateMachine.SnapshotError(description: "saga snapshot: a queued event is incomplete") }
            queue.push(Pending(time: t, seq: s, key: key, isStart: start, event: Event(event, time: t)))
        }
        nextSeq = seq
        timers = EventTimeQueue<Timer>()
        scheduled = Array(repeating: Self.unscheduled, count: machine.slotCount)
        for slot in 0..<machine.slotCount { schedule(slot) }
    }

    // MARK: Effects

    static let logKeys = [
        ["saga", "event"], ["saga", "event", "reason"], ["saga", "event", "step"], ["saga", "event", "step", "reason"],
    ]

    /// Builds commands and log events from the machine's decisions.
    struct Effects: SagaEffects {
        unowned let step: SagaStep
        var out = StepOutput()

        mutating func command(_ saga: SagaView, step s: Int, attempt: Int, time: Int64) -> String? {
            build(
                step.compiled.steps[s].command, binds: step.commandBinds[s], plain: step.commandFields[s], saga,
                attempt: attempt, time: time)
        }

        mutating func compensation(_ saga: SagaView, step s: Int, time: Int64) -> String? {
            guard let c = step.compiled.steps[s].compensate else { return nil }
            return build(
                c, binds: step.compensationBinds[s], plain: step.compensationFields[s], saga, attempt: 1, time: time)
        }

        mutating func build(
            _ command: SagaCommand, binds: Bool, plain: [CommandPart], _ saga: SagaView, attempt: Int, time: Int64
        ) -> String? {
            let act = step.activation
            // The activation is bound on the first expression that needs CEL.
            var bound = false
            defer {
                if bound {
                    if binds { act.bindings = [:] }
                    act.event = Event(.null)
                }
            }
            func bind() {
                bound = true
                act.event = Event(saga.data)
                // `replies` and `attempt` are bound only for the commands that read them.
                if binds {
                    var replies = CELMap(minimumCapacity: saga.replies.count)
                    for (i, r) in saga.replies.enumerated() where r != .null {
                        replies.insertOrReplace(.string(step.compiled.plan.steps[i].name), CELValue(json: r))
                    }
                    act.bindings = ["replies": .map(replies), "attempt": .int(Int64(attempt))]
                }
            }
            let value: JSON
            do {
                switch command {
                case .fields(let names, let exprs):
                    var values: [JSON] = []
                    values.reserveCapacity(exprs.count)
                    for i in exprs.indices {
                        // A field name alone, present with a string, integer or boolean
                        // value: CEL would give that value back as it is.
                        switch plain[i] {
                        case .constant(let v):
                            values.append(v)
                            continue
                        case .field(let f):
                            if case .object(let o) = saga.data, let v = o[f] {
                                switch v {
                                case .string, .int, .bool:
                                    values.append(v)
                                    continue
                                default: break
                                }
                            }
                        case .cel: break
                        }
                        if !bound { bind() }
                        values.append(try exprs[i].evaluateJSON(act))
                    }
                    value = .object(JSONObject(uniqueKeys: names, values: values))
                case .value(let e):
                    bind()
                    value = try e.evaluateJSON(act)
                }
            } catch {
                return error.message
            }
            out.side(step.compiled.commandsPort, Event(value, time: time))
            return nil
        }

        mutating func log(_ saga: JSON, _ kind: SagaLogKind, step s: Int?, reason: String?, time: Int64) {
            // One allocation: an array literal then `reserveCapacity` would make two.
            var values: [JSON] = []
            values.reserveCapacity(2 + (s == nil ? 0 : 1) + (reason == nil ? 0 : 1))
            values.append(saga)
            values.append(.string(kind.rawValue))
            if let s { values.append(.string(step.compiled.plan.steps[s].name)) }
            if let reason { values.append(.string(reason)) }
            // One keys array per shape, shared by every log event of that shape.
            let keys =
                s == nil
                ? (reason == nil ? SagaStep.logKeys[0] : SagaStep.logKeys[1])
                : (reason == nil ? SagaStep.logKeys[2] : SagaStep.logKeys[3])
            out.side(step.compiled.logPort, Event(.object(JSONObject(uniqueKeys: keys, values: values)), time: time))
        }
    }
}
