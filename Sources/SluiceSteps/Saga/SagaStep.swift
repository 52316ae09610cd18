import CSluiceShims
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
///
/// The state it changes per event is `@exclusivity(unchecked)`, as in ``WindowStep``: a
/// step is driven by one thread at a time, and no access to one of these overlaps
/// another to the same one (the effects and closures the machine calls reach other
/// properties), so the run-time check of each access (a tenth of the instructions of
/// the saga benchmark: 230M of 2,245M) guards nothing.
final class SagaStep: InPlaceStep {
    let compiled: CompiledSaga
    @exclusivity(unchecked) var machine: SagaStateMachine
    let activation: EventActivation

    /// An event waiting for the watermark, with what was read from it on arrival: a plain
    /// record naming the event's place in ``waiting`` (as the pattern step's
    /// `QueuedEvent`), so that queueing it moves a few integers and never retains or
    /// releases the event or its key. Released in event-time order, equal times in
    /// arrival order (`seq`).
    struct Pending: EventTimeOrdered {
        var time: Int64
        var seq: Int64
        /// The conditions decided on arrival (``Discriminator``), one bit per condition
        /// (``conditionBit(_:)``), and which of them hold; the others are evaluated with
        /// the event bound when the machine asks for them.
        var known: UInt64 = 0
        var holds: UInt64 = 0
        /// The key's ``SagaIndex/hash(_:)``, taken on arrival: for looking the saga up,
        /// and for loading its state a few events ahead (``prefetchAhead()``).
        var hash: UInt32
        /// The event and its key in ``waiting`` (-1: not stored, handled at once).
        var slot: Int32 = -1
        var isStart: Bool

        func before(_ o: Pending) -> Bool { time != o.time ? time < o.time : seq < o.seq }
    }

    /// A queued event and its key, in ``waiting`` while its ``Pending`` entry is queued.
    struct Waiting {
        var key: JSON
        var event: Event
    }
    /// The events of the queued entries, by ``Pending/slot``, in memory managed here: an
    /// entry is moved in when queued and moved out when popped (an array of them copied
    /// each in, destroyed a placeholder and wrote another, about 250 instructions an
    /// event). Only the slots of queued entries are initialized; freed ones are reused
    /// last-freed first (``waitingFree``), so the few in use stay in cache.
    @exclusivity(unchecked) var waiting: UnsafeMutablePointer<Waiting>?
    @exclusivity(unchecked) var waitingCapacity = 0
    /// Slots ever handed out (those below it not in ``waitingFree`` are initialized).
    @exclusivity(unchecked) var waitingCount = 0
    @exclusivity(unchecked) var waitingFree: [Int32] = []

    /// Queues `event` (its key `key`) for the watermark.
    func enqueue(_ p: Pending, key: consuming JSON, event: consuming Event) {
        var p = p
        let slot: Int
        if let f = waitingFree.popLast() {
            slot = Int(f)
        } else {
            if waitingCount == waitingCapacity { growWaiting() }
            slot = waitingCount
            waitingCount += 1
        }
        p.slot = Int32(slot)
        (waiting.unsafelyUnwrapped + slot).initialize(to: Waiting(key: key, event: event))
        queue.push(p)
    }

    /// Room for twice the slots, the queued entries' events moved over.
    func growWaiting() {
        let capacity = max(64, waitingCapacity * 2)
        let fresh = UnsafeMutablePointer<Waiting>.allocate(capacity: capacity)
        if let old = waiting {
            queue.forEach { p in (fresh + Int(p.slot)).moveInitialize(from: old + Int(p.slot), count: 1) }
            old.deallocate()
        }
        waiting = fresh
        waitingCapacity = capacity
    }

    /// Takes the event and key of a popped entry out of ``waiting`` (moved out: no retain
    /// or release), freeing its slot.
    @inline(__always)
    func takeWaiting(_ slot: Int32) -> Waiting {
        waitingFree.append(slot)
        return (waiting.unsafelyUnwrapped + Int(slot)).move()
    }

    /// The event and key of a queued entry (for snapshots).
    func waitingEntry(_ p: Pending) -> Waiting { waiting.unsafelyUnwrapped[Int(p.slot)] }

