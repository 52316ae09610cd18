import SluiceCore
import SluiceJSON

/// The event-time logic of the `window` step, with no threads and no I/O: events come in
/// through ``add(time:key:values:into:)``, watermarks through ``advance(to:into:)``, and
/// both return the windows they close as ``WindowResult``s. Modelled on the state
/// machines of swift-async-algorithms, so every transition can be tested directly.
///
/// State per window lives in flat arrays (`slots`, and `accumulators` with one stride of
/// aggregates per slot) recycled through free lists, so the steady state allocates
/// nothing per event. An ``EventTimeQueue`` of timers (fire at `end - 1`, purge at
/// `end - 1 + allowedLateness`) makes a watermark that closes nothing cost O(1).
///
/// A window's life: **open** (collecting) → fires when the watermark reaches `end - 1` →
/// **fired** (kept while `allowedLateness` lasts; a late event updates it and re-fires it
/// at once with `update`) → purged. Session windows can go back from fired to open when a
/// late event merges them with a later session.
@usableFromInline package struct WindowStateMachine {
    /// What ``add(time:key:values:into:)`` did with an event.
    @usableFromInline package enum Outcome: Equatable, Sendable {
        /// The event was added to at least one window.
        case counted
        /// Every window the event belongs to is already purged: send it to `late`.
        case late
        /// Adding the event would open more than `maxOpenWindows` windows; nothing was counted.
        case full
        /// The event time is out of range (window bounds would overflow); nothing was counted.
        case outOfRange
    }

    enum SlotState: UInt8 {
        case free, open, fired
    }

    struct Slot {
        var key: Int32 = 0
        var start: Int64 = 0
        var end: Int64 = 0
        /// Creation order: breaks ties between windows with equal bounds ("key in first-seen order").
        var seq: UInt64 = 0
        var version: UInt32 = 0
        var state = SlotState.free
        var everFired = false
        /// Time of this slot's live heap entry, or ``noTimer``.
        var timer = WindowStateMachine.noTimer
        /// Count windows: events so far.
        var count: Int64 = 0
    }

    struct KeyState {
        var key: JSON = .null
        /// ``KeyTable/hashAndPrint(_:)``'s hash of `key`.
        var hash: UInt64 = 0
        /// The key's windows that are open or fired (not purged).
        var windows: [Int32] = []
        /// Count windows: events of this key so far.
        var count: Int64 = 0
        /// No windows, but kept in the key table for a while (see ``idleKeys``).
        var idle = false
    }

    /// A timer. Timers pop by time, then by the window's creation order, so the
    /// windows one watermark closes come out in emission order for tumbling and hopping
    /// windows (equal ends mean equal starts) and need no sort.
    struct Timer: EventTimeOrdered {
        var time: Int64
        var seq: UInt64
        var slot: Int32
        var version: UInt32

        @inline(__always)
        func before(_ other: Timer) -> Bool {
            time < other.time || (time == other.time && seq < other.seq)
        }
    }

    static let noTimer = Int64.min

    /// How windows are assigned.
    @usableFromInline package let kind: WindowKind
    /// The aggregate functions, in output order.
    @usableFromInline package let functions: [AggregateFunction]
    /// For each aggregate, the index of its value in the `values` passed to `add`, or -1 (`count()`).
    @usableFromInline package let inputs: [Int]
    /// How long (ms) a fired window accepts late events.
    @usableFromInline package let allowedLateness: Int64
    /// The most windows open (or kept for lateness) at once.
    @usableFromInline package let maxOpenWindows: Int

    /// The last watermark seen.
    @usableFromInline package internal(set) var watermark = Int64.min
    /// Windows open or kept for lateness.
    @usableFromInline package internal(set) var openWindows = 0

    /// Key → its index in `keys`.
    var keyIndex = KeyTable()
    var keys: [KeyState] = []
    var freeKeys: [Int32] = []
    var slots: [Slot] = []
    /// One ``Accumulator`` per aggregate per slot (slot `i`'s at `i * n ..< (i + 1) * n`),
    /// and parallel to it the ``AccumulatorExtra``s, which only some functions touch.
    var accumulators: [Accumulator] = []
    var extras: [AccumulatorExtra] = []
    /// How ``apply(slot:values:time:seq:)`` treats each aggregate, in memory this struct
    /// does not own as an array (see ``AggregatePlan``).
    let plan: AggregatePlan
    /// `plan.steps`, kept here so the per-event loop reads a pointer, not the class.
    let planSteps: UnsafePointer<AggregatePlan.Step>
    var freeSlots: [Int32] = []
    /// Timers (those of in-order events are pushed in order, and push and pop in O(1)).
    var timers = EventTimeQueue<Timer>()
    /// The time of `timers`' first timer (`Int64.max`: none), so that a watermark that
    /// closes nothing is told apart without looking into the queue.
    var earliestTimer = Int64.max
    var nextSeq: UInt64 = 0
    var arrivals: UInt64 = 0
    /// Tumbling windows: the bounds of the last event's window (empty until one comes).
    var tumblingStart: Int64 = 1
    var tumblingEnd: Int64 = 0
    /// A reusable buffer for ``StableHash`` (in a box, so that aggregates can use it while
    /// the accumulators are borrowed).
    let scratch = ScratchBytes()
    var starts: [Int64] = []
    var touched: [(slot: Int32, update: Bool)] = []
    /// Tumbling windows: keys whose last window closed are kept (key, index, bucket) until
    /// the next watermark that closes windows, so that a key with events in every window
    /// (the usual case) is not removed and made again each time. These are the keys made
    /// idle since that last happened; ``evictIdleKeys()`` removes those still idle.
    var idleKeys: [Int32] = []
    var idleCount = 0
    let keepsIdleKeys: Bool
    /// Nulls put before the aggregates in every ``WindowResult/values``: a window step
    /// sets this to the number of fields (the key's, the bounds) it writes there.
    @usableFromInline package var resultPrefix = 0
    /// When set (with a ``resultPrefix`` of 3), the prefix is written here: the key,
    /// then `start` and `end` (null for ``Event/noTime``), as a window step with a
    /// single key puts them first.
    @usableFromInline package var resultPrefixHoldsKeyAndBounds = false

    /// True when some aggregate keeps its values in a box (made when a window opens).
    let needsBoxes: Bool
    /// True for count windows.
    let isCountKind: Bool
    /// True when some aggregate uses its ``AccumulatorExtra``.
    let usesExtras: Bool

    /// A state machine with nothing open.
    @usableFromInline package init(
        kind: WindowKind, functions: [AggregateFunction], inputs: [Int], allowedLateness: Int64, maxOpenWindows: Int
    ) {
        self.kind = kind
        if case .count = kind { isCountKind = true } else { isCountKind = false }
        if case .tumbling = kind { keepsIdleKeys = true } else { keepsIdleKeys = false }
        self.functions = functions
        needsBoxes = functions.contains { $0.needsBox }
        usesExtras = functions.contains { $0.usesExtra }
        plan = AggregatePlan(functions: functions, inputs: inputs)
        planSteps = UnsafePointer(plan.steps)
        self.inputs = inputs
        self.allowedLateness = allowedLateness
        self.maxOpenWindows = maxOpenWindows
    }

    /// Number of distinct keys with open windows.
    @usableFromInline package var openKeys: Int { keyIndex.count - idleCount }

    /// A key being added: its ``KeyTable/hashAndPrint(_:)`` hash and fingerprint, and the
    /// key where it is, or nil when the key is the short ASCII string that its exact
    /// fingerprint holds (read from an event's bytes: a value is made only when the key
    /// is stored, or compared with a stored key that has no exact fingerprint).
    struct KeyRef {
        var hash: UInt64
        var print: KeyTable.Fingerprint
        var value: UnsafePointer<JSON>?

        @inline(__always)
        init(hash: UInt64, print: KeyTable.Fingerprint, value: UnsafePointer<JSON>?) {
            self.hash = hash
            self.print = print
            self.value = value
        }

        /// The key at `key` (not copied), not hashed yet: the machine hashes it
        /// (``hashed()``) where it looks it up.
        @inline(__always)
        init(at key: UnsafePointer<JSON>) {
            hash = 0
            print = .unhashed
            value = key
        }

        /// This key with its hash and fingerprint.
        @inline(__always)
        func hashed() -> KeyRef {
            guard print == .unhashed, let value else { return self }
            let (hash, print) = KeyTable.hashAndPrint(value.pointee)
            return KeyRef(hash: hash, print: print, value: value)
        }

        /// The short ASCII string whose fingerprint is `print` (exact, from
        /// ``KeyTable/shortPrint(_:)``) and hash `hash`.
        @inline(__always)
        init(hash: UInt64, shortString print: KeyTable.Fingerprint) {
            self.hash = hash
            self.print = print
            value = nil
        }

        /// The key as a value.
        var json: JSON { value?.pointee ?? .string(print.shortString) }

        /// True when `stored` is this key.
        @inline(__always)
        func isKey(_ stored: JSON) -> Bool {
            if let value { return WindowStateMachine.same(stored, value.pointee) }
            return WindowStateMachine.same(stored, json)
        }
    }

    /// The key-table bucket of `key` (its ``KeyTable/hashAndPrint(_:)`` is `hash`, `print`), or nil.
    @inline(__always)
    func findBucket(_ key: JSON, hash: UInt64, print: KeyTable.Fingerprint) -> Int? {
        withUnsafePointer(to: key) { findBucket(KeyRef(hash: hash, print: print, value: $0)) }
    }

    /// ``findBucket(_:hash:print:)`` for the key `key` (not copied: the comparison
    /// closure captures it, and is called only when the fingerprints cannot decide).
    @inline(__always)
    func findBucket(_ key: KeyRef) -> Int? {
        keys.withUnsafeBufferPointer { keys in
            keyIndex.findBucket(hash: key.hash, print: key.print) { key.isKey(keys[Int($0)].key) }
        }
    }

    /// The index of `key` in `keys`, or nil.
    @inline(__always)
    func findKey(_ key: JSON, hash: UInt64, print: KeyTable.Fingerprint) -> Int32? {
        findBucket(key, hash: hash, print: print).map { keyIndex[bucket: $0].key }
    }

    /// ``findKey(_:hash:print:)`` for `key`.
    @inline(__always)
    func findKey(_ key: KeyRef) -> Int32? {
        findBucket(key).map { keyIndex[bucket: $0].key }
    }

    /// `a == b`, with strings and integers (the usual keys) compared without copying.
    @inline(__always)
    static func same(_ a: JSON, _ b: JSON) -> Bool {
        if case .string(let x) = a {
            if case .string(let y) = b { return x == y }
            return false
        }
        if case .int(let x) = a {
            if case .int(let y) = b { return x == y }
            return false
        }
        return a == b
    }

    // MARK: Events

    /// Adds an event at `time` (epoch ms) with key `key` and the aggregate inputs `values`
    /// (already type-checked). Windows that fire at once (late updates, count windows,
    /// windows behind the watermark within `allowedLateness`) are appended to `fired`.
    @usableFromInline package mutating func add(
        time: Int64, key: JSON, values: [JSON], into fired: inout [WindowResult]
    ) -> Outcome {
        var padded = values
        if let needed = inputs.max(), padded.count <= needed {
            padded += repeatElement(JSON.null, count: needed + 1 - padded.count)
        }
        return padded.withUnsafeBufferPointer { values in
            withUnsafeTemporaryAllocation(of: UnsafePointer<JSON>.self, capacity: max(1, values.count)) { pointers in
                for i in values.indices { pointers[i] = values.baseAddress.unsafelyUnwrapped + i }
                return withUnsafePointer(to: key) { key in
                    add(
                        time: time, key: KeyRef(at: key), inputs: UnsafePointer(pointers.baseAddress.unsafelyUnwrapped),
                        into: &fired)
                }
            }
        }
    }

    /// ``add(time:key:values:into:)`` with the key and the inputs where they are: `values`
    /// points to a pointer for every index in ``inputs`` (the window step's own table,
    /// reused for every event), so nothing is copied unless a new key is stored.
    @inline(__always)
    mutating func add(
        time: Int64, key: KeyRef, inputs values: UnsafePointer<UnsafePointer<JSON>>,
        into fired: inout [WindowResult]
    ) -> Outcome {
        // The tumbling window of the last event, when this one falls in it too (nearly
        // always): no division, and its bounds are known to be in range.
        if time >= tumblingStart, time < tumblingEnd {
            return addTumbling(
                time: time, start: tumblingStart, end: tumblingEnd, key: key, values: values, into: &fired)
        }
        switch kind {
        case .tumbling(let size, let offset):
            guard let s = Self.alignedStart(time, size, offset), s <= Int64.max - size else { return .outOfRange }
            tumblingStart = s
            tumblingEnd = s + size
            return addTumbling(time: time, start: s, end: s + size, key: key, values: values, into: &fired)
        case .hopping(let size, let every, let offset):
            guard time > Int64.min + size, let last = Self.alignedStart(time, every, offset), last <= Int64.max - size
            else { return .outOfRange }
            starts.removeAll(keepingCapacity: true)
            var s = last
            // Windows [s, s+size) with s <= time < s+size, latest first.
            while s > time - size {
                starts.append(s)
                let (n, o) = s.subtractingReportingOverflow(every)
                if o { break }
                s = n
            }
            starts.reverse()
            return addTimed(time: time, size: size, key: key, values: values, into: &fired)
        case .session(let gap):
            return addSession(time: time, gap: gap, key: key, values: values, into: &fired)
        case .count(let size, let every):
            return addCount(time: time, size: size, every: every, key: key, values: values, into: &fired)
        }
    }

    /// The start of the window of length `size` (aligned to `offset`) holding `time`.
    static func alignedStart(_ time: Int64, _ size: Int64, _ offset: Int64) -> Int64? {
        let (d, o) = time.subtractingReportingOverflow(offset)
        if o { return nil }
        var r = d % size
        if r < 0 { r += size }
        let (s, o2) = time.subtractingReportingOverflow(r)
        return o2 ? nil : s
    }

    /// True when window `[_, end)` is purged at the current watermark: `end - 1 + lateness <= watermark`.
    @inline(__always)
    func isPurged(end: Int64) -> Bool {
        Self.addSaturating(end - 1, allowedLateness) <= watermark
    }

    @inline(__always)
    static func addSaturating(_ a: Int64, _ b: Int64) -> Int64 {
        let (s, o) = a.addingReportingOverflow(b)
        return o ? (b > 0 ? Int64.max : Int64.min) : s
    }

    /// The hot path: one window per event, usually the key's most recent one.
    mutating func addTumbling(
        time: Int64, start: Int64, end: Int64, key: KeyRef, values: UnsafePointer<UnsafePointer<JSON>>,
        into fired: inout [WindowResult]
    ) -> Outcome {
        let key = key.hashed()
        if isPurged(end: end) { return .late }
        // The key's bucket remembers the window its last event went to, so an in-order
        // event of a known key reads its bucket and its accumulators, nothing else.
        var k: Int32 = -1
        var slot: Int32 = -1
        let found = findBucket(key)
        if let b = found {
            let bucket = keyIndex[bucket: b]
            k = bucket.key
            if bucket.lastSlot >= 0, bucket.lastStart == start {
                slot = bucket.lastSlot
            } else {
                for w in keys[Int(k)].windows where slots[Int(w)].start == start {
                    slot = w
                    break
                }
                if slot >= 0 {
                    keyIndex[bucket: b].lastSlot = slot
                    keyIndex[bucket: b].lastStart = start
                }
            }
        }
        if slot < 0 {
            if openWindows >= maxOpenWindows { return .full }
            var b: Int
            if let found {
                b = found
            } else {
                (k, b) = makeKey(key.json, hash: key.hash, print: key.print)
            }
            slot = makeSlot(key: k, start: start, end: end)
            schedule(slot)
            keyIndex[bucket: b].lastSlot = slot
            keyIndex[bucket: b].lastStart = start
        }
        arrivals &+= 1
        apply(slot: slot, values: values, time: time, seq: arrivals)
        let i = Int(slot)
        if end - 1 <= watermark {
            // Behind the watermark but within the allowed lateness: fire now.
            touched.removeAll(keepingCapacity: true)
            touched.append((slot, slots[i].everFired))
            slots[i].state = .fired
            slots[i].everFired = true
            schedule(slot)
            emitTouched(into: &fired)
        }
        return .counted
    }

    mutating func addTimed(
        time: Int64, size: Int64, key: KeyRef, values: UnsafePointer<UnsafePointer<JSON>>,
        into fired: inout [WindowResult]
    ) -> Outcome {
        let key = key.hashed()
        // Drop the windows that are already gone.
        let (wm, lateness) = (watermark, allowedLateness)
        starts.removeAll { Self.addSaturating($0 + size - 1, lateness) <= wm }
        if starts.isEmpty { return .late }
        let existing = findKey(key)
        var needed = 0
        if let k = existing {
            let ws = keys[Int(k)].windows
            for s in starts where !ws.contains(where: { slots[Int($0)].start == s }) { needed += 1 }
        } else {
            needed = starts.count
        }
        if needed > 0, openWindows + needed > maxOpenWindows { return .full }
        arrivals &+= 1
        let seq = arrivals
        let k = existing ?? makeKey(key.json, hash: key.hash, print: key.print).key
        touched.removeAll(keepingCapacity: true)
        for s in starts {
            var slot: Int32 = -1
            for w in keys[Int(k)].windows where slots[Int(w)].start == s {
                slot = w
                break
            }
            if slot < 0 {
                slot = makeSlot(key: k, start: s, end: s + size)
            }
            apply(slot: slot, values: values, time: time, seq: seq)
            let i = Int(slot)
            if slots[i].state == .fired || slots[i].end - 1 <= watermark {
                // Behind the watermark but within the allowed lateness: fire now.
                touched.append((slot, slots[i].everFired))
                slots[i].state = .fired
                slots[i].everFired = true
            }
            schedule(slot)
        }
        emitTouched(into: &fired)
        return .counted
    }

    mutating func addSession(
        time: Int64, gap: Int64, key: KeyRef, values: UnsafePointer<UnsafePointer<JSON>>,
        into fired: inout [WindowResult]
    ) -> Outcome {
        let key = key.hashed()
        guard time <= Int64.max - gap else { return .outOfRange }
        let end = time + gap
        let existing = findKey(key)
        var target: Int32 = -1
        if let k = existing {
            // Every session of the key that overlaps or touches [time, time+gap) merges into
            // the oldest, as in Flink (`TimeWindow.intersects`) and Kafka Streams: an event
            // exactly `gap` after a session's last one extends it.
            // Usually one session overlaps (the key's current one): found without
            // making an array.
            var overlaps = 0
            keys[Int(k)].windows.withUnsafeBufferPointer { ws in
                for w in ws {
                    let s = slots[Int(w)]
                    if s.start <= end && time <= s.end {
                        overlaps += 1
                        target = w
                    }
                }
            }
            if overlaps > 1 {
                var overlapping: [Int32] = []
                for w in keys[Int(k)].windows {
                    let s = slots[Int(w)]
                    if s.start <= end && time <= s.end { overlapping.append(w) }
                }
                overlapping.sort { slots[Int($0)].seq < slots[Int($1)].seq }
                target = overlapping[0]
                for other in overlapping.dropFirst() { mergeSlot(other, into: target) }
            }
        }
        if target < 0 {
            if isPurged(end: end) { return .late }
            if openWindows + 1 > maxOpenWindows { return .full }
            target = makeSlot(
                key: existing ?? makeKey(key.json, hash: key.hash, print: key.print).key, start: time, end: end)
        }
        arrivals &+= 1
        let t = Int(target)
        slots[t].start = min(slots[t].start, time)
        slots[t].end = max(slots[t].end, end)
        apply(slot: target, values: values, time: time, seq: arrivals)
        if slots[t].end - 1 <= watermark {
            touched.removeAll(keepingCapacity: true)
            touched.append((target, slots[t].everFired))
            slots[t].state = .fired
            slots[t].everFired = true
            schedule(target)
            emitTouched(into: &fired)
        } else {
            slots[t].state = .open
            schedule(target)
        }
        return .counted
    }

    /// Folds session `from` into `into` and frees `from`.
    mutating func mergeSlot(_ from: Int32, into: Int32) {
        let f = Int(from)
        let t = Int(into)
        let n = functions.count
        for a in 0..<n {
            let b = accumulators[f * n + a]
            let bx = extras[f * n + a]
            Aggregates.merge(functions[a], &accumulators[t * n + a], &extras[t * n + a], b, bx, scratch: &scratch.bytes)
        }
        slots[t].start = min(slots[t].start, slots[f].start)
        slots[t].end = max(slots[t].end, slots[f].end)
        slots[t].everFired = slots[t].everFired || slots[f].everFired
        freeSlot(from)
    }

    mutating func addCount(
        time: Int64, size: Int64, every: Int64, key: KeyRef, values: UnsafePointer<UnsafePointer<JSON>>,
        into fired: inout [WindowResult]
    ) -> Outcome {
        let key = key.hashed()
        let existing = findKey(key)
        let seen = existing.map { keys[Int($0)].count } ?? 0
        let opens = seen % every == 0
        if opens, openWindows + 1 > maxOpenWindows { return .full }
        arrivals &+= 1
        let k = existing ?? makeKey(key.json, hash: key.hash, print: key.print).key
        if opens { _ = makeSlot(key: k, start: time, end: time) }
        keys[Int(k)].count += 1
        touched.removeAll(keepingCapacity: true)
        var done: Int32 = -1
        for w in keys[Int(k)].windows {
            let i = Int(w)
            apply(slot: w, values: values, time: time, seq: arrivals)
            if time != Event.noTime {
                if slots[i].start == Event.noTime || time < slots[i].start { slots[i].start = time }
                if time > slots[i].end { slots[i].end = time }
            }
            slots[i].count += 1
            if slots[i].count == size {
                // Windows start `every` events apart, so at most one completes per event.
                touched.append((w, false))
                slots[i].state = .fired
                done = w
            }
        }
        emitTouched(into: &fired)
        if done >= 0 { freeSlot(done) }
        return .counted
    }

    // MARK: Watermarks

    /// Moves the watermark to `watermark` (ignored unless it rises) and appends the results
    /// of every window it closes to `fired`, ordered by window end, then start, then
    /// creation (the key's first event in that window). `Int64.max` closes everything,
    /// including partial count windows.
    /// Moves the watermark to `watermark` when that closes nothing (true); false when
    /// ``advance(to:into:)`` has work to do.
    @inline(__always)
    mutating func advanceClosingNothing(to watermark: Int64) -> Bool {
        if watermark <= self.watermark { return true }
        if isCountKind || earliestTimer <= watermark { return false }
        self.watermark = watermark
        return true
    }

    @usableFromInline package mutating func advance(to watermark: Int64, into fired: inout [WindowResult]) {
        guard watermark > self.watermark else { return }
        self.watermark = watermark
        let isCount = isCountKind
        // Nearly every watermark closes nothing.
        if !isCount, earliestTimer > watermark { return }
        touched.removeAll(keepingCapacity: true)
        var toFree: [Int32] = []
        if !idleKeys.isEmpty { evictIdleKeys() }
        if isCount {
            guard watermark == Int64.max else { return }
            for i in slots.indices where slots[i].state != .free {
                touched.append((Int32(i), false))
                toFree.append(Int32(i))
            }
        } else {
            while let top = timers.popMin(upTo: watermark) {
                let i = Int(top.slot)
                guard slots[i].version == top.version, slots[i].state != .free, slots[i].timer == top.time else {
                    continue
                }
                slots[i].timer = Self.noTimer
                let due = dueTime(i)
                if due > top.time {
                    schedule(top.slot)
                    continue
                }
                if slots[i].state == .open {
                    touched.append((top.slot, slots[i].everFired))
                    slots[i].state = .fired
                    slots[i].everFired = true
                    // Without allowed lateness a window goes as it fires.
                    if dueTime(i) <= watermark {
                        toFree.append(top.slot)
                    } else {
                        schedule(top.slot)
                    }
                } else {
                    toFree.append(top.slot)
                }
            }
            earliestTimer = timers.min?.time ?? Int64.max
        }
        emitTouched(into: &fired)
        for s in toFree { freeSlot(s) }
    }

    // MARK: Slots

    @inline(__always)
    func dueTime(_ i: Int) -> Int64 {
        slots[i].state == .open ? slots[i].end - 1 : Self.addSaturating(slots[i].end - 1, allowedLateness)
    }

    /// Makes sure the slot has a timer no later than its due time (later timers are
    /// rescheduled lazily when they pop).
    mutating func schedule(_ slot: Int32) {
        if case .count = kind { return }
        let i = Int(slot)
        let due = dueTime(i)
        if slots[i].timer == Self.noTimer || due < slots[i].timer {
            slots[i].timer = due
            timers.push(Timer(time: due, seq: slots[i].seq, slot: slot, version: slots[i].version))
            if due < earliestTimer { earliestTimer = due }
        }
    }

    /// Adds `key` (not present; ``KeyTable/hashAndPrint(_:)`` gave `hash` and `print`): its
    /// index and bucket.
    mutating func makeKey(_ key: JSON, hash: UInt64, print: KeyTable.Fingerprint) -> (key: Int32, bucket: Int) {
        let k: Int32
        if let f = freeKeys.popLast() {
            k = f
            keys[Int(k)].key = key
            keys[Int(k)].hash = hash
            keys[Int(k)].count = 0
        } else {
            k = Int32(keys.count)
            keys.append(KeyState(key: key, hash: hash))
        }
        let b = keyIndex.insert(hash: hash, print: print, k)
        return (k, b)
    }

    mutating func makeSlot(key: Int32, start: Int64, end: Int64) -> Int32 {
        let s: Int32
        if let f = freeSlots.popLast() {
            s = f
        } else {
            s = Int32(slots.count)
            slots.append(Slot())
            for _ in functions {
                accumulators.append(Accumulator())
                extras.append(AccumulatorExtra())
            }
        }
        let n = functions.count
        let i = Int(s)
        // Free slots hold fresh accumulators (see `freeSlot`); only boxes need making.
        if needsBoxes {
            for a in 0..<n where functions[a].needsBox { extras[i * n + a] = Aggregates.make(functions[a]) }
        }
        nextSeq &+= 1
        slots[i] = Slot(
            key: key, start: start, end: end, seq: nextSeq, version: slots[i].version, state: .open, everFired: false,
            timer: Self.noTimer, count: 0)
        keys[Int(key)].windows.append(s)
        if keys[Int(key)].idle {
            keys[Int(key)].idle = false
            idleCount -= 1
        }
        openWindows += 1
        return s
    }

    /// Releases a window; its key goes too when it has no windows left.
    mutating func freeSlot(_ slot: Int32) {
        let i = Int(slot)
        guard slots[i].state != .free else { return }
        slots[i].state = .free
        slots[i].version &+= 1
        slots[i].timer = Self.noTimer
        // The plan's count and ops, not `functions` (whose array a mutating method
        // retains and releases per read).
        let n = plan.count
        accumulators.withUnsafeMutableBufferPointer { acc in
            for a in 0..<n { acc[i * n + a] = Accumulator() }
        }
        if usesExtras {
            // Only `count()`, `count`, `sum` and `avg` leave their extra alone; resetting
            // one that is already fresh changes nothing.
            let steps = planSteps
            extras.withUnsafeMutableBufferPointer { ex in
                for a in 0..<n {
                    switch steps[a].op {
                    case .countAll, .count, .sum: continue
                    default: ex[i * n + a] = AccumulatorExtra()
                    }
                }
            }
        }
        let k = Int(slots[i].key)
        // Usually the key's only (or last) window.
        if keys[k].windows.last == slot {
            keys[k].windows.removeLast()
        } else if let w = keys[k].windows.firstIndex(of: slot) {
            keys[k].windows.remove(at: w)
        }
        if keys[k].windows.isEmpty && !keepsIdleKeys {
            removeKey(k)
        } else {
            keyIndex.forgetLast(hash: keys[k].hash, Int32(k), slot: slot)
            if keys[k].windows.isEmpty {
                keys[k].idle = true
                idleCount += 1
                idleKeys.append(Int32(k))
            }
        }
        freeSlots.append(slot)
        openWindows -= 1
    }

    /// Removes key `k`, which has no windows.
    mutating func removeKey(_ k: Int) {
        keyIndex.remove(hash: keys[k].hash, Int32(k))
        keys[k].key = .null
        keys[k].count = 0
        freeKeys.append(Int32(k))
    }

    /// Removes the keys in ``idleKeys`` that are still idle (no event since their last
    /// window closed).
    mutating func evictIdleKeys() {
        for k32 in idleKeys {
            let k = Int(k32)
            guard keys[k].idle else { continue }
            keys[k].idle = false
            idleCount -= 1
            removeKey(k)
        }
        idleKeys.removeAll(keepingCapacity: true)
    }

    /// Adds an event's inputs to the accumulators of `slot`. The common aggregates over
    /// numbers are done in place here; the rest (and any value those cannot take) in
    /// ``applyGeneral(slot:aggregates:values:time:seq:)``.
    @inline(__always)
    mutating func apply(slot: Int32, values: UnsafePointer<UnsafePointer<JSON>>, time: Int64, seq: UInt64) {
        let n = plan.count
        let base = Int(slot) * n
        let steps = planSteps
        var rest: UInt64 = 0
        accumulators.withUnsafeMutableBufferPointer { acc in
            for a in 0..<min(n, 64) {
                let step = steps[a]
                let i = base + a
                switch step.op {
                case .countAll:
                    acc[i].n += 1
                    continue
                case .count:
                    if case .null = values[step.input].pointee { continue }
                    acc[i].n += 1
                    continue
                case .sum:
                    if Aggregates.addSum(&acc[i], values[step.input].pointee) { continue }
                case .max:
                    if Aggregates.addMinMax(&acc[i], values[step.input].pointee, max: true) { continue }
                case .min:
                    if Aggregates.addMinMax(&acc[i], values[step.input].pointee, max: false) { continue }
                case .general:
                    break
                }
                rest |= 1 << UInt64(a)
            }
        }
        if rest != 0 || n > 64 { applyGeneral(slot: slot, aggregates: rest, values: values, time: time, seq: seq) }
    }

    /// The aggregates of `slot` that ``apply(slot:values:time:seq:)`` left (bit `a` of
    /// `aggregates`), and every one from the 65th on (the general path does them all right).
    @inline(never)
    mutating func applyGeneral(
        slot: Int32, aggregates: UInt64, values: UnsafePointer<UnsafePointer<JSON>>, time: Int64, seq: UInt64
    ) {
        let n = functions.count
        let base = Int(slot) * n
        for a in 0..<n where a >= 64 || aggregates & (1 << UInt64(a)) != 0 {
            let input = inputs[a]
            let v = input >= 0 ? values[input].pointee : JSON.null
            Aggregates.add(
                functions[a], &accumulators[base + a], &extras[base + a], v, time: time, seq: seq,
                scratch: &scratch.bytes)
        }
    }

    /// Turns the slots in `touched` into results, in emission order.
    mutating func emitTouched(into fired: inout [WindowResult]) {
        if touched.isEmpty { return }
        if touched.count > 1 {
            slots.withUnsafeBufferPointer { slots in
                func before(_ a: Int32, _ b: Int32) -> Bool {
                    let x = slots[Int(a)]
                    let y = slots[Int(b)]
                    return (x.end, x.start, x.seq) < (y.end, y.start, y.seq)
                }
                var sorted = true
                for j in 1..<touched.count where before(touched[j].slot, touched[j - 1].slot) {
                    sorted = false
                    break
                }
                if !sorted { touched.sort { before($0.slot, $1.slot) } }
            }
        }
        let n = functions.count
        let prefix = resultPrefix
        let steps = planSteps
        let keyAndBounds = resultPrefixHoldsKeyAndBounds && prefix == 3
        fired.reserveCapacity(fired.count + touched.count)
        for (slot, update) in touched {
            let i = Int(slot)
            var errors: [(index: Int, message: String)] = []
            // The fields a window step puts first (nulls, or the key and bounds), then the
            // aggregates, so that the step makes its event of this array, not of a copy;
            // written through one pointer, not appended one by one.
            var values = [JSON](repeating: .null, count: prefix + n)
            values.withUnsafeMutableBufferPointer { buffer in
                guard let out = buffer.baseAddress else { return }
                if keyAndBounds {
                    let (start, end) = (slots[i].start, slots[i].end)
                    out[0] = keys[Int(slots[i].key)].key
                    if start != Event.noTime { out[1] = .int(start) }
                    if end != Event.noTime { out[2] = .int(end) }
                }
                accumulators.withUnsafeBufferPointer { acc in
                    for a in 0..<n {
                        if let fast = Self.fastResult(steps[a].op, acc[i * n + a]) {
                            out[prefix + a] = fast
                            continue
                        }
                        switch Aggregates.result(functions[a], acc[i * n + a], extras[i * n + a]) {
                        case .success(let r): out[prefix + a] = r
                        case .failure(let e): errors.append((a, e.message))
                        }
                    }
                }
            }
            fired.append(
                WindowResult(
                    key: keys[Int(slots[i].key)].key, start: slots[i].start, end: slots[i].end,
                    update: update, values: values, errors: errors))
        }
        touched.removeAll(keepingCapacity: true)
    }

    /// ``Aggregates/result(_:_:_:)`` for the aggregates ``apply(slot:values:time:seq:)``
    /// does in place, read from the accumulator alone (no copy of its extra); nil for
    /// the rest (`.general`, a `sum` that overflowed, a `min` or `max` that is not a
    /// double), which the caller asks `result` for. `WindowResultFastPathTests` compares
    /// the two.
    @inline(__always)
    static func fastResult(_ op: AggregatePlan.Op, _ a: Accumulator) -> JSON? {
        switch op {
        case .countAll, .count:
            return .int(a.n)
        case .sum:
            if a.overflow { return nil }
            if a.n == 0 { return .null }
            return a.sawDouble ? .double(Double(a.isum) + a.dsum) : .int(a.isum)
        case .max, .min:
            if a.n == 0 { return .null }
            return a.hasDouble ? .double(a.dsum) : nil
        case .general:
            return nil
        }
    }
}

