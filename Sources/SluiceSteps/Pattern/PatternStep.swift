import CSluiceShims
import SluiceCEL
import SluiceCore
import SluiceJSON

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The `pattern` step: complex event processing over event time, per key (docs/patterns.md).
///
/// The operator half (Flink's `CepOperator`): it takes events as they arrive, computes
/// their key, holds them in an event-time queue until the watermark passes them, and
/// then hands each to the ``NFARunner``, which moves the key's partial matches over it
/// (events of a key in event-time order, equal times in arrival order). It writes what
/// comes back: matches to the main output (built by ``CaptureBuilder``, or by `emit`),
/// expired partial matches to `timeouts` when asked, events behind the watermark to
/// `late`. See docs/patterns.md for the semantics.
///
/// Conditions that read only the event are evaluated once, on arrival, while the event
/// is at hand (lent by the stage, read in place). The results travel with the event
/// through the queue as a bit mask, so the runner reads conditions as bits, and an event
/// that no step can take is not kept at all: its queue entry carries its bits (for the
/// `not`s and contiguity) but no copy of the event. An event that can neither start nor
/// advance a match of its key costs a counter increment when the watermark releases it.
/// A kept event is stored once, in the runner's shared buffer, and stays there from
/// arrival until its last partial match lets go of it.
@usableFromInline package final class PatternStep: InPlaceStep {
    let pattern: CompiledPattern
    let runner: NFARunner
    /// The shared buffer of ``runner``, where queued events wait.
    let buffer: SharedBuffer
    /// Builds the captures of matches and timed-out partial matches.
    @exclusivity(unchecked) var captures: CaptureBuilder
    /// Evaluates keys, arrival conditions and `emit`; shared with ``runner``.
    let activation: EventActivation

    /// Conditions evaluated on arrival (non-iterative, index < 64): bit and expression,
    /// in a column so that the per-event loop retains neither an array nor expressions
    /// (`pattern.nfa.conditions` keeps the expressions alive).
    let arrivalConditions: RawColumn<ArrivalCondition>
    struct ArrivalCondition {
        var bit: UInt64
        var expression: Unmanaged<Expression>?
        /// For `field == text && rest` (``CELProgram/guardedRest``) on the
        /// discriminator's field: the text's index in the discriminator (-1: none), and
        /// `rest`, which decides the condition when the field is that text.
        var restText = -1
        var rest: Unmanaged<Expression>?
    }
    /// The `rest` expressions of ``arrivalConditions`` (which hold them unretained).
    let restExpressions: [Expression]
    /// The bits of every arrival condition.
    let arrivalBits: UInt64
    /// Arrival conditions decided from one field's string without CEL (see
    /// ``PatternDiscriminator``). Nil: every arrival condition is evaluated through CEL
    /// (as tests compare).
    package var discriminator: PatternDiscriminator? {
        didSet { discriminatorRef = discriminator.map { Unmanaged.passUnretained($0) } }
    }
    /// ``discriminator``, unretained (read per event without a retain).
    @exclusivity(unchecked) var discriminatorRef: Unmanaged<PatternDiscriminator>?
    /// The field index whose offsets raw events are read by (tests make such events).
    package var readerIndex: FieldIndex { activation.readerIndex }
    /// Where the discriminator's field was in the last parsed object.
    @exclusivity(unchecked) var discriminatorHint = 0
    /// The discriminator's field's slot in the reader's field index (-1: not indexed), for
    /// raw events.
    let discriminatorSlot: Int
    /// Bits of the positive steps' conditions (the ones that take events).
    let takeMask: UInt64
    /// Whether every condition is evaluated on arrival (none reads captures, fewer than
    /// 64): then an event whose take bits are all clear is not stored, as no step can
    /// take it and nothing evaluates a condition on it later.
    let allOnArrival: Bool

    /// How the key is read, without copying `pattern.key` (and retaining its payload) per event.
    let keyField: String?
    let keyExpression: Expression?
    /// The key field's name as UTF-8, for reading it from raw events without a String.
    let keyUTF8: UnsafeMutableRawBufferPointer
    /// The fields the conditions read and then the key field, read from a raw event in
    /// one pass (empty without a key field).
    let rawKeys: [[UInt8]]
    @exclusivity(unchecked) var rawValues: [JSON?] = []
    /// Where the key field was in the last parsed object.
    @exclusivity(unchecked) var keyHint = 0
    /// The key field's slot in the reader's field index (-1: not indexed, or no key
    /// field), for raw events.
    let keySlot: Int
    /// Whether a raw event's key that is a short plain string is hashed from its bytes
    /// (``KeyTable/shortStringKey(at:in:)``), not made into a value first (tests compare).
    @exclusivity(unchecked) package var rawShortKeys = true
    /// Key value → key index (the runner's and ``keyValues``' index).
    @exclusivity(unchecked) var keyTable = PatternKeyTable()
    /// The value of each key, by key index.
    @exclusivity(unchecked) var keyValues = RawColumn<JSON>()

    /// Events waiting for the watermark.
    @exclusivity(unchecked) var queue = EventTimeQueue<QueuedEvent>()
    /// Events queued so far (the queue's tiebreak at equal times).
    @exclusivity(unchecked) var arrivals: Int64 = 0
    /// When each key's oldest partial match expires (with `within`).
    @exclusivity(unchecked) var deadlines = EventTimeQueue<Deadline>()
    /// Deadlines scheduled so far (the deadline queue's tiebreak at equal deadlines).
    @exclusivity(unchecked) var deadlineSeq: Int64 = 0
    /// The latest event time released to the runner (the time of timeouts without `within`).
    @exclusivity(unchecked) var lastTime = Int64.min

    /// Arrival conditions that could not be evaluated (missing field, wrong type).
    @exclusivity(unchecked) var arrivalConditionErrors = 0
    /// Matches emitted so far.
    @exclusivity(unchecked) @usableFromInline package internal(set) var matchCount = 0

    /// For `emit` fields that each read one field of a capture (`login.user`): per output
    /// field, its name, the step whose event it reads, that event's field, and the dotted
    /// name the expression would read first (see ``emitSelected(_:_:into:)``). Nil for any
    /// other `emit`, or with ``directEmit`` off.
    let selectedFields: [SelectedField]?
    struct SelectedField {
        var name: String
        var step: Int
        var field: String
        /// `field`'s slot in the reader's field index (-1: not indexed).
        var slot: Int
        var whole: String
        /// `whole` in quotes, as a plain key is written (see ``mayHave(_:in:plain:)``).
        var quotedWhole: [UInt8]
    }
    /// Whether the `emit` field names are distinct (then appended without a search).
    let selectedNamesDistinct: Bool

    /// Whether the raw event text `bytes` is all ASCII without a backslash: then every
    /// key is written as its own bytes, and no key is canonically equal to an ASCII name
    /// without being that name (as the Kelvin sign is to `K`). Eight bytes at a time.
    package static func isPlainASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let n = bytes.count
        var acc: UInt64 = 0
        var i = 0
        while i &+ 8 <= n {
            let w = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            let x = w ^ 0x5C5C_5C5C_5C5C_5C5C
            // The high bit of each byte that is non-ASCII or a backslash (exact per byte,
            // the other bits are masked off below).
            acc |= w | ~(((x & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7F7F_7F7F_7F7F_7F7F) | x)
            i &+= 8
        }
        while i < n {
            let b = bytes[i]
            if b >= 0x80 || b == UInt8(ascii: "\\") { return false }
            i &+= 1
        }
        return acc & 0x8080_8080_8080_8080 == 0
    }

    /// False when the raw event text `bytes` has no top-level field named `quoted`
    /// without its quotes, for sure: the text is plain (``isPlainASCII(_:)``, given as
    /// `plain`), `quoted` is an ASCII name in quotes, and it occurs nowhere in the text
    /// (a plain key equal to the name would be written so). True otherwise, and for a
    /// parsed event (nil): then look the field up. Found from the name's first `.` (a
    /// dotted name's rarest byte in event text), else its first byte.
    package static func mayHave(_ quoted: [UInt8], in bytes: UnsafeRawBufferPointer?, plain: Bool) -> Bool {
        guard plain, let bytes, let base = bytes.baseAddress, quoted.count >= 3, quoted.allSatisfy({ $0 < 0x80 })
        else { return true }
        let n = quoted.count
        guard bytes.count >= n else { return false }
        let anchor = quoted.firstIndex(of: UInt8(ascii: ".")) ?? 1
        let a = Int32(quoted[anchor])
        return quoted.withUnsafeBytes { q -> Bool in
            guard let k = q.baseAddress else { return true }
            // Where the anchor can be: from `anchor` to `count - n + anchor`.
            var from = anchor
            let last = bytes.count - n + anchor
            while from <= last, let hit = memchr(base + from, a, last + 1 - from) {
                let at = base.distance(to: UnsafeRawPointer(hit))
                if memcmp(base + (at - anchor), k, n) == 0 { return true }
                from = at + 1
            }
            return false
        }
    }

    /// Whether ``selectedFields`` is set (for tests).
    package var emitsSelectedFields: Bool { selectedFields != nil }
    /// Whether matches whose `emit` fields all read a capture's field are written from
    /// the captured events directly (``selectedFields``), not through CEL (tests compare).
    @exclusivity(unchecked) package var directEmit = true
    /// The events of a match's path by step (-1: none), reused per match.
    @exclusivity(unchecked) var pathNodes: [Int32] = []

    init(_ pattern: CompiledPattern) {
        self.pattern = pattern
        let nfa = pattern.nfa
        activation = pattern.compiler.activation(prefetching: nfa.conditions.compactMap(\.expression))
        runner = NFARunner(nfa: nfa, activation: activation, limits: pattern.limits)
        buffer = runner.buffer
        captures = CaptureBuilder(buffer: runner.buffer, nfa: nfa)
        var conditions = RawColumn<ArrivalCondition>()
        for (i, c) in nfa.conditions.enumerated() where nfa.isEvaluatedOnArrival(i) {
            conditions.append(
                ArrivalCondition(bit: 1 << UInt64(i), expression: c.expression.map { Unmanaged.passUnretained($0) }))
        }
        allOnArrival = conditions.count == nfa.conditions.count
        var bits: UInt64 = 0
        for i in 0..<conditions.count { bits |= conditions[i].bit }
        arrivalBits = bits
        let d = PatternDiscriminator(
            nfa.conditions.enumerated().compactMap { i, c in
                nfa.isEvaluatedOnArrival(i) ? (1 << UInt64(i), c.expression) : nil
            }, compiler: pattern.compiler)
        discriminator = d
        discriminatorRef = d.map { Unmanaged.passUnretained($0) }
        var rests: [Expression] = []
        if let d {
            for i in 0..<conditions.count {
                guard let e = conditions[i].expression?.takeUnretainedValue(), let g = e.program.guardedRest,
                    g.name.string == d.field, let t = d.index(of: g.text)
                else { continue }
                let rest = Expression(program: g.rest, source: e.source, compiler: e.compiler)
                rests.append(rest)
                conditions[i].restText = t
                conditions[i].rest = Unmanaged.passUnretained(rest)
            }
        }
        restExpressions = rests
        let indexed = activation.readerIndex.keys
        discriminatorSlot = d.flatMap { indexed.firstIndex(of: $0.field) } ?? -1
        if case .field(let f) = pattern.key { keySlot = indexed.firstIndex(of: f) ?? -1 } else { keySlot = -1 }
        arrivalConditions = conditions
        var take: UInt64 = 0
        for st in nfa.states where st.condition < 64 { take |= 1 << UInt64(st.condition) }
        takeMask = take
        switch pattern.key {
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
        var keyName: [UInt8] = []
        if case .field(let f) = pattern.key { keyName = Array(f.utf8) }
        rawKeys = keyName.isEmpty ? [] : activation.prefetchedKeys + [keyName]
        keyUTF8 = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, keyName.count), alignment: 1)
        let selected = Self.selectedFields(pattern, index: activation.readerIndex)
        selectedFields = selected
        selectedNamesDistinct = Set(selected?.map(\.name) ?? []).count == selected?.count ?? 0
        pathNodes = Array(repeating: -1, count: nfa.states.count)
        keyName.withUnsafeBytes { keyUTF8.copyMemory(from: $0) }
    }

    /// ``selectedFields`` of `pattern`, or nil. Each `emit` field must be `NAME.FIELD` of
    /// a step that takes one event (not a list), named by no other step, where neither
    /// `NAME.FIELD` nor `NAME` is a table: then the expression reads the capture's
    /// binding (a map of the captured event's fields) unless the match's last event,
    /// which the activation holds, has a field named `NAME.FIELD` (checked per match).
    static func selectedFields(_ pattern: CompiledPattern, index: FieldIndex) -> [SelectedField]? {
        guard case .fields(let fields) = pattern.emit, !fields.isEmpty else { return nil }
        let states = pattern.nfa.states
        var out: [SelectedField] = []
        for (name, e) in fields {
            guard let sel = e.program.selection else { return nil }
            let variable = sel.variable.string
            let whole = sel.whole.string
            let steps = states.indices.filter { states[$0].name == variable }
            guard steps.count == 1, !states[steps[0]].isList, !states.contains(where: { $0.name == whole }),
                pattern.compiler.tables[whole] == nil, pattern.compiler.tables[variable] == nil,
                variable != "event", variable != "params"
            else { return nil }
            out.append(
                SelectedField(
                    name: name, step: steps[0], field: sel.field,
                    slot: index.keys.firstIndex(of: sel.field) ?? -1, whole: whole,
                    quotedWhole: [UInt8(ascii: "\"")] + Array(whole.utf8) + [UInt8(ascii: "\"")]))
        }
        return out
    }

    deinit {
        keyUTF8.deallocate()
    }

    /// Partial matches alive, over all keys.
    @usableFromInline package var livePartialMatches: Int { runner.livePartialMatches }
    /// Events held in the shared buffer by partial matches.
    @usableFromInline package var sharedBufferEvents: Int { buffer.heldEvents }
    /// Events waiting for the watermark.
    @usableFromInline package var queuedEvents: Int { queue.count }
    /// Conditions that could not be evaluated (missing field, wrong type): counted as no match.
    @usableFromInline package var conditionErrors: Int { arrivalConditionErrors + runner.conditionErrors }

    /// Live partial matches plus buffered events (waiting for the watermark or held).
    @usableFromInline package var stateSize: Int { runner.livePartialMatches + queue.count + sharedBufferEvents }

    /// Events rejected because the step's state was at a limit (the per-key cap or a
    /// budget over all keys), for `--stats`.
    var overStateLimits = 0
    @usableFromInline package var counters: [(name: String, value: Int)] {
        overStateLimits == 0 ? [] : [("over_state_limits", overStateLimits)]
    }

    // MARK: Arrival

    /// Classifies the event (late, key), evaluates its conditions and queues it until the
    /// watermark passes it.
    @usableFromInline package func process(_ event: Event, into out: inout StepOutput) {
        withUnsafePointer(to: event) { process(at: $0, into: &out) }
    }

    /// Starts loading the field arrays of a parsed event the stage will lend soon: with
    /// 10,000 keys they are rarely in cache when the event arrives, and reading its key
    /// and conditions would wait for them.
    @usableFromInline package func prefetch(upcoming event: UnsafePointer<Event>) {
        SharedBuffer.prefetchFields(of: event, elements: true)
    }

    /// A stamped batch (see ``InPlaceStep/process(stamped:mark:into:)``), with direct calls per event.
    @usableFromInline package func process(
        stamped batch: UnsafeBufferPointer<Event>, mark: inout Int64, into out: inout StepOutput
    ) {
        runStamped(batch, mark: &mark, into: &out)
    }

    /// ``process(_:into:)`` on the event where it is (see ``Step/process(at:into:)``): the
    /// event is read in place, and copied once, into the shared buffer, only when a step
    /// could take it.
    @usableFromInline package func process(at event: UnsafePointer<Event>, into out: inout StepOutput) {
        let time = event.pointee.time
        if time < out.watermark {
            out.side(pattern.latePort, event.pointee)
            return
        }
        // The slot the event would be stored in, loading while the event is read.
        buffer.prefetchFreeSlot()
        var k: Int32 = -1
        // Every condition that reads only the event, evaluated while it is at hand.
        var mask: UInt64 = 0
        var known: UInt64 = 0
        // Whether the conditions are evaluated yet, and whether `activation` holds a copy
        // of the event.
        // Which discriminator text the event's field is (-1: none).
        var held = -1
        // A raw event's bytes and offsets, once looked up.
        var rawView: (bytes: UnsafeRawBufferPointer, offsets: FieldOffsets)? = nil
        var evaluated = arrivalConditions.count == 0
        var copied = false
        if let f = keyField {
            // Read in place (a parsed event's value is borrowed, a raw event's field is
            // found by its UTF-8 name), hashed once, and copied only for a new key.
            let utf8 = UnsafeRawBufferPointer(keyUTF8)
            let found: Int32?
            if let parsedKey = Event.withParsedFields(
                at: event,
                { names, values -> Int32? in
                    // A parsed object: its fields where they are, lent for this closure, for
                    // the key and then for the conditions.
                    guard let i = keyPosition(f, in: names) else { return nil }
                    let v = values.baseAddress.unsafelyUnwrapped + i
                    // Hashed, and its bucket loaded while the conditions are evaluated; found
                    // after them.
                    let (hash, print) = KeyTable.hashAndPrint(v.pointee)
                    keyTable.prefetch(hash: hash)
                    if !evaluated {
                        // What one field's string decides, then the rest through CEL.
                        if let d = discriminatorRef {
                            d._withUnsafeGuaranteedRef { d in
                                if let i = d.position(in: names, hint: &discriminatorHint) {
                                    (mask, known, held) = d.decide(values.baseAddress.unsafelyUnwrapped + i)
                                }
                            }
                        }
                        if known != arrivalBits {
                            if !activation.bindings.isEmpty { activation.bindings = [:] }
                            let decided = known
                            let h = held
                            let (m, k) = activation.withFieldsLent(names, values) {
                                arrivalMask(skipping: decided, held: h)
                            }
                            mask |= m
                            known |= k
                        }
                        evaluated = true
                    }
                    return keyIndex(of: v, hash: hash, print: print)
                })
            {
                found = parsedKey
            } else if event.pointee.isValueBacked {
                found = nil
            } else if rawShortKeys, keySlot >= 0, let view = Event.rawView(at: event, for: activation.readerIndex),
                case .offset(let o) = view.offsets[keySlot], let key = KeyTable.shortStringKey(at: o, in: view.bytes)
            {
                // A short plain string key where the reader noted it: hashed from its bytes.
                rawView = view
                found = keyIndex(hash: key.hash, shortPrint: key.print)
            } else if event.pointee.isRaw, !event.pointee.offsets.isEmpty {
                // The reader noted where the key and the conditions' fields are.
                found = event.pointee.field(f).map { keyIndex(of: $0) }
            } else if event.pointee.isRaw, activation.bindReading(event.pointee, keys: rawKeys, into: &rawValues) {
                // The key and the conditions' fields in one pass over the bytes.
                copied = true
                found = rawValues[rawKeys.count - 1].map { keyIndex(of: $0) }
            } else if let v = event.pointee.field(utf8: utf8, f) {
                found = keyIndex(of: v)
            } else {
                found = nil
            }
            guard let found else {
                out.reject(event.pointee, step: pattern.stepName, message: "key: no such field '\(f)'")
                return
            }
            k = found
        } else if let e = keyExpression {
            // The key and the conditions with the event lent once.
            let key: Result<JSON, CELError> = withArriving(event) {
                do throws(CELError) {
                    let key = try e.evaluateJSON(activation)
                    if !evaluated { (mask, known) = arrivalMask() }
                    return .success(key)
                } catch {
                    return .failure(error)
                }
            }
            switch key {
            case .success(let v): k = keyIndex(of: v)
            case .failure(let error):
                out.reject(event.pointee, step: pattern.stepName, message: "key: \(error.message)")
                return
            }
            evaluated = true
        } else {
            k = keyIndex(of: .null)
        }
        if !evaluated {
            // A raw event's discriminating field where the reader noted it, then the rest.
            if !copied, discriminatorSlot >= 0, let d = discriminatorRef,
                let view = rawView ?? Event.rawView(at: event, for: activation.readerIndex),
                case .offset(let o) = view.offsets[discriminatorSlot]
            {
                // A short plain string compared by its bytes; anything else as a value.
                if let text = KeyTable.shortStringKey(at: o, in: view.bytes) {
                    (mask, known, held) = d._withUnsafeGuaranteedRef { $0.decide(shortPrint: text.print) }
                } else if let v = JSONParser.value(at: o, in: view.bytes) {
                    (mask, known, held) = withUnsafePointer(to: v) { p in
                        d._withUnsafeGuaranteedRef { $0.decide(p) }
                    }
                }
            }
            if known != arrivalBits {
                let decided = known
                let h = held
                let (m, k) =
                    copied
                    ? arrivalMask(skipping: decided, held: h)
                    : withArriving(event) { arrivalMask(skipping: decided, held: h) }
                mask |= m
                known |= k
            }
        }
        // Kept only if a step could take it (conditions evaluated later need it too).
        var slot: Int32 = -1
        if mask & takeMask != 0 || !allOnArrival {
            slot = buffer.addEvent(event.pointee)
        }
        arrivals += 1
        queue.push(QueuedEvent(time: time, arrival: arrivals, key: k, slot: slot, mask: mask, known: known))
        if time <= out.watermark { drain(upTo: out.watermark, into: &out) }
    }

    /// Runs `body` with `activation` bound to an arriving event: lent in place when it
    /// can be (a parsed object, or a raw event whose conditions read only indexed
    /// fields), else copied.
    @inline(__always)
    func withArriving<R>(_ event: UnsafePointer<Event>, _ body: () -> R) -> R {
        if !activation.bindings.isEmpty { activation.bindings = [:] }
        if let r = activation.withEventInPlace(at: event, body) { return r }
        activation.event = event.pointee
        return body()
    }

    /// The arrival conditions on the bound event but those in `decided`: which are known
    /// (`known`), and which of those hold (`mask`). `held`: the discriminator's text the
    /// event's field is (-1: none), whose guarded conditions are decided by their rest.
    @inline(__always)
    func arrivalMask(skipping decided: UInt64 = 0, held: Int = -1) -> (mask: UInt64, known: UInt64) {
        var mask: UInt64 = 0
        var known: UInt64 = 0
        for i in 0..<arrivalConditions.count {
            let c = arrivalConditions[i]
            if c.bit & decided != 0 { continue }
            known |= c.bit
            // The guard holds (the discriminator's field is its text): the rest decides.
            let e = held >= 0 && c.restText == held ? c.rest : c.expression
            if let e, !e._withUnsafeGuaranteedRef({ evaluate($0) }) { continue }
            mask |= c.bit
        }
        return (mask, known)
    }

    @inline(__always)
    func evaluate(_ expr: Expression) -> Bool {
        do {
            return try expr.evaluateBool(activation)
        } catch {
            arrivalConditionErrors += 1
            return false
        }
    }

    // MARK: Keys

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
        if let i = keyTable.find(hash: hash, print: print, { Self.sameKey(keyValues.base + Int($0), value) }) {
            return i
        }
        let k = runner.addKey()
        keyValues.append(value.pointee)
        keyTable.insert(hash: hash, print: print, k)
        return k
    }

    /// `a == b` for key values, strings compared without copying either JSON value.
    @inline(__always)
    static func sameKey(_ a: UnsafePointer<JSON>, _ b: UnsafePointer<JSON>) -> Bool {
        if case .string(let x) = a.pointee, case .string(let y) = b.pointee { return x == y }
        return a.pointee == b.pointee
    }

    /// The index of the short ASCII string key whose hash and fingerprint (its bytes) are
    /// `hash` and `print`, as ``KeyTable/hashAndPrint(_:)`` gives them; added if new.
    @inline(__always)
    func keyIndex(hash: UInt64, shortPrint print: KeyTable.Fingerprint) -> Int32 {
        if let i = keyTable.find(hash: hash, print: print, { keyValues[Int($0)] == .string(print.shortString) }) {
            return i
        }
        let k = runner.addKey()
        keyValues.append(.string(print.shortString))
        keyTable.insert(hash: hash, print: print, k)
        return k
    }

    /// The index of key `value`, added if new.
    @inline(__always)
    func keyIndex(of value: borrowing JSON) -> Int32 {
        let (hash, print) = KeyTable.hashAndPrint(copy value)
        if let i = keyTable.find(hash: hash, print: print, { keyValues[Int($0)] == value }) { return i }
        let k = runner.addKey()
        keyValues.append(copy value)
        keyTable.insert(hash: hash, print: print, k)
        return k
    }

    // MARK: Watermark

    /// Runs every queued event up to `watermark`, then expires what the watermark closes;
    /// at the end of input (`Int64.max`) everything pending completes or times out.
    @usableFromInline package func advance(watermark: Int64, into out: inout StepOutput) {
        drain(upTo: watermark, into: &out)
        expireDue(upTo: watermark, into: &out)
        if watermark == Int64.max {
            for k in 0..<runner.keyCount where runner.keys[k].hasPartialMatches {
                expireKey(k, upTo: Int64.max, into: &out)
            }
        }
    }

    func drain(upTo limit: Int64, into out: inout StepOutput) {
        while let e = queue.popMin(upTo: limit) {
            prefetchAhead()
            if runner.nfa.within != nil { expireDue(upTo: e.time, into: &out) }
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
        if let e = queue.inOrder(ahead: Self.lookahead) { runner.prefetchKey(e.key, slot: e.slot) }
        if let e = queue.inOrder(ahead: Self.lookahead - 3) { runner.prefetchMatches(ofKey: e.key, slot: e.slot) }
        if let e = queue.inOrder(ahead: Self.lookahead - 5) { runner.prefetchNodes(ofKey: e.key, slot: e.slot) }
        if let e = queue.inOrder(ahead: Self.lookahead - 7), e.slot >= 0 { runner.prefetchCaptures(ofKey: e.key) }
    }

    /// How far ahead ``prefetchAhead()`` starts loading, in queued events (at least 7).
    static let lookahead = 8

    /// Expires the partial matches whose window the watermark `limit` has closed.
    func expireDue(upTo limit: Int64, into out: inout StepOutput) {
        while let due = deadlines.popMin(upTo: limit) {
            let k = Int(due.key)
            guard runner.keys[k].scheduled == due.time else { continue }
            runner.keys[k].scheduled = Int64.max
            // Its oldest partial match decides: often the one scheduled has completed.
            if let d = runner.earliestDeadline(ofKey: k), d <= limit {
                expireKey(k, upTo: limit, into: &out)
            }
            schedule(k)
        }
    }

    /// Puts key `k` in the deadline queue at its oldest partial match's deadline, unless
    /// it is there at that time or earlier already.
    func schedule(_ k: Int) {
        guard runner.nfa.within != nil, let d = runner.earliestDeadline(ofKey: k) else { return }
        if d < runner.keys[k].scheduled {
            runner.keys[k].scheduled = d
            deadlineSeq += 1
            deadlines.push(Deadline(time: d, seq: deadlineSeq, key: Int32(k)))
        }
    }

    // MARK: One event

    /// Hands one released event to the runner and writes what comes back.
    func processEvent(_ entry: QueuedEvent, into out: inout StepOutput) {
        let k = Int(entry.key)
        if entry.time > lastTime { lastTime = entry.time }
        let slot = entry.slot
        switch runner.process(key: k, time: entry.time, slot: slot, mask: entry.mask, known: entry.known) {
        case .ignored:
            break
        case .advanced:
            if !runner.completed.isEmpty { emitCompleted(key: k, into: &out) }
            schedule(k)
        case .overKeyLimit:
            reject(
                slot,
                "pattern: key \(JSONWriter.string(keyValues[k])) would have more than \(pattern.limits.partialMatchesPerKey) partial matches (max_partial_matches); the event was not matched",
                into: &out)
        case .overPartialMatchBudget:
            reject(
                slot,
                "pattern: the step would have more than \(pattern.limits.partialMatches) partial matches over all keys (max_total_partial_matches); the event of key \(JSONWriter.string(keyValues[k])) was not matched",
                into: &out)
        case .overEventBudget:
            reject(
                slot,
                "pattern: the step already holds \(pattern.limits.bufferedEvents) events for partial matches (max_buffered_events); the event of key \(JSONWriter.string(keyValues[k])) was not matched",
                into: &out)
        }
        if slot >= 0 { buffer.releaseSlot(slot) }
    }

    /// Rejects the event in `slot` that a limit kept from being matched, and counts it for
    /// `--stats`. The event was taken, so it is stored (see `process(at:into:)`).
    func reject(_ slot: Int32, _ message: String, into out: inout StepOutput) {
        guard slot >= 0 else { return }
        out.reject(buffer.eventPointer(slot).pointee, step: pattern.stepName, message: message)
        overStateLimits += 1
    }

    /// Expires key `k`'s partial matches whose window ends at or before `limit` (see
    /// ``NFARunner/expire(key:upTo:lastTime:collectTimeouts:)``): pending absence matches
    /// are emitted, the others go to `timeouts` when enabled.
    func expireKey(_ k: Int, upTo limit: Int64, into out: inout StepOutput) {
        runner.expire(key: k, upTo: limit, lastTime: lastTime, collectTimeouts: pattern.timeouts)
        if !runner.completed.isEmpty { emitCompleted(key: k, into: &out) }
        guard !runner.timedOut.isEmpty else { return }
        for t in runner.timedOut {
            var o = JSONObject(minimumCapacity: 3)
            o.appendUnchecked(key: "captures", value: captures.object(t.node))
            o.appendUnchecked(key: "timed_out_at", value: .int(t.time))
            if case .global = pattern.key {} else { o.appendUnchecked(key: "key", value: keyValues[k]) }
            out.side(pattern.timeoutPort, Event(.object(o), time: t.time))
        }
        runner.releaseTimedOut()
    }

    // MARK: Emitting

    /// Emits the runner's completed matches, in order, and lets go of them.
    func emitCompleted(key k: Int, into out: inout StepOutput) {
        // By index: iterating would retain the array around the calls.
        var i = 0
        while i < runner.completed.count {
            emitMatch(runner.completed[i], into: &out)
            i += 1
        }
        runner.releaseCompleted()
    }

    /// Emits match `m` from its captured events' fields, as the `emit` fields
    /// (``selectedFields``) would give through CEL: true when it did; false, having
    /// written nothing, when CEL must decide (a step without an event, a field that is
    /// absent or not a plain value, or a last event with a field named like a whole
    /// selection), and then the caller evaluates the expressions. Through CEL a capture
    /// is the map of its event's fields, and a plain JSON value (null, bool, number,
    /// string) read from that map converts back to itself; the reader lets no object
    /// have two equal keys, so the map and the event agree on every field.
    func emitSelected(_ m: CompletedMatch, _ selected: [SelectedField], into out: inout StepOutput) -> Bool {
        for j in pathNodes.indices { pathNodes[j] = -1 }
        var n = m.node
        while n >= 0 {
            pathNodes[buffer.step(ofNode: n)] = n
            n = buffer.prev(ofNode: n)
        }
        let index = activation.readerIndex
        let last = buffer.eventPointer(ofNode: m.node)
        let lastBytes = Event.rawView(at: last, for: index)?.bytes
        // Looked at once per match, not per field.
        let plain = lastBytes.map { Self.isPlainASCII($0) } ?? false
        var o = JSONObject(minimumCapacity: selected.count)
        for s in selected {
            let node = pathNodes[s.step]
            guard node >= 0,
                !Self.mayHave(s.quotedWhole, in: lastBytes, plain: plain) || last.pointee.field(s.whole) == nil,
                let v = Self.field(s, of: buffer.eventPointer(ofNode: node), index: index)
            else { return false }
            switch v {
            case .null, .bool, .int, .string: break
            case .double(let d): guard d.isFinite else { return false }
            case .array, .object: return false
            }
            if selectedNamesDistinct { o.appendUnchecked(key: s.name, value: v) } else { o[s.name] = v }
        }
        out.emit(Event(.object(o), time: m.time))
        return true
    }

    /// `s.field` of the event at `event`: at the offset the reader recorded for a raw
    /// event (``Event/field(_:)`` finds the slot by name first), else as ``Event/field(_:)``.
    @inline(__always)
    static func field(_ s: SelectedField, of event: UnsafePointer<Event>, index: FieldIndex) -> JSON? {
        if s.slot >= 0, let view = Event.rawView(at: event, for: index) {
            switch view.offsets[s.slot] {
            case .absent: return nil
            case .offset(let o): return JSONParser.value(at: o, in: view.bytes)
            case .unknown: break
            }
        }
        return event.pointee.field(s.field)
    }

    func emitMatch(_ m: CompletedMatch, into out: inout StepOutput) {
        matchCount += 1
        switch pattern.emit {
        case .captures:
            out.emit(Event(captures.object(m.node), time: m.time))
        case .fields(let fields):
            if directEmit, let selected = selectedFields, emitSelected(m, selected, into: &out) { return }
            activation.bindings = captures.bindings(m.node, through: runner.stateCount)
            activation.event = buffer.event(ofNode: m.node)
            var o = JSONObject(minimumCapacity: fields.count)
            for (name, e) in fields {
                do {
                    o[name] = try e.evaluateJSON(activation)
                } catch {
                    activation.bindings = [:]
                    out.reject(
                        Event(captures.object(m.node), time: m.time), step: pattern.stepName,
                        message: "emit \(name): \(error.message)")
                    return
                }
            }
            activation.bindings = [:]
            out.emit(Event(.object(o), time: m.time))
        case .value(let e):
            activation.bindings = captures.bindings(m.node, through: runner.stateCount)
            activation.event = buffer.event(ofNode: m.node)
            do {
                let v = try e.evaluateJSON(activation)
                activation.bindings = [:]
                out.emit(Event(v, time: m.time))
            } catch {
                activation.bindings = [:]
                out.reject(
                    Event(captures.object(m.node), time: m.time), step: pattern.stepName,
                    message: "emit: \(error.message)")
            }
        }
    }
}