    /// Empties the queue and its events.
    func clearQueue() {
        if let w = waiting {
            queue.forEach { p in (w + Int(p.slot)).deinitialize(count: 1) }
            w.deallocate()
        }
        waiting = nil
        waitingCapacity = 0
        waitingCount = 0
        queue = EventTimeQueue<Pending>()
        waitingFree = []
    }

    deinit { clearQueue() }

    @exclusivity(unchecked) var queue = EventTimeQueue<Pending>()
    @exclusivity(unchecked) var nextSeq: Int64 = 0

    /// A saga's next deadline; stale when the saga's `scheduled` no longer says it.
    /// Released in deadline order, equal deadlines in saga start order (`serial`).
    struct Timer: EventTimeOrdered {
        var deadline: Int64
        var serial: Int64
        var slot: Int

        var time: Int64 { deadline }
        func before(_ o: Timer) -> Bool { deadline != o.deadline ? deadline < o.deadline : serial < o.serial }
    }
    @exclusivity(unchecked) var timers = EventTimeQueue<Timer>()
    /// Per slot, the deadline it is queued at (``unscheduled``: none).
    @exclusivity(unchecked) var scheduled: [Int64] = []
    static let unscheduled = Int64.min

    /// The keys of the last start event (per step: success reply) kept, shared by the
    /// next one of the same keys (``SagaKept/project(_:_:keys:)``).
    @exclusivity(unchecked) var dataKeys: [String] = []
    @exclusivity(unchecked) var replyKeys: [[String]]
    /// The fields kept of the start event and of each reply, as UTF-8 (nil: not `.fields`),
    /// for reading them from a raw event in one pass; and that pass's buffer.
    let dataUTF8: [[UInt8]]?
    let replyUTF8: [[[UInt8]]?]
    @exclusivity(unchecked) var projectScratch: [JSON?] = []
    /// Where each kept field was in the last parsed start event (per step: success reply).
    @exclusivity(unchecked) var dataGuesses: [Int] = []
    @exclusivity(unchecked) var replyGuesses: [[Int]]

    /// How a field of a command object is made: by CEL, or without it.
    enum CommandPart {
        case cel
        /// The expression is this field name of the start event alone (``plainFields(_:_:)``).
        case field(String)
        /// The expression is a constant: this value.
        case constant(JSON)
    }
    /// How one step's command (or compensation) is made, behind one reference: making a
    /// command reads it through that one (copying its parts out of arrays of arrays, as
    /// this did, cost a retain and a release of each per command).
    final class CommandPlan: Sendable {
        let command: SagaCommand
        /// Whether it reads `replies` or `attempt`.
        let binds: Bool
        /// Per field of a command object, how it is made.
        let plain: [CommandPart]
        /// Per field of a command object, the text before the field's value: `{"NAME":`
        /// for the first, `,"NAME":` for the others.
        let keys: [[UInt8]]
        /// The expressions of a command object's fields (empty for `.value`).
        let exprs: [Expression]
        /// A command object's text as written: each segment's text, then (unless it is
        /// the last) the value of one field. Constants are written into the text once,
        /// here, with the keys around them.
        let segments: [Segment]

        struct Segment: Sendable {
            var text: [UInt8]
            /// The field whose value follows (-1: none, the end of the object).
            var field: Int
            /// For a field that is a plain field of the start event (``CommandPart/field(_:)``):
            /// its name, and where it most likely is in the kept start data (its place
            /// among the fields kept).
            var name: String?
            var guess: Int
        }

