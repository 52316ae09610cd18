import CSluiceShims
import SluiceCEL
import SluiceCore
import SluiceJSON

/// A partial match: where it is in the NFA and the last event it took.
struct PartialMatch {
    /// The state (positive step) it is in; `states.count` when every step is done and
    /// only trailing `not`s are pending.
    var step: Int32
    /// Events taken in `step` so far.
    var count: Int32
    /// The step of the last event taken.
    var lastStep: Int32
    /// Its last node in the shared buffer.
    var node: Int32
    /// The next partial match of its key in the step's pool (-1: the last).
    var link: Int32 = -1
    /// Whether it may move on to the next step without taking an event first (false
    /// after ignoring an event, as Flink's separate "ignore" states).
    var canProceed: Bool
    /// Time and per-key sequence number of its first event.
    var startTime: Int64
    var startSeq: Int64
    /// Per-key sequence number of its last event.
    var lastSeq: Int64
}

/// A complete match waiting to be emitted.
struct Completion {
    var node: Int32
    var startSeq: Int64
    var lastSeq: Int64
    var time: Int64
}

/// Per-key matcher state: separate from the immutable NFA, as in Flink's `NFAState`.
/// The key's value lives apart, in ``PatternStep/keyValues``. Its oldest partial match
/// is held here and the others in the step's pool, so a key with at most one partial
/// match (the usual case) is one cache line (64 bytes, no reference of its own).
struct KeyState {
    /// The key's oldest partial match, when `first.step >= 0`; the others follow from
    /// `first.link` in ``PatternStep/pool``, oldest first.
    var first = PartialMatch(
        step: -1, count: 0, lastStep: -1, node: -1, canProceed: false, startTime: 0, startSeq: 0, lastSeq: 0)
    /// Whether the key has partial matches.
    var hasConfigs: Bool { first.step >= 0 }
    /// Sequence number of the last event of this key.
    var seq: Int64 = 0
    /// The deadline this key is scheduled at in the deadline heap (`Int64.max`: none).
    var scheduled = Int64.max
}

/// The `pattern` step: complex event processing over event time, per key (SPEC §6).
///
/// Events wait in a time-ordered queue until the watermark passes them, then run through
/// the NFA of their key in event-time order (equal times in arrival order); events behind
/// the watermark go to `late`. Matches go to the main output, expired partial matches to
/// `timeouts` when asked. See docs/patterns.md for the semantics.
///
/// Conditions that read only the event are evaluated once, on arrival, while the event
/// is at hand (lent by the stage, read in place). The results travel with the event
/// through the queue as a bit mask, so the NFA reads conditions as bits, and an event
/// that no step can take is not kept at all: its queue entry carries its bits (for the
/// `not`s and contiguity) but no copy of the event. An event that can neither start nor
/// advance a match of its key costs a counter increment when the watermark releases it.
/// A kept event is stored once, in the shared buffer, and stays there from arrival until
/// its last partial match lets go of it.
public final class PatternStep: Step {
    let p: CompiledPattern
    let nfa: PatternNFA
    let n: Int
    let activation: EventActivation
    let within: Int64?
    /// Hot-path copies of the NFA without reference-counted fields.
    let info: [StateInfo]
    let condExpressions: [Expression?]
    let condIterative: [Bool]
    let gapHasNots: [Bool]
    /// Conditions evaluated on arrival (non-iterative, index < 64): bit and expression,
    /// in a column so that the per-event loop retains neither an array nor expressions
    /// (`p.nfa.conditions` keeps the expressions alive).
    let arrivalConds: RawColumn<ArrivalCondition>
    struct ArrivalCondition {
        var bit: UInt64
        var expr: Unmanaged<Expression>?
    }
    /// How the key is read, without copying `p.key` (and retaining its payload) per event.
    let keyField: String?
    let keyExpression: Expression?
    /// Bits of the conditions that could start a match.
    let startMask: UInt64
    /// Bits of the positive steps' conditions (the ones that take events).
    let takeMask: UInt64
    /// Whether every condition that could start a match is evaluated on arrival, so an
    /// event of a key without partial matches whose start bits are all clear is skipped.
    let idleSkip: Bool
    /// Whether every condition is evaluated on arrival (none reads captures, fewer than
    /// 64): then an event whose take bits are all clear is not stored, as no step can
    /// take it and nothing evaluates a condition on it later.
    let allOnArrival: Bool
    /// Where the key field was in the last parsed object.
    @exclusivity(unchecked) var keyHint = 0
    /// The key field's name as UTF-8, for reading it from raw events without a String.
    let keyUTF8: UnsafeMutableRawBufferPointer
    /// The fields the conditions read and then the key field, read from a raw event in
    /// one pass (empty without a key field).
    let rawKeys: [[UInt8]]
    @exclusivity(unchecked) var rawValues: [JSON?] = []

    struct StateInfo {
        var condition: Int
        var min: Int
        var max: Int
        var optional: Bool
        var contiguity: Contiguity
        var innerContiguity: Contiguity
        var restOptional: Bool
    }

