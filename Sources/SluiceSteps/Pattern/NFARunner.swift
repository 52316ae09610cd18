import CSluiceShims
import SluiceCEL
import SluiceCore
import SluiceJSON

/// The matching half of the `pattern` step (Flink's `NFA` with its per-key `NFAState`
/// and `SharedBuffer`): it moves the partial matches of one key over one event, in that
/// key's event-time order, and returns what completed; it expires partial matches on
/// request. It has no queue, watermark, key table or output of its own (that is
/// ``PatternStep``, the operator), so every transition can be driven directly, event by
/// event, as Flink's `NFATestHarness` does.
///
/// An event comes in as a slot of ``buffer`` (where the operator stored it, or -1 when no
/// step can take it) with the results of the conditions the operator evaluated on
/// arrival (`known`, and `mask` for those that hold); the others are evaluated here,
/// per event or, when they read captures, per partial match. After
/// ``process(key:time:slot:mask:known:)`` and ``expire(key:upTo:lastTime:collectTimeouts:)``,
/// ``completed`` holds the matches to emit, in order, after the skip strategy; the
/// caller emits them and calls ``releaseCompleted()``.
///
/// A key's partial matches live in ``keys`` (the oldest) and ``pool`` (the others, a
/// list through `link`), so no key has an array of its own and free pool entries are
/// reused hottest first.
final class NFARunner {
    /// What ``process(key:time:slot:mask:known:)`` did with an event.
    enum Outcome: Equatable {
        /// No partial match of the key could use it and none starts at it: nothing changed.
        case ignored
        /// The key's partial matches moved over it; ``completed`` holds the matches it completed.
        case advanced
        /// The key would have had more than `max_partial_matches` partial matches: the
        /// key's state is as it was before the event.
        case overKeyLimit
        /// The step would have had more than `max_total_partial_matches` partial matches
        /// over all keys: the key's state is as it was before the event.
        case overPartialMatchBudget
        /// A partial match would have taken the event while the step already holds
        /// `max_buffered_events` events for partial matches: the key's state is as it
        /// was before the event.
        case overEventBudget
    }

    /// A timed-out partial match (see ``expire(key:upTo:lastTime:collectTimeouts:)``):
    /// its last node, held until ``releaseTimedOut()``, and when it timed out.
    struct TimedOut {
        var node: Int32
        var time: Int64
    }

    /// A state of the NFA, without reference-counted fields (read per partial match).
    struct StateInfo {
        var condition: Int
        var min: Int
        var max: Int
        var optional: Bool
        var contiguity: Contiguity
        var innerContiguity: Contiguity
        var restOptional: Bool
        /// The condition's bit, when it is below 64 (else 0).
        var conditionBit: UInt64
    }

    /// The event being matched: its per-key sequence number, time, slot (-1: not stored),
    /// and the conditions evaluated (`known`) and holding (`mask`) for it so far.
    struct CurrentEvent {
        var seq: Int64 = 0
        var time: Int64 = 0
        var slot: Int32 = -1
        var mask: UInt64 = 0
        var known: UInt64 = 0
    }

    let nfa: PatternNFA
    /// The positive states, as ``StateInfo``.
    let states: [StateInfo]
    /// `states.count`, the state of a partial match waiting only for trailing `not`s.
    let stateCount: Int
    let conditionExpressions: [Expression?]
    let conditionIterative: [Bool]
    /// Whether the gap before each state (and after the last) has `not`s.
    let gapHasNots: [Bool]
    /// Whether any gap has `not`s (else ``notsKill(_:upTo:immediate:)`` is never asked).
    let hasNots: Bool
    /// Bits of the conditions that could start a match.
    let startMask: UInt64
    /// The first state's condition bit when a new partial match can do nothing but take
    /// an event there (the state is neither optional nor `min: 0`, and no `not` comes
    /// before it), so that an event whose arrival bits say the condition does not hold
    /// leaves it without a trace; else 0.
    let startSkipBit: UInt64
    /// Whether every condition that could start a match is evaluated on arrival, so an
    /// event of a key without partial matches whose start bits are all clear is ignored.
    let idleSkip: Bool
    /// Bounds on the partial matches, per key and over all keys, and on the events they hold.
    let limits: PatternLimits
    /// Evaluates the conditions the operator did not; shared with the operator.
    let activation: EventActivation
    /// The events partial matches hold, and their paths.
    let buffer: SharedBuffer
    @exclusivity(unchecked) var captures: CaptureBuilder
    @exclusivity(unchecked) var skip: AfterMatchSkip