        init(_ command: SagaCommand, _ compiler: ExpressionCompiler, dataFields: [String]) {
            self.command = command
            binds = command.readsBindings
            plain = SagaStep.plainFields(command, compiler)
            keys = SagaStep.keyText(command)
            var exprs: [Expression] = []
            if case .fields(_, let es) = command { exprs = es }
            self.exprs = exprs
            var segments: [Segment] = []
            var pending: [UInt8] = []
            for i in exprs.indices {
                pending.append(contentsOf: keys[i])
                switch plain[i] {
                case .constant(let v):
                    JSONWriter.write(v, into: &pending)
                case .field(let f):
                    segments.append(
                        Segment(
                            text: pending, field: i, name: SagaStep.small(f), guess: dataFields.firstIndex(of: f) ?? 0))
                    pending = []
                case .cel:
                    segments.append(Segment(text: pending, field: i, name: nil, guess: 0))
                    pending = []
                }
            }
            // An object of no fields (not written by the loop) is `{}`.
            if exprs.isEmpty { pending.append(UInt8(ascii: "{")) }
            pending.append(UInt8(ascii: "}"))
            segments.append(Segment(text: pending, field: -1, name: nil, guess: 0))
            self.segments = segments
        }
    }
    /// Per step, its command's plan, and its compensation's (nil: none).
    let commandPlans: [CommandPlan]
    let compensationPlans: [CommandPlan?]

    /// The conditions that test one plain field against an ASCII string
    /// (`type == "order_validated"`), decided together on arrival from one read of the
    /// field: when the start condition is of that shape, it and every step's success,
    /// failure and compensation condition of that shape on the same field. On a string
    /// value of the field they are never evaluated through CEL; any other value (absent,
    /// not a string), and conditions of other shapes, are left to CEL as before.
    final class Discriminator: Sendable {
        /// The field read.
        let field: String
        /// Per distinct string: the conditions it makes true (bits, ``conditionBit(_:)``)
        /// and whether it makes the start condition true.
        let texts: [Text]
        /// The step conditions decided this way.
        let known: UInt64
        /// The texts' bytes one after another (``Text/offset``).
        let bytes: [UInt8]

        struct Text: Sendable {
            var text: String
            var utf8Count: Int
            var holds: UInt64
            var starts: Bool
            var offset = 0
        }

        init(field: String, texts: [Text], known: UInt64) {
            self.field = field
            var bytes: [UInt8] = []
            var texts = texts
            for i in texts.indices {
                texts[i].offset = bytes.count
                bytes.append(contentsOf: texts[i].text.utf8)
            }
            self.texts = texts
            self.known = known
            self.bytes = bytes
        }
    }
    /// Nil: every condition is evaluated through CEL (as tests compare).
    var discriminator: Discriminator?

    /// The bit of a condition in ``Pending/known`` and ``Pending/holds``; nil past 64.
    @inline(__always)
    static func conditionBit(_ c: SagaCondition) -> UInt64? {
        let i: Int
        switch c {
        case .success(let s): i = 4 &* s
        case .failure(let s): i = 4 &* s &+ 1
        case .compensationSuccess(let s): i = 4 &* s &+ 2
        case .compensationFailure(let s): i = 4 &* s &+ 3
        }
        return i < 64 ? 1 << UInt64(i) : nil
    }

    /// The discriminator of `compiled`'s conditions, or nil when its start condition is
    /// not a test of a plain field against an ASCII string.
    static func discriminator(_ compiled: CompiledSaga) -> Discriminator? {
        let compiler = compiled.compiler
        // A name the activation could answer other than with the event's field is not plain.
        guard let (field, startText) = compiled.start.program.asciiEquality, compiler.answersWithEventField(field),
            !["replies", "attempt"].contains(field.string)
        else { return nil }
        var texts: [Discriminator.Text] = [
            .init(text: startText, utf8Count: startText.utf8.count, holds: 0, starts: true)
        ]
        var known: UInt64 = 0
        func add(_ c: SagaCondition, _ e: Expression?) {
            guard let e, let bit = conditionBit(c), let (name, text) = e.program.asciiEquality, name.id == field.id
            else { return }
            let i = texts.firstIndex { $0.text == text } ?? texts.count
            if i == texts.count {
                texts.append(.init(text: text, utf8Count: text.utf8.count, holds: 0, starts: false))
            }
            texts[i].holds |= bit
            known |= bit
        }
        for (s, e) in compiled.steps.enumerated() {
            add(.success(s), e.success)
            add(.failure(s), e.failure)
            add(.compensationSuccess(s), e.compensateSuccess)
            add(.compensationFailure(s), e.compensateFailure)
        }
        return Discriminator(field: small(field.string), texts: texts, known: known)
    }