/// How ``WindowStateMachine/apply(slot:values:time:seq:)`` treats each aggregate, in
/// memory of its own: reading a struct's array property from a `mutating` method costs a
/// retain and a release of the array per call (the method could replace the array), a
/// raw pointer costs nothing. `@unchecked Sendable` is sound: `steps` is written only in
/// `init` and freed in `deinit`, immutable in between.
final class AggregatePlan: @unchecked Sendable {
    enum Op: UInt8 {
        case countAll, count, sum, max, min, general
    }

    struct Step {
        var op: Op
        /// The index of the aggregate's input (0 for `count()`, which has none).
        var input: Int
    }

    let steps: UnsafeMutablePointer<Step>
    let count: Int

    init(functions: [AggregateFunction], inputs: [Int]) {
        count = functions.count
        steps = .allocate(capacity: max(1, functions.count))
        for (a, f) in functions.enumerated() {
            let op: Op
            switch f {
            case .countAll: op = .countAll
            case .count: op = .count
            case .sum: op = .sum
            case .max: op = .max
            case .min: op = .min
            default: op = .general
            }
            let input = a < inputs.count ? inputs[a] : -1
            // An input-less function other than `count()` goes the general way (as null).
            (steps + a).initialize(to: Step(op: input >= 0 || op == .countAll ? op : .general, input: max(0, input)))
        }
    }

    deinit { steps.deallocate() }
}

/// A byte buffer reused across calls.
final class ScratchBytes {
    var bytes: [UInt8] = []
}