    let buffer = SharedBuffer()
    /// Every key's partial matches, each a list through `link` (see ``KeyState/head``),
    /// in one column: no array per key, and free entries are reused hottest first.
    @exclusivity(unchecked) var pool = RawColumn<PartialMatch>()
    /// The capture names when no step is a list (see ``singleCaptures(_:_:)``).
    let singleCaptureNames: [String]?
    @exclusivity(unchecked) var freeMatches = RawColumn<Int32>()
    @exclusivity(unchecked) var queue = EventQueue()
    @exclusivity(unchecked) var deadlines = DeadlineHeap()
    @exclusivity(unchecked) var keyIndex = PatternKeyTable()
    /// Per-key state by key index, a cache line each.
    @exclusivity(unchecked) var keys = RawColumn<KeyState>(alignment: 64)
    /// The value of each key, by key index.
    @exclusivity(unchecked) var keyValues = RawColumn<JSON>()
    @exclusivity(unchecked) var liveConfigs = 0
    @exclusivity(unchecked) var maxTime = Int64.min

    /// Conditions that could not be evaluated (missing field, wrong type): counted as no match.
    @exclusivity(unchecked) public private(set) var conditionErrors = 0
    /// Matches emitted so far.
    @exclusivity(unchecked) public private(set) var matchCount = 0

    /// Queued events that hold a slot of `buffer`.
    @exclusivity(unchecked) var queuedSlots = 0

    // Per-event scratch, reused so the steady state does not allocate.
    /// Results of conditions 64 and up (the others go to `currentMask`/`currentKnown`).
    @exclusivity(unchecked) var cache: [Int8]
    @exclusivity(unchecked) var next: [PartialMatch] = []
    @exclusivity(unchecked) var old: [PartialMatch] = []
    @exclusivity(unchecked) var completions: [Completion] = []
    @exclusivity(unchecked) var pathScratch: [(step: Int, node: Int32)] = []
    @exclusivity(unchecked) var pathSeqs: [Int64] = []
    @exclusivity(unchecked) var pathStarts: [Int] = []
    @exclusivity(unchecked) var order: [Int] = []
    @exclusivity(unchecked) var sortedScratch: [Completion] = []
    @exclusivity(unchecked) var seenNodes: Set<Int32> = []
    @exclusivity(unchecked) var currentSeq: Int64 = 0
    @exclusivity(unchecked) var currentTime: Int64 = 0
    @exclusivity(unchecked) var currentSlot: Int32 = -1
    /// The conditions of the event being matched (its slot is `currentSlot`): bits
    /// evaluated (`known`) and those of them that hold (`mask`).
    @exclusivity(unchecked) var currentMask: UInt64 = 0
    @exclusivity(unchecked) var currentKnown: UInt64 = 0
    /// Whether `activation` is bound to the current event, and whether in place.
    @exclusivity(unchecked) var bound = false
    @exclusivity(unchecked) var boundInPlace = false