    init(_ compiled: CompiledSaga) {
        self.compiled = compiled
        discriminator = Self.discriminator(compiled)
        if case .field(let f) = compiled.key { keyField = Self.small(f) } else { keyField = nil }
        func small(_ part: SagaKept.Part) -> SagaKept.Part {
            guard case .fields(let fs) = part else { return part }
            return .fields(fs.map(Self.small))
        }
        kept = SagaKept(data: small(compiled.kept.data), replies: compiled.kept.replies.map(small))
        var dataFields: [String] = []
        if case .fields(let fs) = kept.data { dataFields = fs }
        commandPlans = compiled.steps.map { CommandPlan($0.command, compiled.compiler, dataFields: dataFields) }
        compensationPlans = compiled.steps.map {
            $0.compensate.map { CommandPlan($0, compiled.compiler, dataFields: dataFields) }
        }
        machine = SagaStateMachine(plan: compiled.plan)
        replyKeys = Array(repeating: [], count: compiled.steps.count)
        replyGuesses = Array(repeating: [], count: compiled.steps.count)
        func utf8(_ part: SagaKept.Part) -> [[UInt8]]? {
            guard case .fields(let fs) = part else { return nil }
            return fs.map { Array($0.utf8) }
        }
        dataUTF8 = utf8(kept.data)
        replyUTF8 = kept.replies.map(utf8)
        activation = compiled.compiler.activation()
        logKindText = SagaLogKind.allCases.map { k in
            var t = Array(#","event":"#.utf8)
            JSONWriter.writeString(k.rawValue, into: &t)
            return t
        }
        logStepText = compiled.plan.steps.map { st in
            var t = Array(#","step":"#.utf8)
            JSONWriter.writeString(st.name, into: &t)
            return t
        }
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
        withUnsafePointer(to: event) { process(at: $0, into: &out) }
    }

    /// Where the discriminator's field and the key field were in the last parsed event
    /// read (events of one kind have their fields in one order): looked at first.
    @exclusivity(unchecked) var discriminatorAt = 0
    @exclusivity(unchecked) var keyAt = 0
    /// The key's field name when the key is one (`key: FIELD`).
    let keyField: String?
    /// ``CompiledSaga/kept``, its names made anew by ``small(_:)``.
    let kept: SagaKept

    /// `s` made anew from its bytes: a name of up to 15 bytes is then a small string,
    /// held in the value itself. Names read from the configuration need not be (a
    /// slice of the YAML or CEL source made into a string may be stored out of line),
    /// and comparing one with an event's key of the same text then goes through the
    /// general comparison instead of comparing the two values' bits (the kept fields'
    /// lookups went through it a million times in the 40,000-saga run).
    static func small(_ s: String) -> String { String(decoding: Array(s.utf8), as: UTF8.self) }

    /// The position of `name` in `keys`: `guess` when it is there, else found by a scan
    /// (and remembered in `guess`). Keys of an object are distinct, so the field found at
    /// the guess is the one a scan finds.
    @inline(__always)
    static func find(_ name: String, in keys: UnsafeBufferPointer<String>, guess: inout Int) -> Int? {
        if guess < keys.count && keys[guess] == name { return guess }
        guard let i = keys.firstIndex(of: name) else { return nil }
        guess = i
        return i
    }

    /// What the discriminator's texts say of a string value `v` of its field: the
    /// conditions it makes true, and whether it starts a saga. As `t.text == v` for the
    /// texts of `v`'s length: equal bytes are equal strings, and an ASCII string of
    /// other bytes is not equal to an ASCII text; anything else (a string of other bytes
    /// that is not ASCII) is compared as strings.
    @inline(__always)
    static func match(_ d: Discriminator, _ v: String) -> (holds: UInt64, starts: Bool) {
        var v = v
        let n = v.utf8.count
        return v.withUTF8 { vb -> (holds: UInt64, starts: Bool) in
            d.texts.withUnsafeBufferPointer { ts in
                d.bytes.withUnsafeBufferPointer { bytes in
                    for k in ts.indices where ts[k].utf8Count == n {
                        let at = ts[k].offset
                        var i = 0
                        while i < n && bytes[at &+ i] == vb[i] { i &+= 1 }
                        if i == n || (!vb.allSatisfy { $0 < 0x80 } && ts[k].text == String(decoding: vb, as: UTF8.self))
                        {
                            return (ts[k].holds, ts[k].starts)
                        }
                    }
                    return (0, false)
                }
            }
        }
    }

    func process(at event: UnsafePointer<Event>, into out: inout StepOutput) {
        let time = event.pointee.time
        if time == Event.noTime {
            out.reject(event.pointee, step: compiled.stepName, message: "saga: the event has no time")
            return
        }
        if time < out.watermark {
            out.side(compiled.latePort, event.pointee)
            return
        }
        // The conditions on one field, from one read of it.
        var known: UInt64 = 0
        var holds: UInt64 = 0
        var startDecided: Bool?
        // A parsed object's fields are read in place, at the places they had in the last
        // one; other events by name.
        var keyValue: JSON?
        let parsed: Void? = Event.withParsedFields(at: event) { keys, values in
            if let d = discriminator, let i = Self.find(d.field, in: keys, guess: &discriminatorAt),
                case .string(let v) = values[i]
            {
                known = d.known
                let m = Self.match(d, v)
                holds = m.holds
                startDecided = m.starts
            }
            if let f = keyField, let i = Self.find(f, in: keys, guess: &keyAt) { keyValue = values[i] }
        }
        if parsed == nil {
            // One copy of the event to read by name (a field read through the pointer
            // copied the whole event each time).
            let e = event.pointee
            if let d = discriminator, case .string(let v)? = e.field(d.field) {
                known = d.known
                let m = Self.match(d, v)
                holds = m.holds
                startDecided = m.starts
            }
            if let f = keyField { keyValue = e.field(f) }
        }
        // The activation is bound only for what the discriminator did not decide.
        var bound = false
        let key: JSON
        switch compiled.key {
        case .field(let f):
            guard let v = keyValue else {
                out.reject(event.pointee, step: compiled.stepName, message: "saga: key: no such field '\(f)'")
                return
            }
            key = v
        case .expression(let e):
            activation.event = event.pointee
            bound = true
            do {
                key = try e.evaluateJSON(activation)
            } catch {
                activation.event = Event(.null)
                out.reject(event.pointee, step: compiled.stepName, message: "saga: key: \(error.message)")
                return
            }
        }
        let isStart: Bool
        if let startDecided {
            isStart = startDecided
        } else {
            if !bound {
                activation.event = event.pointee
                bound = true
            }
            do {
                isStart = try compiled.start.evaluateBool(activation)
            } catch {
                activation.event = Event(.null)
                out.reject(event.pointee, step: compiled.stepName, message: "saga: start: \(error.message)")
                return
            }
        }
        if bound { activation.event = Event(.null) }
        let pending = Pending(
            time: time, seq: nextSeq, known: known, holds: holds, hash: SagaIndex.hash(key), isStart: isStart)
        nextSeq += 1
        if queue.isEmpty && time <= out.watermark {
            // Nothing waits before it: taken now, as the queue would give it (after the
            // deadlines at or before its time), without a trip through the queue.
            let watermark = out.watermark
            withEffects(&out) { effects in
                if let t = timers.min, t.deadline <= time {
                    drain(upTo: time, effects: &effects)
                }
                handle(pending, key: key, event: event.pointee, effects: &effects)
                drain(upTo: watermark, effects: &effects)
            }
            return
        }
        enqueue(pending, key: key, event: event.pointee)
        if time <= out.watermark { drain(upTo: out.watermark, into: &out) }
    }

    func advance(watermark: Int64, into out: inout StepOutput) {
        drain(upTo: watermark, into: &out)
    }

    /// Takes queued events and due deadlines up to `limit` in event-time order; a
    /// deadline goes before an event at the same time (a reply at the deadline is late).
    func drain(upTo limit: Int64, into out: inout StepOutput) {
        withEffects(&out, sizing: true) { drain(upTo: limit, effects: &$0) }
    }

    /// Runs `body` with effects writing to `out`. With `sizing` (a drain of the queue,
    /// as each watermark brings), `out` first gets room for as many side events as the
    /// last such call made: a fresh output (the chain gives one per watermark) grown by
    /// appends was reallocated a dozen times a batch.
    @inline(__always)
    func withEffects(_ out: inout StepOutput, sizing: Bool = false, _ body: (inout Effects) -> Void) {
        var effects = Effects(step: self)
        swap(&effects.out, &out)
        swap(&effects.text, &text)
        let before = effects.out.sides.count
        if sizing {
            let room = before &+ sidesHint
            if effects.out.sides.capacity < room { effects.out.sides.reserveCapacity(room) }
        }
        body(&effects)
        if sizing { sidesHint = min(effects.out.sides.count &- before, 1 << 16) }
        swap(&effects.out, &out)
        swap(&effects.text, &text)
    }

    func drain(upTo limit: Int64, effects: inout Effects) {
        while true {
            let te = queue.minTime
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
            prefetchAhead()
            let w = takeWaiting(p.slot)
            handle(p, key: w.key, event: w.event, effects: &effects)
        }
    }

    /// Starts loading, in stages, the state of the sagas the events a few places on in
    /// the queue are for, so that their cache misses overlap with this event's work:
    /// with many sagas running, a saga's state is rarely still in cache when its next
    /// reply comes. Each stage reads only lines an earlier one asked for: far ahead, the
    /// index bucket of the event's id; then the saga's record, step states, kept replies
    /// and deadline entry, in the slot that bucket names; then the values of its start
    /// data and kept replies (which its commands read). Hints only: a wrong guess (a
    /// bucket of another id with the same hash, a saga that is gone by then) costs
    /// bandwidth, never a result. Only while the queue is in order (its FIFO).
    @inline(__always)
    func prefetchAhead() {
        if let h = queue.inOrder(ahead: Self.lookahead, { $0.pointee.hash }) { machine.prefetchIndex(hash: h) }
        if let h = queue.inOrder(ahead: 2, { $0.pointee.hash }) {
            let slot = machine.probableSlot(hash: h)
            if slot >= 0 {
                machine.prefetch(slot: slot)
                scheduled.withUnsafeBufferPointer { b in
                    guard let base = b.baseAddress, slot < b.count else { return }
                    sluice_prefetch(base + slot)
                }
            }
        }
        if let h = queue.inOrder(ahead: 1, { $0.pointee.hash }) {
            machine.prefetchValues(slot: machine.probableSlot(hash: h))
        }
    }

    /// How far ahead ``prefetchAhead()`` starts loading, in queued events.
    static let lookahead = 4

    /// Takes one event: starts a saga or hands a reply to the machine. The conditions
    /// decided on arrival are read from `p`; the activation is bound to the event only
    /// when the machine asks for another.
    func handle(_ p: Pending, key: JSON, event: Event, effects: inout Effects) {
        if p.isStart {
            let data = SagaKept.project(
                event, kept.data, keys: &dataKeys, utf8: dataUTF8, scratch: &projectScratch,
                guesses: &dataGuesses)
            switch machine.start(id: key, hash: p.hash, data: data, time: p.time, effects: &effects) {
            case .started(let slot):
                if slot >= scheduled.count {
                    scheduled.append(contentsOf: repeatElement(Self.unscheduled, count: slot + 1 - scheduled.count))
                }
                scheduled[slot] = Self.unscheduled
                schedule(slot)
            case .rejected(let reason):
                effects.out.reject(event, step: compiled.stepName, message: "saga: " + reason)
            }
            return
        }
        // What only CEL needs is read in the closures' slow paths (copies of the step's
        // arrays, taken here, cost a retain and a release each per reply).
        var bound = false
        let outcome = machine.reply(
            id: key, hash: p.hash,
            reply: { s in
                SagaKept.project(
                    event, self.kept.replies[s], keys: &self.replyKeys[s], utf8: self.replyUTF8[s],
                    scratch: &self.projectScratch, guesses: &self.replyGuesses[s])
            },
            time: p.time,
            classify: { (c: SagaCondition) throws(SagaConditionError) -> Bool in
                if let bit = Self.conditionBit(c), p.known & bit != 0 { return p.holds & bit != 0 }
                let steps = self.compiled.steps
                let act = self.activation
                let (e, what): (Expression?, String)
                switch c {
                case .success(let s): (e, what) = (steps[s].success, "success")
                case .failure(let s): (e, what) = (steps[s].failure, "failure")
                case .compensationSuccess(let s): (e, what) = (steps[s].compensateSuccess, "compensate success")
                case .compensationFailure(let s): (e, what) = (steps[s].compensateFailure, "compensate failure")
                }
                guard let e else { return false }
                if !bound {
                    act.event = event
                    bound = true
                }
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
        if bound { activation.event = Event(.null) }
        switch outcome {
        case .handled(let slot): schedule(slot)
        case .duplicate: break
        case .rejected(let reason): effects.out.reject(event, step: compiled.stepName, message: "saga: " + reason)
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
            let w = waitingEntry(p)
            pending.append(
                .object(
                    JSONObject([
                        ("time", .int(p.time)), ("seq", .int(p.seq)), ("key", w.key), ("start", .bool(p.isStart)),
                        ("event", w.event.value),
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
        clearQueue()
        for case .object(let p) in pending {
            guard case .int(let t)? = p["time"], case .int(let s)? = p["seq"], let key = p["key"],
                case .bool(let start)? = p["start"],
                let event = p["event"]
            else { throw SagaStateMachine.SnapshotError(description: "saga snapshot: a queued event is incomplete") }
            enqueue(
                Pending(time: t, seq: s, hash: SagaIndex.hash(key), isStart: start), key: key,
                event: Event(event, time: t))
        }
        nextSeq = seq
        timers = EventTimeQueue<Timer>()
        scheduled = Array(repeating: Self.unscheduled, count: machine.slotCount)
        for slot in 0..<machine.slotCount { schedule(slot) }
    }

    // MARK: Effects

    /// The buffer the ``Effects`` write the text of one log event or command into (kept
    /// for its capacity).
    @exclusivity(unchecked) var text: [UInt8] = []
    /// The side events the last drain made (``withEffects(_:sizing:_:)``).
    @exclusivity(unchecked) var sidesHint = 0

    /// Where the text of log events and commands is kept once made into events.
    @exclusivity(unchecked) var arena = ByteArena()

    /// Parts of the log events' text: per ``SagaLogKind`` (in `allCases` order),
    /// `{"saga":` is written, then the id, then `,"event":"KIND"`; per step, `,"step":"NAME"`.
    let logKindText: [[UInt8]]
    let logStepText: [[UInt8]]
    static let logSagaKey = Array(#"{"saga":"#.utf8)
    static let logReasonKey = Array(#","reason":"#.utf8)
    static func keyText(_ command: SagaCommand) -> [[UInt8]] {
        guard case .fields(let names, _) = command else { return [] }
        return names.enumerated().map { i, n in
            var t: [UInt8] = i == 0 ? [UInt8(ascii: "{")] : []
            JSONWriter.writeKey(n, first: i == 0, into: &t)
            return t
        }
    }

    /// Builds commands and log events from the machine's decisions.
    ///
    /// Log events and `.fields` commands are written as JSON text, exactly as
    /// ``JSONWriter`` writes the objects they stand for (keys in order), into ``text``,
    /// then copied to the step's ``ByteArena`` and sent as an event over those bytes.
    /// So making one costs no allocation, and a sink copies its bytes instead of
    /// encoding an object.
    struct Effects: SagaEffects {
        /// Strong: an `Effects` lives only for one ``withEffects(_:sizing:_:)`` call (one retain
        /// then), where `unowned` cost a check and a retain on every use of it.
        let step: SagaStep
        var out = StepOutput()
        var text: [UInt8] = []

        /// Sends the text written (all of ``text``) to side `port` as an event over a copy
        /// of it in the step's ``ByteArena``, and empties ``text``.
        @inline(__always)
        mutating func sideText(_ port: Int, time: Int64) {
            let (buffer, at) = text.withUnsafeBytes { step.arena.store($0) }
            var e = Event(raw: buffer, start: at, count: text.count)
            e.time = time
            out.side(port, consume e)
            text.removeAll(keepingCapacity: true)
        }

        mutating func command(_ saga: SagaView, step s: Int, attempt: Int, time: Int64) -> String? {
            build(step.commandPlans[s], saga, attempt: attempt, time: time)
        }

        mutating func compensation(_ saga: SagaView, step s: Int, time: Int64) -> String? {
            guard let c = step.compensationPlans[s] else { return nil }
            return build(c, saga, attempt: 1, time: time)
        }

        /// Binds the activation for the CEL expressions of `plan`'s command: the start data
        /// as `event`, and for the commands that read them, `replies` and `attempt`.
        func bind(_ plan: CommandPlan, _ saga: SagaView, attempt: Int) {
            let act = step.activation
            act.event = Event(saga.data.pointee)
            if plan.binds {
                var replies = CELMap(minimumCapacity: saga.replies.count)
                for (i, r) in saga.replies.enumerated() where r != .null {
                    replies.insertOrReplace(.string(step.compiled.plan.steps[i].name), CELValue(json: r))
                }
                act.bindings = ["replies": .map(replies), "attempt": .int(Int64(attempt))]
            }
        }

        /// Undoes ``bind(_:_:attempt:)``.
        func unbind(_ plan: CommandPlan) {
            let act = step.activation
            if plan.binds { act.bindings = [:] }
            act.event = Event(.null)
        }

        mutating func build(_ plan: CommandPlan, _ saga: SagaView, attempt: Int, time: Int64) -> String? {
            if case .value(let e) = plan.command {
                let value: JSON
                bind(plan, saga, attempt: attempt)
                defer { unbind(plan) }
                do {
                    value = try e.evaluateJSON(step.activation)
                } catch {
                    return error.message
                }
                out.side(step.compiled.commandsPort, Event(value, time: time))
                return nil
            }
            // The activation is bound on the first expression that needs CEL.
            var bound = false
            var failure: String?
            let n = plan.segments.count
            var j = 0
            while j < n {
                text.append(contentsOf: plan.segments[j].text)
                let i = plan.segments[j].field
                j &+= 1
                if i < 0 { continue }
                // A field name alone, present with a string, integer or boolean value:
                // CEL would give that value back as it is.
                if let f = plan.segments[j &- 1].name {
                    let written = saga.withDataField(f, guess: plan.segments[j &- 1].guess) { (v: JSON) -> Bool? in
                        switch v {
                        case .string, .int, .bool:
                            JSONWriter.write(v, into: &text)
                            return true
                        default: return nil
                        }
                    }
                    if written != nil { continue }
                }
                if !bound {
                    bind(plan, saga, attempt: attempt)
                    bound = true
                }
                do {
                    JSONWriter.write(try plan.exprs[i].evaluateJSON(step.activation), into: &text)
                } catch {
                    failure = error.message
                    break
                }
            }
            if bound { unbind(plan) }
            if let failure {
                text.removeAll(keepingCapacity: true)
                return failure
            }
            sideText(step.compiled.commandsPort, time: time)
            return nil
        }

        mutating func log(_ saga: JSON, _ kind: SagaLogKind, step s: Int?, reason: String?, time: Int64) {
            // {"saga":ID,"event":KIND[,"step":NAME][,"reason":TEXT]}
            text.append(contentsOf: SagaStep.logSagaKey)
            JSONWriter.write(saga, into: &text)
            text.append(contentsOf: step.logKindText[kind.index])
            if let s { text.append(contentsOf: step.logStepText[s]) }
            if let reason {
                text.append(contentsOf: SagaStep.logReasonKey)
                JSONWriter.writeString(reason, into: &text)
            }
            text.append(UInt8(ascii: "}"))
            sideText(step.compiled.logPort, time: time)
        }
    }
}

extension SagaLogKind {
    /// The kind's position in `allCases`.
    var index: Int {
        switch self {
        case .started: 0
        case .step_completed: 1
        case .step_failed: 2
        case .compensating: 3
        case .compensated: 4
        case .completed: 5
        case .failed: 6
        case .compensation_failed: 7
        }
    }
}
