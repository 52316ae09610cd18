import SluiceCore
import SluiceJSON

/// Checkpoints of a window step (docs/checkpoints.md, "What each step saves").
///
/// Format version 1. Shared: the watermark and the arrival counter. Keyed, one entry per
/// key with open or fired windows, under the key group of the key's ``JSONKeyHash``
/// (the key is the window's key value: the field's or expression's value, an array of
/// the values for a `key:` map, null for a global window):
///
///     key (JSON) · events counted (count windows) · window count ·
///     per window: start · length · creation number · fired · ever fired · events (count windows) ·
///                 per aggregate: the accumulator (and its extra state for the functions that have one)
///
/// The timer queue is not saved: it is rebuilt from the windows (one timer per window at
/// its due time, which fires as the lazily rescheduled timers would have). Windows keep
/// their creation numbers; merged from several parts they are numbered again in creation
/// order (by number, then part), so ties between windows that close together break as before.
extension WindowStateMachine {
    /// The window step's state format version.
    static let stateVersion = 1
    /// Counts read back must be below this (far beyond any real count), so that adding
    /// to them cannot overflow.
    static let maxCount = Int64.max / 4

    /// Appends every key's windows to `groups` and returns the shared state.
    func snapshot(into groups: inout GroupedStateWriter) -> StateWriter {
        let n = functions.count
        for k in keys.indices where !keys[k].windows.isEmpty {
            // The key's group by the routing hash (`JSONKeyHash`), which a restore at
            // another parallelism splits by; `keys[k].hash` is the key table's own.
            groups.entry(ofHash: JSONKeyHash.hash(keys[k].key)) { w in
                w.write(keys[k].key)
                w.write(keys[k].count)
                w.write(UInt64(keys[k].windows.count))
                for s in keys[k].windows {
                    let i = Int(s)
                    w.write(slots[i].start)
                    w.write(slots[i].end &- slots[i].start)
                    w.write(slots[i].seq)
                    w.write(slots[i].state == .fired)
                    w.write(slots[i].everFired)
                    w.write(slots[i].count)
                    for a in 0..<n {
                        Self.write(functions[a], accumulators[i * n + a], extras[i * n + a], into: &w)
                    }
                }
            }
        }
        var shared = StateWriter()
        shared.write(watermark)
        shared.write(arrivals)
        return shared
    }

    /// Loads `parts` into this machine, which has nothing open: the keys of the groups
    /// `owns` accepts; the least watermark; the greatest arrival counter. A key found in
    /// several parts (possible only when the stream's key is not the window's) has its
    /// windows merged: equal bounds fold into one window, as a session merge folds them.
    mutating func restore(_ parts: [StepState], owns: (Int) -> Bool) throws(StateError) {
        var wm = Int64.max
        var arrived: UInt64 = 0
        for p in parts {
            var r = StateReader(p.shared)
            wm = Swift.min(wm, try r.readInt64())
            arrived = Swift.max(arrived, try r.readUInt())
            try r.finish()
        }
        if !parts.isEmpty { watermark = wm }
        arrivals = arrived
        let n = functions.count
        let isCount: Bool
        if case .count = kind { isCount = true } else { isCount = false }
        // Every restored window with its saved creation number and part, numbered again below.
        var order: [(seq: UInt64, part: Int, slot: Int32)] = []
        try StepStateRestore.forEachOwnedGroup(parts, owns: owns) { (part, r) throws(StateError) in
            let key = try r.readJSON()
            let count = try r.readInt64()
            let windows = try r.readCount(minBytes: 6)
            guard windows > 0, (0..<Self.maxCount).contains(count) else {
                throw StateError("window: checkpoint state has a malformed key entry")
            }
            let (hash, print) = KeyTable.hashAndPrint(key)
            let k = findKey(key, hash: hash, print: print) ?? makeKey(key, hash: hash, print: print).key
            keys[Int(k)].count = Swift.min(keys[Int(k)].count &+ count, Self.maxCount)
            for _ in 0..<windows {
                let start = try r.readInt64()
                let end = start &+ (try r.readInt64())
                let seq = try r.readUInt()
                let fired = try r.readBool()
                let everFired = try r.readBool()
                let events = try r.readInt64()
                // Bounds that later arithmetic relies on (`end - 1`, counts that go up by one).
                guard isCount || start < end, (0..<Self.maxCount).contains(events) else {
                    throw StateError("window: checkpoint state has a malformed window")
                }
                if !isCount,
                    let same = keys[Int(k)].windows.first(where: {
                        slots[Int($0)].start == start && slots[Int($0)].end == end
                    })
                {
                    let t = Int(same)
                    for a in 0..<n {
                        let (acc, extra) = try Self.read(functions[a], from: &r)
                        Aggregates.merge(
                            functions[a], &accumulators[t * n + a], &extras[t * n + a], acc, extra,
                            scratch: &scratch.bytes)
                    }
                    slots[t].everFired = slots[t].everFired || everFired
                    if fired { slots[t].state = .fired }
                    continue
                }
                let s = makeSlot(key: k, start: start, end: end)
                let i = Int(s)
                slots[i].state = fired ? .fired : .open
                slots[i].everFired = everFired
                slots[i].count = events
                // Read straight into the window (on an error the whole machine is dropped).
                for a in 0..<n { (accumulators[i * n + a], extras[i * n + a]) = try Self.read(functions[a], from: &r) }
                order.append((seq, part, s))
            }
        }
        if parts.count <= 1 {
            // One copy's windows keep their numbers.
            var last: UInt64 = 0
            for o in order {
                slots[Int(o.slot)].seq = o.seq
                last = Swift.max(last, o.seq)
            }
            nextSeq = last
        } else {
            order.sort { ($0.seq, $0.part) < ($1.seq, $1.part) }
            for (j, o) in order.enumerated() { slots[Int(o.slot)].seq = UInt64(j + 1) }
            nextSeq = UInt64(order.count)
        }
        for o in order { schedule(o.slot) }
    }

