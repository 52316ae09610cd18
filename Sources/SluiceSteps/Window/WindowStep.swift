import SluiceCEL
import SluiceCore
import SluiceJSON

/// `window:` (docs/windows.md): groups events by key into tumbling, hopping, session or count
/// windows and emits one aggregated event per key and window when the window closes.
///
/// The step reads the key and the aggregate arguments of each event, checks them, and
/// hands them to a ``WindowStateMachine``, which owns all window state; this class only
/// turns its ``WindowResult``s into output events (`having:`, key fields, `update`).
/// Problems with one event (an expression error, a non-number for `sum`, too many open
/// windows) reject that event; the window goes on.
@usableFromInline package final class WindowStep: InPlaceStep {
    let config: WindowConfig
    let name: String
    let activation: EventActivation
    @exclusivity(unchecked) var machine: WindowStateMachine
    let isCount: Bool
    /// The key's field when the key is a plain field name (the fast path).
    let keyField: String?
    /// Per aggregate input: a field name, or else a compiled expression.
    let inputFields: [String?]
    let inputExpressions: [Expression?]
    /// Aggregates that need numbers, as (aggregate index, input index).
    let numeric: [(aggregate: Int, input: Int)]
    /// True when the key is global or a plain field and every input is a plain field:
    /// the event's fields are then read directly, in one pass, with no CEL.
    let direct: Bool
    /// The distinct fields the direct path reads; `keySlot` (-1: global) and `inputSlots`
    /// index them.
    let directNames: [String]
    let directUTF8: [[UInt8]]
    let keySlot: Int
    let inputSlots: [Int]
    /// `directNames`' UTF-8 lengths.
    let directCounts: [Int]
    /// `directNames`, their UTF-8 lengths and `inputSlots`, in memory of their own, and
    /// their counts (read per event without an array's checks).
    let fieldNames: UnsafeMutablePointer<String>
    let fieldUTF8Counts: UnsafeMutablePointer<Int>
    let fieldCount: Int
    let inputFieldSlots: UnsafeMutablePointer<Int>
    let inputCount: Int
    /// Where each of `directNames` (by its index) is in the parsed event being read (-1:
    /// absent), tried first on the next event.
    @exclusivity(unchecked) var positions: FieldPositionCache
    @exclusivity(unchecked) var scanned: [JSON?] = []
    /// The aggregate inputs of the event being added, one per input.
    @exclusivity(unchecked) var values: [JSON]
    @exclusivity(unchecked) var fired: [WindowResult] = []
    /// Where the state machine reads each aggregate input of the event being added: an
    /// element of a parsed event's values (read in place, not copied) or of `values`.
    let inputPointers: UnsafeMutablePointer<UnsafePointer<JSON>>
    /// `numeric`, in memory of its own (read per event without retaining an array).
    let numericPairs: UnsafeMutablePointer<(aggregate: Int, input: Int)>
    let numericCount: Int
    /// A null, for a missing input or a global key.
    let nullValue: UnsafeMutablePointer<JSON>
    /// The pipeline's field index (see ``FieldIndex``) and, for each of `directNames`,
    /// its slot there (-1: not indexed): a raw event read with that index tells where
    /// the key's and the inputs' values start, so each is read without a search.
    let readerIndex: FieldIndex
    let indexSlots: UnsafeMutablePointer<Int>
    /// True when the direct path's every field is indexed.
    let indexed: Bool
    /// The aggregate inputs of a raw event read by index, one per input, and a key read
    /// from one that is not a short plain string.
    let rawValues: UnsafeMutablePointer<JSON>
    let rawKey: UnsafeMutablePointer<JSON>
    /// The names of the output fields, shared by every result event (its keys array is
    /// one reference, not a copy per event); with `update` appended for re-fired windows.
    let outputKeys: [String]
    let outputKeysUpdate: [String]
    /// `config.key`'s case, without its names (read per result without copying them).
    let keyShape: KeyShape

    enum KeyShape {
        case global, single
        case named(Int)
    }

    /// A window step with nothing open.
    @usableFromInline package init(config: WindowConfig, compiler: ExpressionCompiler, name: String) {
        self.config = config
        self.name = name
        activation = compiler.activation()
        machine = WindowStateMachine(
            kind: config.kind, functions: config.aggregates.map(\.function), inputs: config.aggregates.map(\.input),
            allowedLateness: config.allowedLateness, maxOpenWindows: config.maxOpenWindows)
        // The key's fields and the bounds go before the aggregates (see `emit`).
        machine.resultPrefix = config.key.fieldNames.count + 2
        if case .single = config.key { machine.resultPrefixHoldsKeyAndBounds = true }
        if case .count = config.kind { isCount = true } else { isCount = false }
        if case .single(_, .field(let f)) = config.key { keyField = f } else { keyField = nil }
        inputFields = config.inputs.map { if case .field(let f) = $0 { f } else { nil } }
        inputExpressions = config.inputs.map { if case .expression(let e) = $0 { e } else { nil } }
        numeric = config.aggregates.enumerated().compactMap { i, a in
            a.function.needsNumbers && a.input >= 0 ? (i, a.input) : nil
        }
        var keyDirect = false
        switch config.key {
        case .global: keyDirect = true
        case .single(_, .field): keyDirect = true
        default: break
        }
        direct = keyDirect && inputFields.allSatisfy { $0 != nil }
        var names: [String] = []
        func slot(_ f: String) -> Int {
            if let i = names.firstIndex(of: f) { return i }
            names.append(f)
            return names.count - 1
        }
        keySlot = keyField.map(slot) ?? -1
        let inputs = inputFields.map { $0.map(slot) ?? -1 }
        inputSlots = inputs
        directNames = names
        directUTF8 = names.map { Array($0.utf8) }
        let counts = names.map(\.utf8.count)
        directCounts = counts
        fieldCount = names.count
        fieldNames = .allocate(capacity: max(1, names.count))
        fieldNames.initialize(from: names, count: names.count)
        fieldUTF8Counts = .allocate(capacity: max(1, names.count))
        fieldUTF8Counts.initialize(from: counts, count: names.count)
        inputCount = inputs.count
        inputFieldSlots = .allocate(capacity: max(1, inputs.count))
        inputFieldSlots.initialize(from: inputs, count: inputs.count)
        positions = FieldPositionCache(capacity: names.count)
        values = Array(repeating: .null, count: config.inputs.count)
        numericCount = numeric.count
        numericPairs = .allocate(capacity: max(1, numeric.count))
        numericPairs.initialize(from: numeric, count: numeric.count)
        nullValue = .allocate(capacity: 1)
        nullValue.initialize(to: .null)
        inputPointers = .allocate(capacity: max(1, config.inputs.count))
        inputPointers.initialize(repeating: UnsafePointer(nullValue), count: max(1, config.inputs.count))
        let index = compiler.fieldIndex
        readerIndex = index
        let slots = names.map { index.slot(of: $0) ?? -1 }
        indexSlots = .allocate(capacity: max(1, slots.count))
        indexSlots.initialize(from: slots, count: slots.count)
        indexed = direct && slots.allSatisfy { $0 >= 0 }
        rawValues = .allocate(capacity: max(1, config.inputs.count))
        rawValues.initialize(repeating: .null, count: max(1, config.inputs.count))
        rawKey = .allocate(capacity: 1)
        rawKey.initialize(to: .null)
        let keys = config.key.fieldNames + ["window_start", "window_end"] + config.aggregates.map(\.name)
        outputKeys = keys
        outputKeysUpdate = keys + ["update"]
        switch config.key {
        case .global: keyShape = .global
        case .single: keyShape = .single
        case .named(let parts): keyShape = .named(parts.count)
        }
    }

    deinit {
        fieldNames.deinitialize(count: fieldCount)
        fieldNames.deallocate()
        fieldUTF8Counts.deallocate()
        inputFieldSlots.deallocate()
        indexSlots.deallocate()
        rawValues.deinitialize(count: max(1, config.inputs.count))
        rawValues.deallocate()
        rawKey.deinitialize(count: 1)
        rawKey.deallocate()
        inputPointers.deallocate()
        numericPairs.deallocate()
        nullValue.deinitialize(count: 1)
        nullValue.deallocate()
    }

    /// Windows open or kept for allowed lateness.
    @usableFromInline package var stateSize: Int { machine.openWindows }

    /// Adds the event to its windows; it may instead go to `late` (every window it belongs
    /// to is gone) or `rejected` (bad key or value, too many open windows). Windows that
    /// fire because of it (late updates, full count windows) are emitted at once.
    @usableFromInline package func process(_ event: Event, into out: inout StepOutput) {
        withUnsafePointer(to: event) { process(at: $0, into: &out) }
    }

    /// A stamped batch (see ``InPlaceStep/process(stamped:mark:into:)``), with direct calls per event.
    @usableFromInline package func process(
        stamped batch: UnsafeBufferPointer<Event>, mark: inout Int64, into out: inout StepOutput
    ) {
        runStamped(batch, mark: &mark, into: &out)
    }

    /// ``process(_:into:)`` on the event where it is (see ``Step/process(at:into:)``).
    @usableFromInline package func process(at p: UnsafePointer<Event>, into out: inout StepOutput) {
        if !isCount, p.pointee.time == Event.noTime {
            out.reject(p.pointee, step: name, message: "window: the event has no time")
            return
        }
        if direct {
            // A parsed object: the key and the inputs are read where they are, in the
            // object's values, lent for the closure.
            let done: Bool? = Event.withParsedFields(at: p) { ks, vs in
                // Names and slots from memory of their own: no array header, count and
                // bounds check per read.
                for j in 0..<fieldCount {
                    _ = positions.index(of: fieldNames[j], id: j, utf8Count: fieldUTF8Counts[j], in: ks)
                }
                let base = vs.baseAddress.unsafelyUnwrapped
                let null = UnsafePointer(nullValue)
                for i in 0..<inputCount {
                    let at = positions[inputFieldSlots[i]]
                    inputPointers[i] = at >= 0 && at < vs.count ? base + at : null
                }
                if keySlot < 0 {
                    add(p, key: .init(at: null), into: &out)
                    return true
                }
                let at = positions[keySlot]
                guard at >= 0 && at < vs.count else { return false }
                add(p, key: .init(at: base + at), into: &out)
                return true
            }
            if let done {
                if !done { rejectMissingKey(p, into: &out) }
                return
            }
            if indexed, let done = addIndexed(p, into: &out) {
                if !done { rejectMissingKey(p, into: &out) }
                return
            }
            guard let key = readRaw(p) else {
                rejectMissingKey(p, into: &out)
                return
            }
            pointToValues()
            withUnsafePointer(to: key) { add(p, key: .init(at: $0), into: &out) }
            return
        }
        guard let key = readKey(p.pointee, &out) else { return }
        for i in 0..<inputFields.count {
            if let f = inputFields[i] {
                values[i] = p.pointee.field(f) ?? .null
            } else if let e = inputExpressions[i] {
                activation.event = p.pointee
                do {
                    values[i] = try e.evaluateJSON(activation)
                } catch {
                    let label = config.aggregates.first { $0.input == i }?.label ?? e.source
                    out.reject(p.pointee, step: name, message: "window: \(label): \(error.message)")
                    return
                }
            }
        }
        pointToValues()
        withUnsafePointer(to: key) { add(p, key: .init(at: $0), into: &out) }
    }

    /// The direct path for a raw event read with ``readerIndex``: the key and the inputs
    /// are read at their recorded offsets, and a key that is a short plain string is
    /// hashed from its bytes, not made into a value. True when the event was added (or
    /// rejected), false when its key is missing, nil when an offset was not recorded
    /// (the caller reads the event another way).
    @inline(__always)
    func addIndexed(_ p: UnsafePointer<Event>, into out: inout StepOutput) -> Bool? {
        guard let (bytes, offsets) = Event.rawView(at: p, for: readerIndex) else { return nil }
        let count = bytes.count
        for i in 0..<inputSlots.count {
            switch offsets[indexSlots[inputSlots[i]]] {
            case .absent: rawValues[i] = .null
            case .offset(let o):
                // A plain number (the usual input) is read in one pass, without the parser.
                rawValues[i] = JSONParser.shortNumber(at: o, in: bytes) ?? JSONParser.value(at: o, in: bytes) ?? .null
            case .unknown: return nil
            }
            inputPointers[i] = UnsafePointer(rawValues + i)
        }
        if keySlot < 0 {
            add(p, key: .init(at: nullValue), into: &out)
            return true
        }
        let o: Int
        switch offsets[indexSlots[keySlot]] {
        case .absent: return false
        case .offset(let at): o = at
        case .unknown: return nil
        }
        if let key = Self.shortStringKey(at: o, in: bytes) {
            add(p, key: key, into: &out)
            return true
        }
        guard o < count, let key = JSONParser.value(at: o, in: bytes) else { return false }
        rawKey.pointee = key
        add(p, key: .init(at: rawKey), into: &out)
        return true
    }

    /// ``KeyTable/shortStringKey(at:in:)`` (there, so that a caller needs no class metadata).
    @inline(__always)
    static func shortStringKey(at o: Int, in bytes: UnsafeRawBufferPointer) -> WindowStateMachine.KeyRef? {
        KeyTable.shortStringKey(at: o, in: bytes)
    }

    /// Points ``inputPointers`` at ``values``.
    func pointToValues() {
        values.withUnsafeBufferPointer { vs in
            for i in vs.indices { inputPointers[i] = vs.baseAddress.unsafelyUnwrapped + i }
        }
    }

    func rejectMissingKey(_ p: UnsafePointer<Event>, into out: inout StepOutput) {
        let f = keyField ?? ""
        out.reject(p.pointee, step: name, message: "window: key '\(f)': no such field '\(f)'")
    }

    /// Checks the event's inputs (at ``inputPointers``) and adds it with key `key`.
    @inline(__always)
    func add(_ p: UnsafePointer<Event>, key: WindowStateMachine.KeyRef, into out: inout StepOutput) {
        for n in 0..<numericCount {
            let (a, input) = numericPairs[n]
            switch inputPointers[input].pointee {
            case .int, .double, .null: continue
            default:
                let problem = Aggregates.check(config.aggregates[a].function, inputPointers[input].pointee) ?? ""
                out.reject(p.pointee, step: name, message: "window: \(config.aggregates[a].label): \(problem)")
                return
            }
        }
        let outcome = machine.add(time: p.pointee.time, key: key, inputs: inputPointers, into: &fired)
        switch outcome {
        case .counted:
            break
        case .late:
            out.side(SidePort.late, p.pointee)
        case .full:
            out.reject(
                p.pointee, step: name,
                message: "window: max_open_windows (\(config.maxOpenWindows)) reached; event not counted")
        case .outOfRange:
            out.reject(p.pointee, step: name, message: "window: event time \(p.pointee.time) is out of range")
        }
        if !fired.isEmpty { flush(into: &out) }
    }

    /// The direct path for an event that is not a parsed object: reads the key field
    /// (null for a global window) and every input field into `values` (a missing input
    /// reads as null). Nil when the key field is missing.
    func readRaw(_ p: UnsafePointer<Event>) -> JSON? {
        // Raw bytes: at the offsets the reader recorded, or every field in one pass; else
        // (patched, non-object) field by field.
        if !p.pointee.offsets.isEmpty
            || p.pointee.withRawBytes({ JSONParser.fields(directUTF8, in: $0, into: &scanned) }) == nil
        {
            scanned.removeAll(keepingCapacity: true)
            for f in directNames { scanned.append(p.pointee.field(f)) }
        }
        for i in 0..<inputSlots.count { values[i] = scanned[inputSlots[i]] ?? .null }
        return keySlot < 0 ? .some(.null) : scanned[keySlot]
    }

    /// The key of an event whose key is not a plain field; a missing field or an
    /// expression error rejects the event (nil).
    func readKey(_ event: Event, _ out: inout StepOutput) -> JSON? {
        switch config.key {
        case .global:
            return .null
        case .single(let keyName, let input):
            return read(input, event, keyName: keyName, &out)
        case .named(let parts):
            var ks: [JSON] = []
            ks.reserveCapacity(parts.count)
            for (keyName, input) in parts {
                guard let k = read(input, event, keyName: keyName, &out) else { return nil }
                ks.append(k)
            }
            return .array(ks)
        }
    }

    /// Reads a key part; a missing field or an expression error rejects the event (nil).
    func read(_ input: WindowInput, _ event: Event, keyName: String, _ out: inout StepOutput) -> JSON? {
        switch input {
        case .field(let f):
            if let v = event.field(f) { return v }
            out.reject(event, step: name, message: "window: key '\(keyName)': no such field '\(f)'")
            return nil
        case .expression(let e):
            activation.event = event
            do {
                return try e.evaluateJSON(activation)
            } catch {
                out.reject(event, step: name, message: "window: key '\(keyName)': \(error.message)")
                return nil
            }
        }
    }

    /// Emits every window the watermark closes, in the order docs/windows.md gives.
    @usableFromInline package func advance(watermark: Int64, into out: inout StepOutput) {
        if machine.advanceClosingNothing(to: watermark) { return }
        machine.advance(to: watermark, into: &fired)
        flush(into: &out)
    }

    /// Emits the fired windows as events.
    func flush(into out: inout StepOutput) {
        if fired.isEmpty { return }
        // A watermark that closes many windows (a minute's, for every key) makes as
        // many events: room for them at once, not a reallocation per doubling.
        let needed = out.events.count + fired.count
        if needed > out.events.capacity { out.events.reserveCapacity(max(needed, 2 * out.events.capacity)) }
        fired.withUnsafeMutableBufferPointer { results in
            guard let base = results.baseAddress else { return }
            for j in results.indices {
                // The result's values (with room for the key and bounds, `resultPrefix`)
                // become the event's: moved out, not copied; the result is read where it
                // is, not copied either.
                var values: [JSON] = []
                swap(&values, &base[j].values)
                emit(base + j, values: values, into: &out)
            }
        }
        fired.removeAll(keepingCapacity: true)
    }

    /// Emits the result at `r` as an event; `values` is its `values`, the first
    /// ``WindowStateMachine/resultPrefix`` places free for the key's fields and the bounds.
    func emit(_ r: UnsafePointer<WindowResult>, values: consuming [JSON], into out: inout StepOutput) {
        var values = values
        let (start, end, update) = (r.pointee.start, r.pointee.end, r.pointee.update)
        if !machine.resultPrefixHoldsKeyAndBounds {
            var at = 0
            switch keyShape {
            case .global: break
            case .single:
                values[0] = r.pointee.key
                at = 1
            case .named(let count):
                if case .array(let ks) = r.pointee.key {
                    for i in 0..<min(count, ks.count) { values[i] = ks[i] }
                }
                at = count
            }
            values[at] = start == Event.noTime ? .null : .int(start)
            values[at + 1] = end == Event.noTime ? .null : .int(end)
        }
        if update { values.append(true) }
        let o = JSONObject(uniqueKeys: update ? outputKeysUpdate : outputKeys, values: values)
        // Results carry the last instant of their window as event time (as Flink's do), so a
        // later window step can regroup them.
        let time = isCount ? end : (end == Int64.min ? end : end - 1)
        let event = Event(.object(o), time: time)
        if !r.pointee.errors.isEmpty {
            let what = r.pointee.errors.map {
                "\(config.aggregates[$0.index].name) (\(config.aggregates[$0.index].label)): \($0.message)"
            }
            out.reject(
                event, step: name, message: "window: \(what.joined(separator: "; ")); the window's result is rejected")
            return
        }
        if let having = config.having {
            activation.event = event
            do {
                guard try having.evaluateBool(activation) else { return }
            } catch {
                out.reject(event, step: name, message: "window: having: \(error.message)")
                return
            }
        }
        out.emit(event)
    }

    static let definition = StepDefinition(
        kind: "window",
        summary: "Aggregate events per key over tumbling, hopping, session or count windows.",
        keys: WindowConfig.keys,
        compile: { ctx in
            guard let config = WindowConfig.parse(ctx) else { return nil }
            // Plain-field keys and inputs are read without CEL: let readers note where
            // they are.
            var plain: [String] = []
            if case .single(_, .field(let f)) = config.key { plain.append(f) }
            for case .field(let f) in config.inputs { plain.append(f) }
            ctx.expressions.noteFieldsRead(plain)
            _ = ctx.sidePort(named: "late")
            _ = ctx.sidePort(named: "rejected")
            let compiler = ctx.expressions
            let name = ctx.stepName
            return { WindowStep(config: config, compiler: compiler, name: name) }
        }
    )
}