    /// Per-key state by key index, a cache line each.
    @exclusivity(unchecked) var keys = RawColumn<KeyState>(alignment: 64)
    /// Every key's partial matches but its oldest, each a list through `link`.
    @exclusivity(unchecked) var pool = RawColumn<PartialMatch>()
    @exclusivity(unchecked) var freePoolEntries = RawColumn<Int32>()
    /// Partial matches alive, over all keys.
    @exclusivity(unchecked) var livePartialMatches = 0
    /// Conditions that could not be evaluated here (missing field, wrong type): no match.
    @exclusivity(unchecked) var conditionErrors = 0

    /// The matches the last call completed, in emission order, each holding its node.
    @exclusivity(unchecked) private(set) var completed = RawColumn<CompletedMatch>()
    /// The partial matches the last ``expire(key:upTo:lastTime:collectTimeouts:)`` timed
    /// out (with `collectTimeouts`), each holding its node; one per distinct path.
    @exclusivity(unchecked) private(set) var timedOut: [TimedOut] = []

    // Per-event scratch, reused so the steady state does not allocate.
    @exclusivity(unchecked) var current = CurrentEvent()
    /// Results of conditions 64 and up (the others go to `current.mask`/`current.known`).
    @exclusivity(unchecked) var conditionCache: [Int8]
    /// The key's partial matches before the event, and after it: columns owned by the
    /// runner, emptied and refilled per event (no uniqueness check per append).
    @exclusivity(unchecked) var old = RawColumn<PartialMatch>()
    @exclusivity(unchecked) var next = RawColumn<PartialMatch>()
    @exclusivity(unchecked) var seenNodes: Set<Int32> = []
    /// Whether `activation` holds a copy of the current event (one that could not be
    /// lent in place), set by the first evaluation that needed it.
    @exclusivity(unchecked) var copiedCurrent = false

    init(nfa: PatternNFA, activation: EventActivation, limits: PatternLimits) {
        self.nfa = nfa
        self.activation = activation
        self.limits = limits
        stateCount = nfa.states.count
        states = nfa.states.map {
            StateInfo(
                condition: $0.condition, min: $0.min, max: $0.max, optional: $0.optional, contiguity: $0.contiguity,
                innerContiguity: $0.innerContiguity, restOptional: $0.restOptional,
                conditionBit: $0.condition < 64 ? 1 << UInt64($0.condition) : 0)
        }
        conditionExpressions = nfa.conditions.map(\.expression)
        conditionIterative = nfa.conditions.map(\.iterative)
        gapHasNots = nfa.notsBefore.map { !$0.isEmpty }
        hasNots = gapHasNots.contains(true)
        conditionCache = Array(repeating: -1, count: nfa.conditions.count)
        let starts = Set(nfa.startStates.map { nfa.states[$0].condition })
        var mask: UInt64 = 0
        for i in starts where nfa.isEvaluatedOnArrival(i) { mask |= 1 << UInt64(i) }
        startMask = mask
        idleSkip = starts.allSatisfy { nfa.isEvaluatedOnArrival($0) }
        if let s0 = nfa.states.first, !s0.optional, s0.min >= 1, s0.condition < 64, gapHasNots.first != true {
            startSkipBit = 1 << UInt64(s0.condition)
        } else {
            startSkipBit = 0
        }
        let buffer = SharedBuffer()
        self.buffer = buffer
        captures = CaptureBuilder(buffer: buffer, nfa: nfa)
        skip = AfterMatchSkip(nfa.skip, buffer: buffer)
    }

    /// A new key with no partial matches; returns its index.
    @inline(__always)
    func addKey() -> Int32 { Int32(keys.append(KeyState())) }

    /// Keys so far.
    var keyCount: Int { keys.count }

    // MARK: One event