    init(_ p: CompiledPattern) {
        self.p = p
        nfa = p.nfa
        n = p.nfa.states.count
        within = p.nfa.within
        activation = p.compiler.activation(prefetching: p.nfa.conditions.compactMap(\.expression))
        cache = Array(repeating: -1, count: p.nfa.conditions.count)
        singleCaptureNames = p.nfa.states.contains { $0.isList } ? nil : p.nfa.states.map(\.name)
        info = p.nfa.states.map {
            StateInfo(
                condition: $0.condition, min: $0.min, max: $0.max, optional: $0.optional, contiguity: $0.contiguity,
                innerContiguity: $0.innerContiguity, restOptional: $0.restOptional)
        }
        condExpressions = p.nfa.conditions.map(\.expression)
        condIterative = p.nfa.conditions.map(\.iterative)
        gapHasNots = p.nfa.notsBefore.map { !$0.isEmpty }
        // The states a new match may take its first event in: the first, and the ones
        // after it while every state before is optional (no `not` precedes the first).
        var startStates: [Int] = []
        for (j, st) in p.nfa.states.enumerated() {
            startStates.append(j)
            if !st.optional { break }
        }
        let startConditionIndices = Set(startStates.map { p.nfa.states[$0].condition })
        var conds = RawColumn<ArrivalCondition>()
        var mask: UInt64 = 0
        for (i, c) in p.nfa.conditions.enumerated() where i < 64 && !c.iterative {
            conds.append(ArrivalCondition(bit: 1 << UInt64(i), expr: c.expression.map { Unmanaged.passUnretained($0) }))
            if startConditionIndices.contains(i) { mask |= 1 << UInt64(i) }
        }
        arrivalConds = conds
        switch p.key {
        case .global:
            keyField = nil
            keyExpression = nil
        case .field(let f):
            keyField = f
            keyExpression = nil
        case .expression(let e):
            keyField = nil
            keyExpression = e
        }
        startMask = mask
        var take: UInt64 = 0
        for st in p.nfa.states where st.condition < 64 { take |= 1 << UInt64(st.condition) }
        takeMask = take
        idleSkip = startConditionIndices.allSatisfy { $0 < 64 && !p.nfa.conditions[$0].iterative }
        allOnArrival = conds.count == p.nfa.conditions.count
        var keyName: [UInt8] = []
        if case .field(let f) = p.key { keyName = Array(f.utf8) }
        rawKeys = keyName.isEmpty ? [] : activation.prefetchedKeys + [keyName]
        keyUTF8 = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, keyName.count), alignment: 1)
        keyName.withUnsafeBytes { keyUTF8.copyMemory(from: $0) }
    }

    deinit {
        keys.release()
        keyIndex.release()
        pool.release()
        freeMatches.release()
        keyUTF8.deallocate()
        keyValues.release()
        arrivalConds.release()
    }

    /// Partial matches alive, over all keys.
    public var livePartialMatches: Int { liveConfigs }
    /// Events held in the shared buffer by partial matches.
    public var sharedBufferEvents: Int { buffer.liveSlots - queuedSlots }
    /// Events waiting for the watermark.
    public var queuedEvents: Int { queue.count }

    /// Live partial matches plus buffered events (waiting for the watermark or held).
    public var stateSize: Int { liveConfigs + queue.count + sharedBufferEvents }

    /// Results depend on the watermark.

    // MARK: Step

    /// Classifies the event (late, key), evaluates its conditions and queues it until the
    /// watermark passes it.
    public func process(_ event: Event, into out: inout StepOutput) {
        withUnsafePointer(to: event) { process(at: $0, into: &out) }
    }

    /// Starts loading the field arrays of a parsed event the stage will lend soon: with
    /// 10,000 keys they are rarely in cache when the event arrives, and reading its key
    /// and conditions would wait for them.
    public func prefetch(upcoming event: UnsafePointer<Event>) {
        SharedBuffer.prefetchFields(of: event, elements: true)
    }

    /// ``process(_:into:)`` on the event where it is (see ``Step/process(at:into:)``): the
    /// event is read in place, and copied once, into the shared buffer, only when a step
    /// could take it.
    public func process(at event: UnsafePointer<Event>, into out: inout StepOutput) {
        let time = event.pointee.time
        if time < out.watermark {
            out.side(p.latePort, event.pointee)
            return
        }
        // The slot the event would be stored in, loading while the event is read.
        buffer.prefetchFreeSlot()
        var k: Int32 = -1
        // A parsed event's key, hashed, whose bucket is being loaded while the conditions
        // are evaluated; found after them (see below).
        var pendingKey: UnsafePointer<JSON>?
        var pendingHash: UInt64 = 0
        var pendingPrint = KeyTable.Fingerprint.inexact
        // How `activation` holds the event: not at all, lent in place, or as a copy.
        var bind = ActivationBinding.none
        if let f = keyField {
            // Read in place (a parsed event's value is borrowed, a raw event's field is
            // found by its UTF-8 name), hashed once, and copied only for a new key.
            let utf8 = UnsafeRawBufferPointer(keyUTF8)
            let found: Int32?
            if let (names, values) = event.pointee.unsafeParsedFields {
                // A parsed object: its fields where they are, for the key and then for
                // the conditions (the buffers stay valid while the stage lends the event).
                if let i = keyPosition(f, in: names) {
                    let v = values.baseAddress.unsafelyUnwrapped + i
                    (pendingHash, pendingPrint) = KeyTable.hashAndPrint(v.pointee)
                    keyIndex.prefetch(hash: pendingHash)
                    pendingKey = v
                    found = -1
                } else {
                    found = nil
                }
                if found != nil, arrivalConds.count > 0 {
                    if !activation.bindings.isEmpty { activation.bindings = [:] }
                    activation.bindBorrowed(names, values)
                    bind = .inPlace
                }
            } else if event.pointee.isValueBacked {
                found = nil
            } else if event.pointee.isRaw, !event.pointee.offsets.isEmpty {
                // The reader noted where the key and the conditions' fields are.
                found = event.pointee.field(f).map { keyIndex(of: $0) }
            } else if event.pointee.isRaw, activation.bindReading(event.pointee, keys: rawKeys, into: &rawValues) {
                // The key and the conditions' fields in one pass over the bytes.
                bind = .copied
                found = rawValues[rawKeys.count - 1].map { keyIndex(of: $0) }
            } else if let v = event.pointee.field(utf8: utf8, f) {
                found = keyIndex(of: v)
            } else {
                found = nil
            }
            guard let found else {
                out.reject(event.pointee, step: p.stepName, message: "key: no such field '\(f)'")
                return
            }
            k = found
        } else if let e = keyExpression {
            bind = bindArriving(event)
            do {
                k = keyIndex(of: try e.evaluateJSON(activation))
            } catch {
                if bind == .inPlace { activation.unbindInPlace() }
                out.reject(event.pointee, step: p.stepName, message: "key: \(error.message)")
                return
            }
        } else {
            k = keyIndex(of: .null)
        }
        // Every condition that reads only the event, while it is at hand.
        var mask: UInt64 = 0
        var known: UInt64 = 0
        if arrivalConds.count > 0 {
            if bind == .none { bind = bindArriving(event) }
            for i in 0..<arrivalConds.count {
                let c = arrivalConds[i]
                known |= c.bit
                if let e = c.expr, !e._withUnsafeGuaranteedRef({ evaluate($0) }) { continue }
                mask |= c.bit
            }
        }
        if bind == .inPlace { activation.unbindInPlace() }
        if let v = pendingKey { k = keyIndex(of: v, hash: pendingHash, print: pendingPrint) }
        // Kept only if a step could take it (conditions evaluated later need it too).
        var slot: Int32 = -1
        if mask & takeMask != 0 || !allOnArrival {
            slot = buffer.addEvent(event.pointee)
            queuedSlots += 1
        }
        queue.push(time: time, key: k, mask: mask, known: known, slot: slot)
        if time <= out.watermark { drain(upTo: out.watermark, into: &out) }
    }

    enum ActivationBinding { case none, inPlace, copied }

    /// Binds `activation` to an arriving event: lent in place when it can be (a parsed
    /// object, or a raw event whose conditions read only indexed fields), else copied.
    @inline(__always)
    func bindArriving(_ event: UnsafePointer<Event>) -> ActivationBinding {
        if !activation.bindings.isEmpty { activation.bindings = [:] }
        if activation.bindInPlace(at: event) { return .inPlace }
        activation.event = event.pointee
        return .copied
    }

    /// Where the key field `name` is among a parsed object's `names`: usually where it
    /// was in the last event (events of a stream mostly share their shape).
    @inline(__always)
    func keyPosition(_ name: String, in names: UnsafeBufferPointer<String>) -> Int? {
        let h = keyHint
        if h < names.count, names[h] == name { return h }
        for i in names.indices where names[i] == name {
            keyHint = i
            return i
        }
        return nil
    }

    /// The index of the key at `value` (read where it is) with hash and fingerprint
    /// `hash` and `print` (``KeyTable/hashAndPrint(_:)``), added if new.
    @inline(__always)
    func keyIndex(of value: UnsafePointer<JSON>, hash: UInt64, print: KeyTable.Fingerprint) -> Int32 {
        if let i = keyIndex.find(hash: hash, print: print, { Self.sameKey(keyValues.base + Int($0), value) }) {
            return i
        }
        let k = Int32(keys.count)
        keys.append(KeyState())
        keyValues.append(value.pointee)
        keyIndex.insert(hash: hash, print: print, k)
        return k
    }

    /// `a == b` for key values, strings compared without copying either JSON value.
    @inline(__always)
    static func sameKey(_ a: UnsafePointer<JSON>, _ b: UnsafePointer<JSON>) -> Bool {
        if case .string(let x) = a.pointee, case .string(let y) = b.pointee { return x == y }
        return a.pointee == b.pointee
    }

    /// The index of key `value`, added if new.
    @inline(__always)
    func keyIndex(of value: borrowing JSON) -> Int32 {
        let (hash, print) = KeyTable.hashAndPrint(copy value)
        if let i = keyIndex.find(hash: hash, print: print, { keyValues[Int($0)] == value }) { return i }
        let k = Int32(keys.count)
        keys.append(KeyState())
        keyValues.append(copy value)
        keyIndex.insert(hash: hash, print: print, k)
        return k
    }

    /// Runs every queued event up to `watermark`, then expires what the watermark closes;
    /// at the end of input (`Int64.max`) everything pending completes or times out.
    public func advance(watermark: Int64, into out: inout StepOutput) {
        drain(upTo: watermark, into: &out)
        expireDue(upTo: watermark, into: &out)
        if watermark == Int64.max {
            for k in 0..<keys.count where keys[k].hasConfigs {
                expireKey(k, upTo: Int64.max, into: &out)
            }
        }
    }

    func drain(upTo limit: Int64, into out: inout StepOutput) {
        while let e = queue.popReady(upTo: limit) {
            prefetchAhead()
            if within != nil { expireDue(upTo: e.time, into: &out) }
            processEvent(e, into: &out)
        }
    }

    /// Starts loading, in stages, what the events a few places on in the queue will
    /// touch, so that their cache misses overlap with this event's work: per-key state
    /// and events queued a watermark ago are rarely still in cache. Each stage reads only
    /// lines an earlier stage asked for: far ahead, the key's line and the event's slot;
    /// then the event's fields (which releasing or emitting it retains or releases), the
    /// node of its key's oldest partial match and the key's next partial match in the
    /// pool; then the first node's slot and the second's node; then the first's fields
    /// (the event that a match this event completes captures). Only for events a step
    /// can take (stored ones). Hints only: a wrong guess costs bandwidth, never a result.
    @inline(__always)
    func prefetchAhead() {
        if let e = queue.peek(ahead: Self.lookahead) {
            sluice_prefetch(keys.base + Int(e.key))
            if e.slot >= 0 { buffer.prefetchSlot(e.slot) }
        }
        if let e = queue.peek(ahead: Self.lookahead - 3) {
            // The node even when the event is not stored: ignoring it retains the node.
            if e.slot >= 0 { buffer.prefetchFields(ofSlot: e.slot) }
            let first = keys[Int(e.key)].first
            if first.step >= 0 {
                buffer.prefetchNode(first.node)
                // The key's next partial match, if any (a 48-byte entry, maybe two lines).
                if first.link >= 0 {
                    let c = UnsafeRawPointer(pool.base + Int(first.link))
                    sluice_prefetch(c)
                    sluice_prefetch(c + (MemoryLayout<PartialMatch>.size - 1))
                }
            }
        }
        if let e = queue.peek(ahead: Self.lookahead - 5) {
            let first = keys[Int(e.key)].first
            if first.step >= 0 {
                if e.slot >= 0 { buffer.prefetchSlot(ofNode: first.node) }
                if first.link >= 0 { buffer.prefetchNode(pool[Int(first.link)].node) }
            }
        }
        if let e = queue.peek(ahead: Self.lookahead - 7), e.slot >= 0 {
            let first = keys[Int(e.key)].first
            if first.step >= 0 { buffer.prefetchFields(ofNode: first.node) }
        }
    }

    /// How far ahead ``prefetchAhead()`` starts loading, in queued events (at least 7).
    static let lookahead = 8

    func expireDue(upTo limit: Int64, into out: inout StepOutput) {
        while let (deadline, key) = deadlines.popDue(upTo: limit) {
            let k = Int(key)
            guard keys[k].scheduled == deadline else { continue }
            keys[k].scheduled = Int64.max
            // Its oldest partial match decides: often the one scheduled has completed.
            if keys[k].hasConfigs, self.deadline(keys[k].first) <= limit {
                expireKey(k, upTo: limit, into: &out)
            }
            schedule(k)
        }
    }

    @inline(__always)
    func deadline(_ c: PartialMatch) -> Int64 {
        guard let w = within else { return Int64.max }
        let (d, o) = c.startTime.addingReportingOverflow(w)
        return o ? Int64.max : d
    }

    func schedule(_ k: Int) {
        guard within != nil, keys[k].hasConfigs else { return }
        let d = deadline(keys[k].first)
        if d < keys[k].scheduled {
            keys[k].scheduled = d
            deadlines.push(d, Int32(k))
        }
    }

    // MARK: One event

    func processEvent(_ entry: EventQueue.Entry, into out: inout StepOutput) {
        let k = Int(entry.key)
        keys[k].seq += 1
        if entry.time > maxTime { maxTime = entry.time }
        let slot = entry.slot
        // Nothing to advance and nothing to start: the event changes nothing.
        if idleSkip, entry.mask & startMask == 0, !keys[k].hasConfigs {
            if slot >= 0 { releaseQueued(slot) }
            return
        }
        currentSeq = keys[k].seq
        currentTime = entry.time
        currentSlot = slot
        currentMask = entry.mask
        currentKnown = entry.known
        if slot >= 0 { buffer.setSeq(slot, currentSeq) }
        bound = false
        if cache.count > 64 { for i in 64..<cache.count { cache[i] = -1 } }

        loadConfigs(k, into: &old)
        for i in old.indices {
            advanceMatch(old[i], isStart: false)
        }
        let start = PartialMatch(
            step: 0, count: 0, lastStep: -1, node: -1, canProceed: true, startTime: currentTime,
            startSeq: currentSeq, lastSeq: currentSeq - 1)
        advanceMatch(start, isStart: true)
        unbindCurrent()

        if next.count > p.maxPartialMatches {
            // Keep the state as it was and say so: never drop silently.
            for c in next { buffer.release(c.node) }
            for m in completions { buffer.release(m.node) }
            next.removeAll(keepingCapacity: true)
            completions.removeAll(keepingCapacity: true)
            storeConfigs(k, &old)
            old.removeAll(keepingCapacity: true)
            // The event was taken, so it is stored (see `process(at:)`).
            if slot >= 0 {
                out.reject(
                    buffer.eventPointer(slot).pointee, step: p.stepName,
                    message: "pattern: key \(JSONWriter.string(keyValues[k])) would have more than \(p.maxPartialMatches) partial matches (max_partial_matches); the event was not matched")
                releaseQueued(slot)
            }
            return
        }
        // By index: iterating would retain the array around the calls.
        var i = 0
        while i < old.count {
            buffer.release(old[i].node)
            i += 1
        }
        let before = old.count
        clearScratch(&old)

        if !completions.isEmpty {
            let threshold = emitCompletions(key: k, into: &out)
            if threshold > Int64.min { prune(&next, upTo: threshold) }
        }
        liveConfigs += next.count - before
        storeConfigs(k, &next)
        clearScratch(&next)
        if slot >= 0 { releaseQueued(slot) }
        schedule(k)
    }

    /// Empties a per-event scratch array, keeping its storage. It usually holds a match
    /// or two, which removing one by one costs less than `removeAll(keepingCapacity:)`
    /// (a generic range replacement); longer ones go at once.
    @inline(__always)
    func clearScratch<T: BitwiseCopyable>(_ a: inout [T]) {
        if a.count > 4 {
            a.removeAll(keepingCapacity: true)
            return
        }
        while !a.isEmpty { a.removeLast() }
    }

    /// Moves key `k`'s partial matches, oldest first, out of the pool into `list` (empty).
    @inline(__always)
    func loadConfigs(_ k: Int, into list: inout [PartialMatch]) {
        guard keys[k].hasConfigs else { return }
        list.append(keys[k].first)
        var i = keys[k].first.link
        keys[k].first.step = -1
        while i >= 0 {
            let c = pool[Int(i)]
            list.append(c)
            freeMatches.append(i)
            i = c.link
        }
    }

    /// Makes `list` key `k`'s partial matches (it has none in the pool). `list` is
    /// only read: passed `inout` so that the step's scratch array is not retained.
    @inline(__always)
    func storeConfigs(_ k: Int, _ list: inout [PartialMatch]) {
        guard !list.isEmpty else {
            keys[k].first.step = -1
            return
        }
        var link: Int32 = -1
        var i = list.count - 1
        while i >= 1 {
            var c = list[i]
            c.link = link
            if freeMatches.count > 0 {
                link = freeMatches.removeLast()
                pool[Int(link)] = c
            } else {
                link = Int32(pool.append(c))
            }
            i -= 1
        }
        keys[k].first = list[0]
        keys[k].first.link = link
    }

    /// Drops the queue's hold on a popped entry's slot.
    @inline(__always)
    func releaseQueued(_ slot: Int32) {
        queuedSlots -= 1
        buffer.releaseSlot(slot)
    }

    /// Moves one partial match over the current event, appending its successors to `next`
    /// and complete matches to `completions`.
    func advanceMatch(_ c: PartialMatch, isStart: Bool) {
        let immediate = currentSeq == c.lastSeq + 1
        var j = Int(c.step)
        if j == n {
            // Only trailing `not`s are pending.
            if notsKill(c, upTo: n, immediate: immediate) { return }
            if nfa.trailingAllStrict {
                buffer.retain(c.node)
                completions.append(Completion(node: c.node, startSeq: c.startSeq, lastSeq: c.lastSeq, time: currentTime))
            } else {
                buffer.retain(c.node)
                next.append(c)
            }
            return
        }
        var kj = Int(c.count)
        var first = true
        while true {
            if kj == 0, notsKill(c, upTo: j, immediate: immediate) { return }
            let st = info[j]
            let contiguity = kj == 0 ? st.contiguity : st.innerContiguity
            if kj < st.max {
                let ok = condition(st.condition, c, target: j)
                if ok, contiguity != .strict || immediate {
                    take(c, step: j, count: kj, isStart: isStart)
                }
                if !isStart {
                    let ignore: Bool
                    switch contiguity {
                    case .strict: ignore = false
                    case .relaxed: ignore = !ok
                    case .any: ignore = true
                    }
                    if ignore {
                        var s = c
                        s.canProceed = false
                        if !first {
                            s.step = Int32(j)
                            s.count = 0
                        }
                        buffer.retain(s.node)
                        next.append(s)
                    }
                }
            }
            let mayProceed = (first ? c.canProceed : true) && (kj >= st.min || (st.optional && kj == 0))
            guard mayProceed else { return }
            j += 1
            kj = 0
            first = false
            if j == n { return }
        }
    }

    func take(_ c: PartialMatch, step j: Int, count kj: Int, isStart: Bool) {
        // Unreachable: an event is stored whenever a step's condition holds for it, and a
        // step takes only events its condition holds for (see `process(at:)`).
        guard currentSlot >= 0 else { return }
        let node = buffer.addNode(slot: currentSlot, step: j, prev: c.node)
        let st = info[j]
        let newCount = kj + 1
        let startTime = isStart ? currentTime : c.startTime
        let startSeq = isStart ? currentSeq : c.startSeq
        if newCount >= st.min, st.restOptional {
            buffer.retain(node)
            if nfa.hasTrailingNots {
                next.append(PartialMatch(
                    step: Int32(n), count: 0, lastStep: Int32(j), node: node, canProceed: false,
                    startTime: startTime, startSeq: startSeq, lastSeq: currentSeq))
            } else {
                completions.append(Completion(node: node, startSeq: startSeq, lastSeq: currentSeq, time: currentTime))
            }
        }
        if !(j == n - 1 && newCount >= st.max) {
            buffer.retain(node)
            next.append(PartialMatch(
                step: Int32(j), count: Int32(newCount), lastStep: Int32(j), node: node, canProceed: true,
                startTime: startTime, startSeq: startSeq, lastSeq: currentSeq))
        }
        buffer.release(node)
    }

    /// Whether a `not` in the gap between the match's last step and `target` holds for the
    /// current event (strict ones only right after the last event).
    func notsKill(_ c: PartialMatch, upTo target: Int, immediate: Bool) -> Bool {
        var m = Int(c.lastStep) + 1
        while m <= target {
            if !gapHasNots[m] {
                m += 1
                continue
            }
            for neg in nfa.notsBefore[m] where immediate || !neg.strict {
                if condition(neg.condition, c, target: target) { return true }
            }
            m += 1
        }
        return false
    }

    /// Binds the activation to the current event, if not yet: in place where it is in
    /// the shared buffer when it can be, else a copy (a null event if it was not stored,
    /// which does not happen: events are stored unless every condition is known).
    @inline(__always)
    func bindCurrent() {
        if bound { return }
        if !activation.bindings.isEmpty { activation.bindings = [:] }
        bound = true
        guard currentSlot >= 0 else {
            activation.event = Event(.null)
            return
        }
        let e = buffer.eventPointer(currentSlot)
        if activation.bindInPlace(at: e) {
            boundInPlace = true
        } else {
            activation.event = e.pointee
        }
    }

    /// Ends ``bindCurrent()``'s lending of the current event.
    @inline(__always)
    func unbindCurrent() {
        if boundInPlace {
            activation.unbindInPlace()
            boundInPlace = false
        }
        bound = false
    }

    /// A condition on the current event: from its arrival bits, else evaluated and cached
    /// per event unless it reads captures.
    @inline(__always)
    func condition(_ i: Int, _ c: PartialMatch, target: Int) -> Bool {
        if i < 64 {
            let bit: UInt64 = 1 << UInt64(i)
            if currentKnown & bit != 0 { return currentMask & bit != 0 }
        }
        return conditionSlow(i, c, target: target)
    }

    func conditionSlow(_ i: Int, _ c: PartialMatch, target: Int) -> Bool {
        bindCurrent()
        if !condIterative[i], i < 64 {
            let bit: UInt64 = 1 << UInt64(i)
            currentKnown |= bit
            guard let expr = condExpressions[i] else {
                currentMask |= bit
                return true
            }
            let r = evaluate(expr)
            if r { currentMask |= bit }
            return r
        }
        if !condIterative[i] {
            let v = cache[i]
            if v >= 0 { return v == 1 }
            guard let expr = condExpressions[i] else {
                cache[i] = 1
                return true
            }
            let r = evaluate(expr)
            cache[i] = r ? 1 : 0
            return r
        }
        guard let expr = condExpressions[i] else { return true }
        activation.bindings = bindings(c.node, through: target)
        let r = evaluate(expr)
        activation.bindings = [:]
        return r
    }

    @inline(__always)
    func evaluate(_ expr: Expression) -> Bool {
        do {
            return try expr.evaluateBool(activation)
        } catch {
            conditionErrors += 1
            return false
        }
    }

    /// Captures of the path ending at `node` as CEL values: steps before `target` (and
    /// `target` itself when it is a list), skipped single steps as null, lists as lists.
    func bindings(_ node: Int32, through target: Int) -> [String: CELValue] {
        buffer.path(node, into: &pathScratch)
        var lists = Array(repeating: [CELValue](), count: n)
        for (step, nd) in pathScratch { lists[step].append(buffer.celValue(ofNode: nd)) }
        var b: [String: CELValue] = [:]
        for (j, st) in nfa.states.enumerated() where j < target || (j == target && st.isList) {
            b[st.name] = st.isList ? .list(lists[j]) : (lists[j].first ?? .null)
        }
        return b
    }

    // MARK: Emitting

    /// Emits `completions` in order (earliest start first) applying the skip strategy;
    /// returns the pruning threshold (partial matches started at or before it go).
    func emitCompletions(key k: Int, into out: inout StepOutput) -> Int64 {
        if completions.count > 1 {
            // Stable insertion sort by start (few completions, no allocation); only
            // completions that start alike need the comparison of their paths below,
            // which this presorting leaves unchanged (it breaks ties by position).
            var tie = false
            for i in 1..<completions.count {
                let m = completions[i]
                var j = i - 1
                while j >= 0, completions[j].startSeq > m.startSeq {
                    completions[j + 1] = completions[j]
                    j -= 1
                }
                completions[j + 1] = m
            }
            for i in 1..<completions.count where completions[i].startSeq == completions[i - 1].startSeq {
                tie = true
                break
            }
            if tie { sortCompletionsByPath() }
        }
        var threshold = Int64.min
        for m in completions {
            if nfa.skip != .none, m.startSeq <= threshold {
                buffer.release(m.node)
                continue
            }
            emitMatch(m, key: k, into: &out)
            switch nfa.skip {
            case .pastLast: threshold = max(threshold, m.lastSeq)
            case .toNext: threshold = max(threshold, m.startSeq)
            case .none: break
            }
            buffer.release(m.node)
        }
        clearScratch(&completions)
        return threshold
    }

    /// Orders `completions` by start, then by the sequence numbers of their paths
    /// (lexicographically), then by position. Uses scratch arrays, so it allocates
    /// nothing in the steady state.
    func sortCompletionsByPath() {
        pathSeqs.removeAll(keepingCapacity: true)
        pathStarts.removeAll(keepingCapacity: true)
        for m in completions {
            buffer.path(m.node, into: &pathScratch)
            pathStarts.append(pathSeqs.count)
            for e in pathScratch { pathSeqs.append(buffer.seq(ofNode: e.node)) }
        }
        pathStarts.append(pathSeqs.count)
        order.removeAll(keepingCapacity: true)
        order.append(contentsOf: completions.indices)
        order.sort { a, b in
            if completions[a].startSeq != completions[b].startSeq { return completions[a].startSeq < completions[b].startSeq }
            var i = pathStarts[a]
            var j = pathStarts[b]
            let ea = pathStarts[a + 1], eb = pathStarts[b + 1]
            while i < ea, j < eb {
                if pathSeqs[i] != pathSeqs[j] { return pathSeqs[i] < pathSeqs[j] }
                i += 1
                j += 1
            }
            if i < ea || j < eb { return i == ea }  // a proper prefix comes first
            return a < b
        }
        sortedScratch.removeAll(keepingCapacity: true)
        for i in order { sortedScratch.append(completions[i]) }
        swap(&completions, &sortedScratch)
    }

    func prune(_ list: inout [PartialMatch], upTo threshold: Int64) {
        var w = 0
        for i in list.indices {
            if list[i].startSeq <= threshold {
                buffer.release(list[i].node)
            } else {
                list[w] = list[i]
                w += 1
            }
        }
        list.removeLast(list.count - w)
    }

    /// The object of captures: name → event, or list of events for `times` other than 1;
    /// steps that matched nothing (optional) are left out.
    func capturesObject(_ node: Int32) -> JSON {
        if let names = singleCaptureNames, let o = singleCaptures(node, names) { return .object(o) }
        buffer.path(node, into: &pathScratch)
        var o = JSONObject(minimumCapacity: n)
        var i = 0
        for (j, st) in nfa.states.enumerated() {
            if !st.isList {
                // One event (or none, when optional): no array to build.
                guard i < pathScratch.count, pathScratch[i].step == j else { continue }
                let v = buffer.value(ofNode: pathScratch[i].node)
                i += 1
                while i < pathScratch.count, pathScratch[i].step == j { i += 1 }
                o.appendUnchecked(key: st.name, value: v)
                continue
            }
            var items: [JSON] = []
            while i < pathScratch.count, pathScratch[i].step == j {
                items.append(buffer.value(ofNode: pathScratch[i].node))
                i += 1
            }
            if items.isEmpty { continue }
            o.appendUnchecked(key: st.name, value: .array(items))
        }
        return .object(o)
    }

    /// ``capturesObject(_:)`` of a path that took exactly one event in each step, in
    /// order (the usual shape when no step is a list), or nil for another shape. The
    /// keys are one shared array, so only the values are allocated.
    @inline(__always)
    func singleCaptures(_ node: Int32, _ names: [String]) -> JSONObject? {
        var nd = node
        var j = n - 1
        while nd >= 0, j >= 0, buffer.step(ofNode: nd) == j {
            nd = buffer.prev(ofNode: nd)
            j -= 1
        }
        guard nd < 0, j < 0 else { return nil }
        var values = [JSON](repeating: .null, count: n)
        values.withUnsafeMutableBufferPointer { v in
            nd = node
            for i in stride(from: n - 1, through: 0, by: -1) {
                v[i] = buffer.value(ofNode: nd)
                nd = buffer.prev(ofNode: nd)
            }
        }
        return JSONObject(uniqueKeys: names, values: values)
    }

    func emitMatch(_ m: Completion, key k: Int, into out: inout StepOutput) {
        matchCount += 1
        bound = false
        switch p.emit {
        case .captures:
            out.emit(Event(capturesObject(m.node), time: m.time))
        case .fields(let fields):
            activation.bindings = bindings(m.node, through: n)
            activation.event = buffer.event(ofNode: m.node)
            var o = JSONObject(minimumCapacity: fields.count)
            for (name, e) in fields {
                do {
                    o[name] = try e.evaluateJSON(activation)
                } catch {
                    activation.bindings = [:]
                    out.reject(Event(capturesObject(m.node), time: m.time), step: p.stepName, message: "emit \(name): \(error.message)")
                    return
                }
            }
            activation.bindings = [:]
            out.emit(Event(.object(o), time: m.time))
        case .value(let e):
            activation.bindings = bindings(m.node, through: n)
            activation.event = buffer.event(ofNode: m.node)
            do {
                let v = try e.evaluateJSON(activation)
                activation.bindings = [:]
                out.emit(Event(v, time: m.time))
            } catch {
                activation.bindings = [:]
                out.reject(Event(capturesObject(m.node), time: m.time), step: p.stepName, message: "emit: \(error.message)")
            }
        }
    }

    /// Expires the partial matches of key `k` whose window ends at or before `limit`
    /// (every one when `limit` is `Int64.max`): pending absence matches are emitted,
    /// the others go to `timeouts` when enabled.
    func expireKey(_ k: Int, upTo limit: Int64, into out: inout StepOutput) {
        loadConfigs(k, into: &old)
        defer {
            storeConfigs(k, &old)
            clearScratch(&old)
        }
        var cut = 0
        while cut < old.count, deadline(old[cut]) <= limit { cut += 1 }
        guard cut > 0 else { return }
        let timedOutAt = { (c: PartialMatch) -> Int64 in self.within != nil ? self.deadline(c) : self.maxTime }
        for c in old[..<cut] where Int(c.step) == n {
            buffer.retain(c.node)
            completions.append(Completion(node: c.node, startSeq: c.startSeq, lastSeq: c.lastSeq, time: timedOutAt(c)))
        }
        var threshold = Int64.min
        if !completions.isEmpty { threshold = emitCompletions(key: k, into: &out) }
        if p.timeouts {
            seenNodes.removeAll(keepingCapacity: true)
            for c in old[..<cut] where Int(c.step) != n && c.startSeq > threshold {
                guard seenNodes.insert(c.node).inserted else { continue }
                var o = JSONObject(minimumCapacity: 3)
                o.appendUnchecked(key: "captures", value: capturesObject(c.node))
                let t = timedOutAt(c)
                o.appendUnchecked(key: "timed_out_at", value: .int(t))
                if case .global = p.key {} else { o.appendUnchecked(key: "key", value: keyValues[k]) }
                out.side(p.timeoutPort, Event(.object(o), time: t))
            }
        }
        for c in old[..<cut] { buffer.release(c.node) }
        old.removeFirst(cut)
        liveConfigs -= cut
        if threshold > Int64.min {
            let before = old.count
            prune(&old, upTo: threshold)
            liveConfigs -= before - old.count
        }
    }
}