    // MARK: Accumulators

    /// Bits of an accumulator's header above its three flags: which fields follow.
    enum Present {
        static let isum: UInt64 = 8
        static let dsum: UInt64 = 16
        static let m2: UInt64 = 32
        static let value: UInt64 = 64
        static let time: UInt64 = 128
        static let seq: UInt64 = 256
        static let all: UInt64 = 512
    }

    /// One aggregate's state in one window.
    /// A header says which fields are not zero (null for the value); only those follow,
    /// so that the usual accumulator (a count, a sum) takes a few bytes.
    static func write(_ f: AggregateFunction, _ a: Accumulator, _ x: AccumulatorExtra, into w: inout StateWriter) {
        var header = UInt64(a.flags)
        if a.isum != 0 { header |= Present.isum }
        if a.dsum.bitPattern != 0 { header |= Present.dsum }
        if f.usesExtra {
            if x.m2.bitPattern != 0 { header |= Present.m2 }
            if case .null = x.value {} else { header |= Present.value }
            if x.time != 0 { header |= Present.time }
            if x.seq != 0 { header |= Present.seq }
        }
        w.write(header)
        w.write(a.n)
        if header & Present.isum != 0 { w.write(a.isum) }
        if header & Present.dsum != 0 { w.write(a.dsum) }
        guard f.usesExtra else { return }
        if header & Present.m2 != 0 { w.write(x.m2) }
        if header & Present.value != 0 { w.write(x.value) }
        if header & Present.time != 0 { w.write(x.time) }
        if header & Present.seq != 0 { w.write(x.seq) }
        switch x.box {
        case nil:
            w.write(UInt64(0))
        case .items(let b)?:
            w.write(UInt64(1))
            w.write(UInt64(b.items.count))
            for item in b.items {
                w.write(item.time)
                w.write(item.seq)
                w.write(item.value)
            }
        case .quantiles(let b)?:
            w.write(UInt64(2))
            w.write(UInt64(b.exact.count))
            for v in b.exact { w.write(v) }
            if let sketch = b.sketch {
                w.write(true)
                sketch.write(into: &w)
            } else {
                w.write(false)
            }
        case .distinct(let b)?:
            w.write(UInt64(3))
            if let hll = b.hll {
                w.write(true)
                w.write(hll.precision)
                w.write(bytes: hll.registers)
            } else {
                w.write(false)
                w.write(UInt64(b.exact.count))
                for v in b.exact { w.write(v) }
            }
        }
    }