    /// Moves the partial matches of key `k` over its next event (in the key's
    /// event-time order), stored in `slot` of ``buffer`` (-1: not stored, when no step can
    /// take it), at `time`, whose arrival conditions are `known` and hold in `mask`.
    /// Starts new partial matches at it, applies the skip strategy to what completes,
    /// and leaves the matches to emit in ``completed``. The caller's hold on `slot` is
    /// its own (the runner takes its own holds).
    @inline(__always)
    func process(key k: Int, time: Int64, slot: Int32, mask: UInt64, known: UInt64) -> Outcome {
        keys[k].seq += 1
        // Nothing to advance and nothing to start: the event changes nothing. (Inlined
        // into the caller: most events of a selective pattern end here.)
        if idleSkip, mask & startMask == 0, !keys[k].hasPartialMatches { return .ignored }
        return advance(key: k, time: time, slot: slot, mask: mask, known: known)
    }

    /// ``process(key:time:slot:mask:known:)`` past the check for an event that changes nothing.
    func advance(key k: Int, time: Int64, slot: Int32, mask: UInt64, known: UInt64) -> Outcome {
        let seq = keys[k].seq
        current = CurrentEvent(seq: seq, time: time, slot: slot, mask: mask, known: known)
        if slot >= 0 { buffer.setSeq(slot, seq) }
        copiedCurrent = false
        if !activation.bindings.isEmpty { activation.bindings = [:] }
        if conditionCache.count > 64 { for i in 64..<conditionCache.count { conditionCache[i] = -1 } }

        // The key's partial matches are read where they are (the key's line, then its
        // list in the pool), not moved out first: until the new ones replace them they
        // stay as they were, so a rejected event has nothing to put back.
        var oldCount = 0
        if keys[k].hasPartialMatches {
            advanceOld(keys[k].first)
            oldCount = 1
            var i = keys[k].first.link
            while i >= 0 {
                advanceOld(pool[Int(i)])
                oldCount += 1
                i = pool[Int(i)].link
            }
        }
        // A new partial match, unless the event certainly cannot start one.
        if startSkipBit == 0 || current.known & startSkipBit == 0 || current.mask & startSkipBit != 0 {
            let start = PartialMatch(
                step: 0, count: 0, lastStep: -1, node: -1, canProceed: true, startTime: time,
                startSeq: seq, lastSeq: seq - 1)
            advance(start, isStart: true)
        }

        // Over a limit: keep the state as it was and say so, never drop silently.
        if next.count > limits.partialMatchesPerKey {
            rollBack()
            return .overKeyLimit
        }
        // The step-wide budgets, checked exactly (after the skip strategy) only when the
        // event could break one, while the key's old partial matches are still held.
        // Only for events a step can take (stored, so they can be rejected): an event no
        // step takes adds partial matches only where an optional step is skipped.
        var threshold = Int64.min
        var selected = false
        let overMatches =
            slot >= 0 && next.count > oldCount && livePartialMatches + next.count - oldCount > limits.partialMatches
        let overEvents = slot >= 0 && buffer.heldEvents >= limits.bufferedEvents
        if overMatches || overEvents {
            if !completed.isEmpty {
                threshold = skip.select(&completed)
                selected = true
            }
            if overMatches, livePartialMatches + kept(above: threshold) - oldCount > limits.partialMatches {
                rollBack()
                return .overPartialMatchBudget
            }
            if overEvents, holds(slot, above: threshold) {
                rollBack()
                return .overEventBudget
            }
        }
        if oldCount > 0 {
            buffer.release(keys[k].first.node)
            var i = keys[k].first.link
            while i >= 0 {
                buffer.release(pool[Int(i)].node)
                i = pool[Int(i)].link
            }
        }

        if !completed.isEmpty {
            if !selected { threshold = skip.select(&completed) }
            if threshold > Int64.min { skip.prune(&next, upTo: threshold) }
        }
        livePartialMatches += next.count - oldCount
        replacePartialMatches(k, with: &next)
        next.removeAll()
        return .advanced
    }

