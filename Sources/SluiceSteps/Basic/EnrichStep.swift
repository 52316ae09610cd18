import SluiceCEL
import SluiceCore
import SluiceJSON

/// `enrich: {set: {FIELD: EXPR}, remove: [FIELD], rename: {OLD: NEW}}`, applied in that
/// order. Every `set` expression sees the event as it came in. Dotted names address
/// nested objects (`geo.city`); `set` creates missing objects on the way. New fields are
/// appended; existing fields keep their place.
@usableFromInline package final class EnrichStep: InPlaceStep {
    /// A field path split at dots.
    package typealias Path = [String]

    let setPaths: [Path]
    let setExpressions: [Expression]
    /// The names set, for the fast path (all single names then): one array shared by
    /// every event's new fields.
    let setKeys: [String]
    let onlyAppendsCached: Bool
    let removes: [Path]
    let renames: [(Path, Path)]
    let name: String
    let activation: EventActivation
    /// For the text fast path (``appendAsText(_:into:)``): the set fields' keys as text,
    /// and their slots in the reader's field index.
    let members: MemberText
    /// `setExpressions`, unretained (that array holds them), and their count.
    let setRefs: [Unmanaged<Expression>]
    let setCount: Int
    /// For each `set` expression that is a bare variable, its name (see
    /// ``CELProgram/variable``).
    let setVariables: [CELName?]
    /// The values of the event at hand, one per `set` expression, kept from event to
    /// event. Only this step's stage touches them, one event at a time.
    let values: UnsafeMutablePointer<JSON>
    /// The values as ``appendAsText(_:into:)`` writes them, one per `set` expression
    /// (`.json` for one held in `values`).
    let memberValues: UnsafeMutablePointer<MemberValue>
    /// Whether each `set` expression is a bare variable (`setVariables[i] != nil`, read
    /// without copying the name).
    let setIsVariable: [Bool]
    /// Where the enriched events' bytes are cut from.
    @exclusivity(unchecked) var arena = ByteArena()

    package init(
        sets: [(Path, Expression)], removes: [Path], renames: [(Path, Path)], compiler: ExpressionCompiler, name: String
    ) {
        setPaths = sets.map(\.0)
        setExpressions = sets.map(\.1)
        onlyAppendsCached =
            removes.isEmpty && renames.isEmpty && sets.allSatisfy { $0.0.count == 1 }
            && Set(sets.map { $0.0[0] }).count == sets.count
        setKeys = sets.map { $0.0.first ?? "" }
        self.removes = removes
        self.renames = renames
        self.name = name
        activation = compiler.activation(prefetching: sets.map(\.1))
        members = MemberText(
            keys: sets.map { $0.0.first ?? "" }, opensObject: false, index: activation.readerIndex)
        setRefs = setExpressions.map { Unmanaged.passUnretained($0) }
        setCount = sets.count
        setVariables = sets.map { $0.1.program.variable }
        values = .allocate(capacity: max(1, sets.count))
        values.initialize(repeating: .null, count: max(1, sets.count))
        memberValues = .allocate(capacity: max(1, sets.count))
        memberValues.initialize(repeating: .null, count: max(1, sets.count))
        setIsVariable = setVariables.map { $0 != nil }
    }

    deinit {
        values.deinitialize(count: max(1, setCount)).deallocate()
        memberValues.deinitialize(count: max(1, setCount)).deallocate()
    }

    @usableFromInline package func process(_ event: Event, into out: inout StepOutput) {
        if onlyAppendsCached && !event.isValueBacked && appendToRaw(event, into: &out) { return }
        guard case .object(var object) = event.value else {
            out.reject(event, step: name, message: "enrich: the event is not an object")
            return
        }
        activation.event = Event(.object(object))
        var values: [JSON] = []
        values.reserveCapacity(setExpressions.count)
        for i in setExpressions.indices {
            do {
                values.append(try setExpressions[i].evaluateJSON(activation))
            } catch {
                activation.event = Event(.null)
                out.reject(event, step: name, message: "set \(setPaths[i].joined(separator: ".")): \(error.message)")
                return
            }
        }
        // Drop the activation's reference first, so the object is changed in place
        // rather than copied.
        activation.event = Event(.null)
        for i in setPaths.indices {
            if !Self.set(setPaths[i][...], values[i], in: &object) {
                let path = setPaths[i]
                out.reject(
                    event, step: name,
                    message:
                        "set \(path.joined(separator: ".")): '\(path.dropLast().joined(separator: "."))' is not an object"
                )
                return
            }
        }
        for path in removes { Self.remove(path[...], in: &object) }
        for (old, new) in renames {
            if old.count == 1 && new.count == 1 {
                object.renameKey(old[0], to: new[0])
            } else if let v = Self.remove(old[...], in: &object) {
                _ = Self.set(new[...], v, in: &object)
            }
        }
        var e = event
        e.setValue(.object(object))
        out.emit(e)
    }

    /// The fast path for an event lent by pointer (as stages drive steps): the
    /// expressions read the event where it is (``EventActivation/withEventInPlace(at:_:)``),
    /// and the emitted event is the original bytes with the new fields' text appended,
    /// in one copy (``appendAsText(_:into:)``). Other events, events that already have
    /// one of the fields, and values that are lists or maps take ``process(_:into:)``.
    @usableFromInline package func process(at event: UnsafePointer<Event>, into out: inout StepOutput) {
        guard onlyAppendsCached && !event.pointee.isValueBacked,
            let status = activation.withEventInPlace(at: event, { appendAsText(event, into: &out) })
        else {
            process(event.pointee, into: &out)
            return
        }
        switch status {
        case .emitted: return
        case .failed(let failure):
            out.reject(event.pointee, step: name, message: "set \(setKeys[failure.index]): \(failure.error.message)")
        case .general: process(event.pointee, into: &out)
        }
    }

    /// What ``appendAsText(_:into:)`` did with an event.
    enum AppendStatus {
        /// It emitted the event with its new fields.
        case emitted
        /// A `set` expression failed.
        case failed(SetFailure)
        /// Nothing: the event is not for this path (a field exists, a value is a list or
        /// a map, the event is not an object), and the general path handles it.
        case general
    }

    /// Evaluates the `set` expressions on the bound raw event, then emits a copy of its
    /// bytes with `"key":value` appended for each (``Event/emitAppending(to:membersUpTo:arena:into:_:)``),
    /// recording where the indexed new fields are. A bool-valued condition
    /// (`amount > 250.0`) is decided by its flat plan without building a value; the
    /// others are converted to JSON as ``Expression/evaluateJSON(_:)`` does, in the same
    /// order, so the same errors win. Arithmetic (`int(amount * 100.0)`) is computed by
    /// its flat plan (``CELProgram/evaluateNumber(_:)``) when it can be.
    func appendAsText(_ event: UnsafePointer<Event>, into out: inout StepOutput) -> AppendStatus {
        var bound = members.keyBytes.count
        for i in 0..<setCount {
            let member: MemberValue
            if setIsVariable[i], let name = setVariables[i] {
                // A bare variable: what evaluating it does, without its truth test; its
                // text copied as it is when that is what writing its value gives.
                if let text = activation.verbatimScalar(name) {
                    member = .text(text)
                } else {
                    guard let v = activation.resolve(name) else {
                        return .failed(SetFailure(index: i, error: CELProgram.noSuchAttribute(name)))
                    }
                    if let m = MemberValue(v) {
                        member = m
                    } else {
                        switch Result(catching: { () throws(CELError) -> JSON in try v.toJSON() }) {
                        case .success(let j): values[i] = j
                        case .failure(let error): return .failed(SetFailure(index: i, error: error))
                        }
                        member = .json
                    }
                }
            } else if let b = setRefs[i]._withUnsafeGuaranteedRef({ $0.program.evaluateCondition(activation) }) {
                member = .bool(b)
            } else if let n = setRefs[i]._withUnsafeGuaranteedRef({ $0.program.evaluateNumber(activation) }),
                let m = MemberValue(n)
            {
                // Arithmetic (`int(amount * 100.0)`) by its flat plan; a non-finite double
                // is left to the full evaluation, whose conversion to JSON reports it.
                member = m
            } else {
                let result = setRefs[i]._withUnsafeGuaranteedRef { e in
                    Result { () throws(CELError) -> JSON in try e.evaluateJSON(activation) }
                }
                switch result {
                case .success(.null): member = .null
                case .success(.bool(let b)): member = .bool(b)
                case .success(.int(let v)): member = .int(v)
                // Finite: conversion to JSON reports the others.
                case .success(.double(let d)): member = .double(d)
                case .success(let v):
                    values[i] = v
                    member = .json
                case .failure(let error): return .failed(SetFailure(index: i, error: error))
                }
            }
            guard let b = member.bound(json: values[i]) else { return .general }
            memberValues[i] = member
            bound &+= b
        }
        // The fields must be new: the reader recorded whether they are, else a scan.
        var scan = false
        let offsets = event.pointee.offsets
        for i in 0..<setCount {
            switch offsets[members.slots[i]] {
            case .absent: continue
            case .offset: return .general
            case .unknown: scan = true
            }
        }
        if scan, event.pointee.withRawBytes({ JSONParser.hasAnyKey(setKeys, in: $0) }) != false { return .general }
        let emitted = Event.emitAppending(to: event, membersUpTo: bound, arena: &arena, into: &out) {
            p, start, offsets in
            members.write(memberValues, json: values, at: p, start: start, offsets: &offsets)
        }
        return emitted ? .emitted : .general
    }

    /// Which `set` expression failed, and why.
    struct SetFailure: Error {
        var index: Int
        var error: CELError
    }

    /// The values of the `set` expressions on the bound event, in order, or the first
    /// that fails.
    @inline(__always)
    func evaluateSets() -> Result<[JSON], SetFailure> {
        var values: [JSON] = []
        values.reserveCapacity(setExpressions.count)
        for i in setExpressions.indices {
            do throws(CELError) {
                values.append(try setExpressions[i].evaluateJSON(activation))
            } catch {
                return .failure(SetFailure(index: i, error: error))
            }
        }
        return .success(values)
    }

    /// The fast path for an event passed by value: evaluate on the raw event and splice
    /// the new fields in, without parsing the event. False (nothing emitted) when a field
    /// already exists, so the general path must keep the field's place.
    func appendToRaw(_ event: Event, into out: inout StepOutput) -> Bool {
        activation.event = event
        let result = evaluateSets()
        activation.event = Event(.null)
        switch result {
        case .success(let values):
            var e = event
            guard e.appendNewFields(JSONObject(uniqueKeys: setKeys, values: values)) else { return false }
            out.emit(consume e)
        case .failure(let failure):
            out.reject(event, step: name, message: "set \(setKeys[failure.index]): \(failure.error.message)")
        }
        return true
    }

    /// Sets `path` to `value`, creating objects on the way; false when a non-object is
    /// in the way.
    static func set(_ path: ArraySlice<String>, _ value: JSON, in object: inout JSONObject) -> Bool {
        guard let head = path.first else { return false }
        if path.count == 1 {
            object[head] = value
            return true
        }
        var child: JSONObject
        switch object[head] {
        case nil, .null?: child = JSONObject()
        case .object(let o)?: child = o
        default: return false
        }
        guard set(path.dropFirst(), value, in: &child) else { return false }
        object[head] = .object(child)
        return true
    }

    @discardableResult
    static func remove(_ path: ArraySlice<String>, in object: inout JSONObject) -> JSON? {
        guard let head = path.first else { return nil }
        if path.count == 1 { return object.removeValue(forKey: head) }
        guard case .object(var child)? = object[head] else { return nil }
        let removed = remove(path.dropFirst(), in: &child)
        if removed != nil { object[head] = .object(child) }
        return removed
    }

    static func path(_ text: String) -> Path {
        text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    }

    static let definition = StepDefinition(
        kind: "enrich",
        summary: "Set computed fields, remove fields, rename fields (in that order).",
        keys: ["set", "remove", "rename"],
        compile: { ctx in
            guard let m = ctx.map() else { return nil }
            let c = ctx.context
            var sets: [(Path, Expression)] = []
            var removes: [Path] = []
            var renames: [(Path, Path)] = []
            var ok = true
            func checkPath(_ text: String, _ node: YAMLNode) -> Path? {
                let p = path(text)
                if p.contains(where: \.isEmpty) {
                    c.error(
                        node.location, "field name '\(text)' has an empty part",
                        hint: "write dotted names like 'geo.city'")
                    ok = false
                    return nil
                }
                return p
            }
            if let node = m.node("set") {
                if let pairs = node.mapping {
                    for pair in pairs {
                        guard let k = pair.key.text, let p = checkPath(k, pair.key) else { continue }
                        guard let e = c.expression(pair.value, what: "'\(k)' in 'set'"),
                            let compiled = ctx.expressions.compile(e, context: c)
                        else {
                            ok = false
                            continue
                        }
                        sets.append((p, compiled))
                    }
                } else {
                    c.typeMismatch(node, expected: "a mapping of field names to expressions", what: "'set' in 'enrich'")
                    ok = false
                }
            }
            if let node = m.node("remove") {
                if let list = c.stringList(node, what: "'remove' in 'enrich'") {
                    for r in list { if let p = checkPath(r, node) { removes.append(p) } }
                } else {
                    ok = false
                }
            }
            if let node = m.node("rename") {
                if let pairs = node.mapping {
                    for pair in pairs {
                        guard let k = pair.key.text, let p = checkPath(k, pair.key),
                            let n = c.string(pair.value, what: "new name of '\(k)'"), let q = checkPath(n, pair.value)
                        else {
                            ok = false
                            continue
                        }
                        renames.append((p, q))
                    }
                } else {
                    c.typeMismatch(node, expected: "a mapping of old names to new names", what: "'rename' in 'enrich'")
                    ok = false
                }
            }
            m.finish()
            // The fast path checks that the fields it adds are absent: let readers note
            // where (whether) they are.
            ctx.expressions.noteFieldsRead(sets.compactMap { $0.0.count == 1 ? $0.0[0] : nil })
            if sets.isEmpty && removes.isEmpty && renames.isEmpty && ok {
                c.error(ctx.config.location, "'enrich' needs at least one of 'set', 'remove' or 'rename'")
                ok = false
            }
            guard ok else { return nil }
            let compiler = ctx.expressions
            let name = ctx.stepName
            let s = sets
            let r = removes
            let n = renames
            return { EnrichStep(sets: s, removes: r, renames: n, compiler: compiler, name: name) }
        }
    )
}