    /// Reads what ``write(_:_:_:into:)`` wrote for `f`.
    static func read(_ f: AggregateFunction, from r: inout StateReader) throws(StateError) -> (
        Accumulator, AccumulatorExtra
    ) {
        var a = Accumulator()
        let header = try r.readUInt()
        a.n = try r.readInt64()
        guard header < Present.all, f.usesExtra || header < Present.m2, (0..<maxCount).contains(a.n) else {
            throw StateError("window: checkpoint state has a malformed accumulator")
        }
        a.flags = UInt8(header & 7)
        if header & Present.isum != 0 { a.isum = try r.readInt64() }
        if header & Present.dsum != 0 { a.dsum = try r.readDouble() }
        var x = AccumulatorExtra()
        guard f.usesExtra else { return (a, x) }
        if header & Present.m2 != 0 { x.m2 = try r.readDouble() }
        if header & Present.value != 0 { x.value = try r.readJSON() }
        if header & Present.time != 0 { x.time = try r.readInt64() }
        if header & Present.seq != 0 { x.seq = try r.readUInt() }
        let tag = try r.readUInt()
        switch (tag, f) {
        case (0, _):
            guard !f.needsBox else { throw StateError("window: checkpoint state lacks an aggregate's values") }
        case (1, .collect):
            let b = ItemsBox()
            let count = try r.readCount(minBytes: 3)
            b.items.reserveCapacity(count)
            for _ in 0..<count { b.items.append((try r.readInt64(), try r.readUInt(), try r.readJSON())) }
            x.box = .items(b)
        case (2, .percentile):
            let b = QuantileBox()
            let count = try r.readCount(minBytes: 8)
            b.exact.reserveCapacity(count)
            for _ in 0..<count { b.exact.append(try r.readDouble()) }
            if try r.readBool() { b.sketch = try DDSketch.read(from: &r, alpha: Aggregates.percentileAlpha) }
            x.box = .quantiles(b)
        case (3, .countDistinct):
            let b = DistinctBox()
            if try r.readBool() {
                let precision = try r.readInt()
                var hll = HyperLogLog(precision: precision)
                let registers = try r.readBytes()
                guard hll.precision == precision, registers.count == hll.registers.count else {
                    throw StateError("window: checkpoint state has a malformed distinct counter")
                }
                hll.registers = Array(registers)
                b.hll = hll
            } else {
                let count = try r.readCount(minBytes: 2)
                for _ in 0..<count { b.exact.insert(try r.readJSON()) }
            }
            x.box = .distinct(b)
        default:
            throw StateError("window: checkpoint state has an aggregate of another kind than the step's")
        }
        return (a, x)
    }
}

extension DDSketch {
    /// The sketch's counts (its accuracy is the step's, not saved).
    func write(into w: inout StateWriter) {
        w.write(count)
        w.write(zeros)
        for store in [positive, negative] {
            w.write(store.offset)
            w.write(UInt64(store.counts.count))
            for c in store.counts { w.write(c) }
        }
    }

    /// A sketch with accuracy `alpha` holding the counts ``write(into:)`` wrote.
    static func read(from r: inout StateReader, alpha: Double) throws(StateError) -> DDSketch {
        var s = DDSketch(alpha: alpha)
        s.count = try r.readInt64()
        s.zeros = try r.readInt64()
        var stores: [BucketStore] = []
        for _ in 0..<2 {
            var b = BucketStore()
            b.offset = try r.readInt()
            let n = try r.readCount()
            // Real indexes are within a few ten thousands of zero (doubles span ±1100 powers of 10).
            guard n <= DDSketch.maxBuckets, abs(b.offset) <= 1 << 24 else {
                throw StateError("window: checkpoint state has a malformed percentile sketch")
            }
            b.counts.reserveCapacity(n)
            for _ in 0..<n { b.counts.append(try r.readInt64()) }
            stores.append(b)
        }
        s.positive = stores[0]
        s.negative = stores[1]
        return s
    }
}

extension WindowStep: StatefulStep {
    /// The key as written: the field name or expression, a `key:` map as `{name: EXPR, ...}`;
    /// nil for a global window.
    package var stateKeySource: String? {
        func text(_ input: WindowInput) -> String {
            switch input {
            case .field(let f): f
            case .expression(let e): e.source
            }
        }
        switch config.key {
        case .global: return nil
        case .single(_, let input): return text(input)
        case .named(let parts): return "{" + parts.map { "\($0.name): \(text($0.input))" }.joined(separator: ", ") + "}"
        }
    }

    package func snapshotState() throws(StateError) -> StepState {
        var groups = GroupedStateWriter()
        let shared = machine.snapshot(into: &groups)
        return groups.state(version: WindowStateMachine.stateVersion, shared: shared)
    }

    package func restoreState(_ parts: [StepState], owns: (Int) -> Bool) throws(StateError) {
        try StepStateRestore.check(parts, version: WindowStateMachine.stateVersion, kind: "window")
        var fresh = WindowStateMachine(
            kind: config.kind, functions: config.aggregates.map(\.function), inputs: config.aggregates.map(\.input),
            allowedLateness: config.allowedLateness, maxOpenWindows: config.maxOpenWindows)
        fresh.resultPrefix = machine.resultPrefix
        fresh.resultPrefixHoldsKeyAndBounds = machine.resultPrefixHoldsKeyAndBounds
        try fresh.restore(parts, owns: owns)
        machine = fresh
    }
}
