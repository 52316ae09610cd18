import SluiceCEL
import SluiceCore
import SluiceJSON

/// `dedupe: {key: EXPR, within: DURATION, max_keys: N}`: drops repeats of a key inside a
/// period of event time.
///
/// The period is measured from the first *kept* occurrence of a key, as in Flink's and
/// Benthos's deduplication: an event whose key was kept at time `t0` is a repeat when
/// `|event.time - t0| < within`, and is dropped; otherwise it is kept and starts a new
/// period. (The absolute value matters only for out-of-order input: an event that
/// arrives after a kept one but is earlier in event time by less than `within` is a
/// repeat too.) Repeats never extend the period.
///
/// State is evicted by the watermark: a kept occurrence with `t0 + within <= watermark`
/// can match no event that is not late, so it is removed. An ``EventTimeQueue`` of expiry
/// times makes eviction O(log n) per entry (O(1) for in-order input). Late events
/// (`time < watermark`) go to `STREAM.late`, since they could repeat an evicted key. `key` is a field name or any
/// CEL expression; an evaluation error rejects the event.
///
/// With `max_keys: N`, an event with a new key while N keys are held first evicts the key
/// held longest (the one whose period ends first, which the watermark would evict next),
/// as a bounded cache does; a repeat of an evicted key is kept again. Evictions are
/// counted (``evictedCount``, `--stats`). Without `max_keys` the number of keys held is
/// bounded only by how many distinct keys arrive within `within`; `sluice check` warns.
@usableFromInline package final class DedupeStep: InPlaceStep {
    /// Times of the kept occurrences of one key still held (almost always one).
    struct Entry {
        var first: Int64
        var more: [Int64] = []
    }

    /// When a kept occurrence (of `key`, at `kept`) expires; equal expiries in the order
    /// kept (`seq`), so `max_keys` evicts the key kept first.
    struct Expiry: EventTimeOrdered {
        var time: Int64
        var seq: UInt64
        var kept: Int64
        var key: JSON

        @inline(__always)
        func before(_ o: Expiry) -> Bool { time < o.time || (time == o.time && seq < o.seq) }
    }

    let key: Expression
    let within: Int64
    let maxKeys: Int?
    let latePort: Int
    let name: String
    let activation: EventActivation
    var seen: [JSON: Entry] = [:]
    var expiries = EventTimeQueue<Expiry>()
    var nextSeq: UInt64 = 0

    /// Repeats dropped so far.
    @usableFromInline package internal(set) var droppedCount = 0
    /// Keys evicted early (before their period ended) to stay within `max_keys`.
    @usableFromInline package internal(set) var evictedCount = 0

    /// A deduplicator; `within` in milliseconds (more than zero).
    @usableFromInline package init(
        key: Expression, within: Int64, maxKeys: Int?, latePort: Int, compiler: ExpressionCompiler, name: String
    ) {
        self.key = key
        self.within = Swift.max(1, within)
        self.maxKeys = maxKeys
        self.latePort = latePort
        self.name = name
        activation = compiler.activation()
    }

    /// Kept occurrences held (each one key and time), bounded by the watermark.
    @usableFromInline package var stateSize: Int { expiries.count }

    /// Keys held.
    @usableFromInline package var keyCount: Int { seen.count }

    /// Repeats dropped and keys evicted by `max_keys`, for `--stats`.
    @usableFromInline package var counters: [(name: String, value: Int)] {
        maxKeys == nil ? [("dropped", droppedCount)] : [("dropped", droppedCount), ("evicted", evictedCount)]
    }

    /// Keeps the first occurrence of a key in its period, drops repeats, sends late events to `late`.
    @usableFromInline package func process(_ event: Event, into out: inout StepOutput) {
        if event.time < out.watermark {
            out.side(latePort, event)
            return
        }
        evict(upTo: out.watermark)
        activation.event = event
        let k: JSON
        do {
            k = try key.evaluateJSON(activation)
        } catch {
            out.reject(event, step: name, message: "key: \(error.message)")
            return
        }
        let t = event.time
        if var entry = seen[k] {
            if isRepeat(t, entry.first) || entry.more.contains(where: { isRepeat(t, $0) }) {
                droppedCount += 1
                return
            }
            entry.more.append(t)
            seen[k] = entry
        } else {
            if let maxKeys {
                while seen.count >= maxKeys, let top = expiries.popMin() {
                    if remove(top) { evictedCount += 1 }
                }
            }
            seen[k] = Entry(first: t)
        }
        expiries.push(Expiry(time: t.addingSaturating(within), seq: nextSeq, kept: t, key: k))
        nextSeq &+= 1
        out.emit(event)
    }

    /// Evicts the kept occurrences the watermark has passed.
    @usableFromInline package func advance(watermark: Int64, into out: inout StepOutput) {
        evict(upTo: watermark)
    }

    @inline(__always)
    func isRepeat(_ t: Int64, _ t0: Int64) -> Bool {
        let d = t >= t0 ? t.subtractingSaturating(t0) : t0.subtractingSaturating(t)
        return d < within
    }

    /// Removes every kept occurrence with `t0 + within <= watermark`.
    func evict(upTo watermark: Int64) {
        while let top = expiries.popMin(upTo: watermark) {
            remove(top)
        }
    }

    /// Forgets the kept occurrence `entry` (just popped from `expiries`); true when its key
    /// held no other and is gone.
    @discardableResult
    func remove(_ entry: Expiry) -> Bool {
        guard var held = seen[entry.key] else { return false }
        if held.more.isEmpty {
            seen[entry.key] = nil
            return true
        }
        // Several occurrences held: remove this one.
        if held.first == entry.kept {
            held.first = held.more.removeFirst()
        } else if let i = held.more.firstIndex(of: entry.kept) {
            held.more.remove(at: i)
        }
        seen[entry.key] = held
        return false
    }

    static let definition = StepDefinition(
        kind: "dedupe",
        summary: "Drop repeats of a key within a period of event time.",
        keys: ["key", "within", "max_keys"],
        compile: { ctx in
            guard let m = ctx.map() else { return nil }
            let c = ctx.context
            var ok = true
            var compiled: Expression?
            if let e = m.expression("key", required: true) {
                compiled = ctx.expressions.compile(e, context: c)
                if compiled == nil { ok = false }
            } else {
                ok = false
            }
            let within = m.duration("within", required: true, allowZero: false)
            if within == nil { ok = false }
            let maxKeys = m.int("max_keys", range: 1...Int.max)
            if m.node("max_keys") != nil, maxKeys == nil { ok = false }
            m.finish()
            guard ok, let compiled, let within else { return nil }
            let ms = within.milliseconds
            if ms < 1 {
                c.error(m.node("within")?.location, "'within' in 'dedupe' must be at least 1ms, found \(within)")
                return nil
            }
            if maxKeys == nil {
                c.warning(
                    ctx.config.location,
                    "'\(ctx.stepName)' holds every distinct key seen within \(within), with no limit on how many (its memory grows with the number of distinct keys)",
                    hint: "add 'max_keys: N' to keep at most N keys (the oldest is evicted first)")
            }
            let latePort = ctx.sidePort(named: "late")
            let compiler = ctx.expressions
            let name = ctx.stepName
            return {
                DedupeStep(
                    key: compiled, within: ms, maxKeys: maxKeys, latePort: latePort, compiler: compiler, name: name)
            }
        }
    )
}

extension Int64 {
    fileprivate func addingSaturating(_ other: Int64) -> Int64 {
        let (r, o) = addingReportingOverflow(other)
        return o ? (other > 0 ? .max : .min) : r
    }

    fileprivate func subtractingSaturating(_ other: Int64) -> Int64 {
        let (r, o) = subtractingReportingOverflow(other)
        return o ? (other < 0 ? .max : .min) : r
    }
}