    /// Makes `list` key `k`'s partial matches in place of the ones it has: the first on
    /// the key's line, the others in the pool entries the key had (in their order), then
    /// in free or new ones; entries left over are freed. `list` is only read (`inout`: a
    /// column cannot be copied).
    @inline(__always)
    func replacePartialMatches(_ k: Int, with list: inout RawColumn<PartialMatch>) {
        // The key's pool entries, reused first.
        var reusable: Int32 = keys[k].hasPartialMatches ? keys[k].first.link : -1
        if list.isEmpty {
            keys[k].first.step = -1
        } else {
            keys[k].first = list[0]
            var previous: Int32 = -1
            var i = 1
            while i < list.count {
                let e: Int32
                if reusable >= 0 {
                    e = reusable
                    reusable = pool[Int(e)].link
                    pool[Int(e)] = list[i]
                } else if freePoolEntries.count > 0 {
                    e = freePoolEntries.removeLast()
                    pool[Int(e)] = list[i]
                } else {
                    e = Int32(pool.append(list[i]))
                }
                if previous < 0 { keys[k].first.link = e } else { pool[Int(previous)].link = e }
                previous = e
                i += 1
            }
            if previous < 0 { keys[k].first.link = -1 } else { pool[Int(previous)].link = -1 }
        }
        while reusable >= 0 {
            freePoolEntries.append(reusable)
            reusable = pool[Int(reusable)].link
        }
    }

    /// How many of the new partial matches the skip strategy keeps (those that started
    /// after `threshold`).
    func kept(above threshold: Int64) -> Int {
        var n = 0
        for i in 0..<next.count where next[i].startSeq > threshold { n += 1 }
        return n
    }

    /// Whether a new partial match that the skip strategy keeps holds the event in `slot`.
    func holds(_ slot: Int32, above threshold: Int64) -> Bool {
        for i in 0..<next.count {
            let c = next[i]
            if c.startSeq > threshold, c.node >= 0, buffer.slot(ofNode: c.node) == slot { return true }
        }
        return false
    }

    /// Undoes ``process(key:time:slot:mask:known:)`` before it changed the key's state:
    /// lets go of what the event made (the key's partial matches are where they were).
    func rollBack() {
        for i in 0..<next.count { buffer.release(next[i].node) }
        for i in 0..<completed.count { buffer.release(completed[i].node) }
        next.removeAll()
        completed.removeAll()
    }

    /// Lets go of ``completed`` once the caller has emitted them.
    @inline(__always)
    func releaseCompleted() {
        var i = 0
        while i < completed.count {
            buffer.release(completed[i].node)
            i += 1
        }
        completed.removeAll()
    }

    /// Lets go of ``timedOut`` once the caller has written them.
    func releaseTimedOut() {
        for t in timedOut { buffer.release(t.node) }
        timedOut.removeAll(keepingCapacity: true)
    }

    /// Moves key `k`'s partial matches, oldest first, out of the pool into `list` (empty).
    @inline(__always)
    func loadPartialMatches(_ k: Int, into list: inout RawColumn<PartialMatch>) {
        guard keys[k].hasPartialMatches else { return }
        list.append(keys[k].first)
        var i = keys[k].first.link
        keys[k].first.step = -1
        while i >= 0 {
            let c = pool[Int(i)]
            list.append(c)
            freePoolEntries.append(i)
            i = c.link
        }
    }

    /// Makes `list` key `k`'s partial matches (it has none in the pool). `list` is
    /// only read (`inout`: a column cannot be copied).
    @inline(__always)
    func storePartialMatches(_ k: Int, _ list: inout RawColumn<PartialMatch>) {
        guard !list.isEmpty else {
            keys[k].first.step = -1
            return
        }
        var link: Int32 = -1
        var i = list.count - 1
        while i >= 1 {
            var c = list[i]
            c.link = link
            if freePoolEntries.count > 0 {
                link = freePoolEntries.removeLast()
                pool[Int(link)] = c
            } else {
                link = Int32(pool.append(c))
            }
            i -= 1
        }
        keys[k].first = list[0]
        keys[k].first.link = link
    }

    /// ``advance(_:isStart:)`` of a partial match the key had, with the usual case
    /// inline: a partial match that ignored the last event (so it may not move on)
    /// ignores this one too when its state's condition is known not to hold (from the
    /// arrival bits) and the state does not require the very next event, and stays as
    /// it is (what ``advance(_:isStart:)`` does then, with a call and the whole loop).
    @inline(__always)
    func advanceOld(_ c: PartialMatch) {
        if !c.canProceed, Int(c.step) < stateCount, c.count != 0 || !hasNots {
            let st = states[Int(c.step)]
            let bit = st.conditionBit
            if Int(c.count) < st.max, current.known & bit != 0, current.mask & bit == 0,
                (c.count == 0 ? st.contiguity : st.innerContiguity) != .strict
            {
                buffer.retain(c.node)
                next.append(c)
                return
            }
        }
        advance(c, isStart: false)
    }

    /// Moves one partial match over the current event, appending its successors to `next`
    /// and complete matches to `completed`.
    func advance(_ c: PartialMatch, isStart: Bool) {
        let immediate = current.seq == c.lastSeq + 1
        var j = Int(c.step)
        if j == stateCount {
            // Only trailing `not`s are pending.
            if hasNots, notsKill(c, upTo: stateCount, immediate: immediate) { return }
            buffer.retain(c.node)
            if nfa.trailingAllStrict {
                completed.append(
                    CompletedMatch(node: c.node, startSeq: c.startSeq, lastSeq: c.lastSeq, time: current.time))
            } else {
                next.append(c)
            }
            return
        }
        var kj = Int(c.count)
        var first = true
        while true {
            if kj == 0, hasNots, notsKill(c, upTo: j, immediate: immediate) { return }
            let st = states[j]
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
            if j == stateCount { return }
        }
    }

    /// `c` takes the current event in state `j`, where it had taken `kj` events.
    func take(_ c: PartialMatch, step j: Int, count kj: Int, isStart: Bool) {
        // Unreachable: an event is stored whenever a step's condition holds for it, and a
        // step takes only events its condition holds for (see `PatternStep.process(at:into:)`).
        guard current.slot >= 0 else { return }
        let node = buffer.addNode(slot: current.slot, step: j, prev: c.node)
        let st = states[j]
        let newCount = kj + 1
        let startTime = isStart ? current.time : c.startTime
        let startSeq = isStart ? current.seq : c.startSeq
        if newCount >= st.min, st.restOptional {
            buffer.retain(node)
            if nfa.hasTrailingNots {
                next.append(
                    PartialMatch(
                        step: Int32(stateCount), count: 0, lastStep: Int32(j), node: node, canProceed: false,
                        startTime: startTime, startSeq: startSeq, lastSeq: current.seq))
            } else {
                completed.append(
                    CompletedMatch(node: node, startSeq: startSeq, lastSeq: current.seq, time: current.time))
            }
        }
        if !(j == stateCount - 1 && newCount >= st.max) {
            buffer.retain(node)
            next.append(
                PartialMatch(
                    step: Int32(j), count: Int32(newCount), lastStep: Int32(j), node: node, canProceed: true,
                    startTime: startTime, startSeq: startSeq, lastSeq: current.seq))
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

    // MARK: Conditions

    /// Evaluates `expr` on the current event: lent in place where it is in the shared
    /// buffer, for this evaluation only, when it can be; else on a copy bound once per
    /// event (a null event if it was not stored, which does not happen: events are
    /// stored unless every condition is known).
    @inline(__always)
    func evaluateOnCurrent(_ expr: Expression) -> Bool {
        if !copiedCurrent {
            if current.slot >= 0,
                let r = activation.withEventInPlace(at: buffer.eventPointer(current.slot), { evaluate(expr) })
            {
                return r
            }
            copiedCurrent = true
            activation.event = current.slot >= 0 ? buffer.eventPointer(current.slot).pointee : Event(.null)
        }
        return evaluate(expr)
    }

    /// A condition on the current event: from its arrival bits, else evaluated and cached
    /// per event unless it reads captures.
    @inline(__always)
    func condition(_ i: Int, _ c: PartialMatch, target: Int) -> Bool {
        if i < 64 {
            let bit: UInt64 = 1 << UInt64(i)
            if current.known & bit != 0 { return current.mask & bit != 0 }
        }
        return conditionSlow(i, c, target: target)
    }

    func conditionSlow(_ i: Int, _ c: PartialMatch, target: Int) -> Bool {
        if !conditionIterative[i], i < 64 {
            let bit: UInt64 = 1 << UInt64(i)
            current.known |= bit
            guard let expr = conditionExpressions[i] else {
                current.mask |= bit
                return true
            }
            let r = evaluateOnCurrent(expr)
            if r { current.mask |= bit }
            return r
        }
        if !conditionIterative[i] {
            let v = conditionCache[i]
            if v >= 0 { return v == 1 }
            guard let expr = conditionExpressions[i] else {
                conditionCache[i] = 1
                return true
            }
            let r = evaluateOnCurrent(expr)
            conditionCache[i] = r ? 1 : 0
            return r
        }
        guard let expr = conditionExpressions[i] else { return true }
        activation.bindings = captures.bindings(c.node, through: target)
        let r = evaluateOnCurrent(expr)
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

    // MARK: Time

    /// When `c`'s window ends (`Int64.max`: never, without `within`).
    @inline(__always)
    func deadline(_ c: PartialMatch) -> Int64 {
        guard let w = nfa.within else { return Int64.max }
        let (d, o) = c.startTime.addingReportingOverflow(w)
        return o ? Int64.max : d
    }

    /// When key `k`'s oldest partial match expires, or nil when it has none.
    @inline(__always)
    func earliestDeadline(ofKey k: Int) -> Int64? {
        keys[k].hasPartialMatches ? deadline(keys[k].first) : nil
    }

    /// Expires the partial matches of key `k` whose window ends at or before `limit`
    /// (every one when `limit` is `Int64.max`). Those waiting only for trailing `not`s
    /// complete: ``completed`` holds them after the skip strategy. With
    /// `collectTimeouts`, ``timedOut`` holds the others that the skip strategy leaves
    /// (one per distinct path), timed out at their deadline, or at `lastTime` (the
    /// latest event time seen) without `within`.
    func expire(key k: Int, upTo limit: Int64, lastTime: Int64, collectTimeouts: Bool) {
        loadPartialMatches(k, into: &old)
        defer {
            storePartialMatches(k, &old)
            old.removeAll()
        }
        var cut = 0
        while cut < old.count, deadline(old[cut]) <= limit { cut += 1 }
        guard cut > 0 else { return }
        let timedOutAt = { (c: PartialMatch) -> Int64 in self.nfa.within != nil ? self.deadline(c) : lastTime }
        for i in 0..<cut where Int(old[i].step) == stateCount {
            let c = old[i]
            buffer.retain(c.node)
            completed.append(
                CompletedMatch(node: c.node, startSeq: c.startSeq, lastSeq: c.lastSeq, time: timedOutAt(c)))
        }
        var threshold = Int64.min
        if !completed.isEmpty { threshold = skip.select(&completed) }
        if collectTimeouts {
            seenNodes.removeAll(keepingCapacity: true)
            for i in 0..<cut where Int(old[i].step) != stateCount && old[i].startSeq > threshold {
                let c = old[i]
                guard seenNodes.insert(c.node).inserted else { continue }
                buffer.retain(c.node)
                timedOut.append(TimedOut(node: c.node, time: timedOutAt(c)))
            }
        }
        for i in 0..<cut { buffer.release(old[i].node) }
        old.removeFirst(cut)
        livePartialMatches -= cut
        if threshold > Int64.min {
            let before = old.count
            skip.prune(&old, upTo: threshold)
            livePartialMatches -= before - old.count
        }
    }

    // MARK: Prefetching (hints only, see `PatternStep.prefetchAhead()`)

    /// Far ahead: key `key`'s line and its event's slot.
    @inline(__always)
    func prefetchKey(_ key: Int32, slot: Int32) {
        sluice_prefetch(keys.base + Int(key))
        if slot >= 0 { buffer.prefetchSlot(slot) }
    }

    /// Then: the event's fields, the node of the key's oldest partial match and the key's
    /// next partial match in the pool. The node even when the event is not stored:
    /// ignoring it retains the node.
    @inline(__always)
    func prefetchMatches(ofKey key: Int32, slot: Int32) {
        if slot >= 0 { buffer.prefetchFields(ofSlot: slot) }
        let first = keys[Int(key)].first
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

    /// Then: the first partial match's node's slot and the second's node.
    @inline(__always)
    func prefetchNodes(ofKey key: Int32, slot: Int32) {
        let first = keys[Int(key)].first
        if first.step >= 0 {
            if slot >= 0 { buffer.prefetchSlot(ofNode: first.node) }
            if first.link >= 0 { buffer.prefetchNode(pool[Int(first.link)].node) }
        }
    }

    /// Last: the fields of the first partial match's last event (which a match the event
    /// completes captures).
    @inline(__always)
    func prefetchCaptures(ofKey key: Int32) {
        let first = keys[Int(key)].first
        if first.step >= 0 { buffer.prefetchFields(ofNode: first.node) }
    }
}
