import SluiceCEL
import SluiceCore
import SluiceJSON
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A compiled CEL expression of a pipeline, with the source it came from. A class, so
/// that steps holding many of them pass them around with one retain.
@usableFromInline package final class Expression: Sendable {
    /// The compiled program.
    @usableFromInline package let program: CELProgram
    /// The CEL source, for messages.
    @usableFromInline package let source: String
    /// The environment it was compiled in (to make activations for it).
    @usableFromInline package let compiler: ExpressionCompiler

    init(program: CELProgram, source: String, compiler: ExpressionCompiler) {
        self.program = program
        self.source = source
        self.compiler = compiler
    }

    /// Evaluates against `activation`.
    @inlinable
    package func evaluate(_ activation: some CELActivation) throws(CELError) -> CELValue {
        if let a = activation as? EventActivation, a.ownFieldsLendable { return try evaluateLending(a) }
        return try program.evaluate(activation)
    }

    /// ``evaluate(_:)`` with the activation's own parsed event lent for the evaluation
    /// (kept out of line, so that callers binding events otherwise stay small).
    @usableFromInline @inline(never)
    func evaluateLending(_ a: EventActivation) throws(CELError) -> CELValue {
        try a.withOwnFieldsLent { () throws(CELError) -> CELValue in try program.evaluate(a) }
    }

    /// Evaluates and requires a boolean.
    @inlinable
    package func evaluateBool(_ activation: some CELActivation) throws(CELError) -> Bool {
        if let a = activation as? EventActivation, a.ownFieldsLendable { return try evaluateBoolLending(a) }
        return try evaluateBoolInPlace(activation)
    }

    /// ``evaluateBool(_:)`` with the activation's own parsed event lent for the
    /// evaluation (out of line, as ``evaluateLending(_:)``).
    @usableFromInline @inline(never)
    func evaluateBoolLending(_ a: EventActivation) throws(CELError) -> Bool {
        try a.withOwnFieldsLent { () throws(CELError) -> Bool in try evaluateBoolInPlace(a) }
    }

    /// ``evaluateBool(_:)`` on the activation as it is bound.
    @inlinable
    func evaluateBoolInPlace(_ activation: some CELActivation) throws(CELError) -> Bool {
        if let b = program.evaluateCondition(activation) { return b }
        let v = try program.evaluate(activation)
        guard case .bool(let b) = v else { throw CELError("expected a bool from '\(source)', got \(v.typeName)") }
        return b
    }

    /// Evaluates and converts the result to JSON.
    @usableFromInline package func evaluateJSON(_ activation: some CELActivation) throws(CELError) -> JSON {
        try evaluate(activation).toJSON()
    }
}

/// Compiles the expressions of one pipeline: CEL plus Sluice's bindings (docs/cel.md).
///
/// Names an expression can use, in the order they are looked up: comprehension variables
/// and pattern captures (bound by the step), `event` (the whole event), `params`, the
/// pipeline's table names, then the event's top-level fields. Functions beyond standard
/// CEL: `now()`, `lookup(table, key)` and the list aggregates `sum()`, `min()`, `max()`,
/// `avg()`.
@usableFromInline package final class ExpressionCompiler: Sendable {
    let environment: CELEnvironment
    /// `params` as a CEL map.
    @usableFromInline package let params: CELValue
    /// Lookup tables by name, each a map from key to row.
    @usableFromInline package let tables: [String: CELValue]
    /// The tables among ``tables`` whose rows change during a run (read from here; their
    /// entry in ``tables`` only marks the name as a table's).
    @usableFromInline package let liveTables: [String: any LiveTable]
    let eventName: CELName
    let paramsName: CELName
    /// Top-level names the compiled expressions read, in first-compiled order, and the
    /// index made of them once asked for (after compiling).
    let fieldsRead = Mutex<(names: [String], index: FieldIndex?)>(([], nil))
    /// The declared parameter names when `params.NAME` must name one of them (a
    /// pipeline's `params:`), so that a typo is a compile error; nil accepts any name.
    let declaredParams: [String]?

    /// The cost budget of one evaluation (`limits: {cel_cost: N}`; see
    /// ``CELOptions/costLimit``).
    @usableFromInline package let costLimit: Int

    /// An environment with `params` and `tables`, whose evaluations may cost up to
    /// `costLimit` each. With `checkParams`, reading `params.NAME` for a NAME that
    /// `params` lacks is a compile error.
    @usableFromInline package init(
        params: JSONObject = JSONObject(), tables: [String: CELValue] = [:], checkParams: Bool = false,
        costLimit: Int = CELOptions.defaultCostLimit, liveTables: [String: any LiveTable] = [:]
    ) {
        var options = CELOptions()
        options.variablesShadowTypeNames = true
        options.costLimit = costLimit
        self.costLimit = costLimit
        var env = CELEnvironment(options: options)
        env.addFunction("now", receiverStyle: false, arity: 0) { _ throws(CELError) in
            let ns = Int64(clockRealtimeNanos())
            return .timestamp(try CELTimestamp(seconds: ns / 1_000_000_000, nanos: Int32(ns % 1_000_000_000)))
        }
        env.addFunction("lookup", receiverStyle: false, arity: 2) { args throws(CELError) in
            guard case .map(let table) = args[0] else {
                throw CELError("lookup: the first argument must be a table, got \(args[0].typeName)")
            }
            return table[args[1]] ?? .null
        }
        environment = env
        self.params = CELValue(json: .object(params))
        var all = tables
        for name in liveTables.keys where all[name] == nil { all[name] = .map(CELMap(minimumCapacity: 0)) }
        self.tables = all
        self.liveTables = liveTables
        declaredParams = checkParams ? params.keys : nil
        eventName = env.name("event")
        paramsName = env.name("params")
    }

    /// Compiles `expr`, reporting a syntax or type error at its line and column.
    @usableFromInline package func compile(_ expr: ConfigExpression, context: ConfigContext) -> Expression? {
        do {
            let compiled = try compile(source: expr.source)
            let estimate = compiled.program.costEstimate
            if estimate.degree >= 2 {
                let power = estimate.degree == 2 ? "quadratically with" : "as the \(estimate.degree)th power of"
                context.warning(
                    expr.location(ofOffset: estimate.offset),
                    "this expression's cost grows \(power) the event's size: \(estimate.reason ?? "comprehensions nest over event data")",
                    hint:
                        "an event that makes one evaluation cost more than \(costLimit) (limits: cel_cost) is rejected; iterate over a bounded list, or split the work into steps"
                )
            }
            return compiled
        } catch {
            var hint: String?
            if error.message.hasPrefix("unknown parameter"), let declared = declaredParams {
                hint =
                    declared.isEmpty
                    ? "the pipeline declares no parameters; add them under 'params:' (--set only overrides declared ones)"
                    : "declared parameters: \(quotedList(declared, or: false)); --set only overrides declared ones"
            } else if expr.node.scalar?.style == .plain, Self.hasUnclosedBracket(expr.source) {
                // `{ total: f(a, b) }`: YAML ended the plain value at the comma.
                hint = Self.flowCommaHint
            }
            context.error(expr.location(ofOffset: error.offset), "in expression: \(error.message)", hint: hint)
            return nil
        }
    }

    /// Whether the activation answers `name` with the event's own top-level field of that
    /// name: not `event`, `params`, a table or a dotted name.
    func answersWithEventField(_ name: CELName) -> Bool {
        name.id != eventName.id && name.id != paramsName.id && tables[name.string] == nil && !name.string.contains(".")
    }

    /// Compiles CEL source.
    @usableFromInline package func compile(source: String) throws(CELCompileError) -> Expression {
        let program = try environment.compile(source)
        if let declared = declaredParams { try Self.checkParams(program, source: source, declared: declared) }
        let names = program.referencedNames.filter(answersWithEventField).map(\.string)
        if !names.isEmpty { noteFieldsRead(names) }
        return Expression(program: program, source: source, compiler: self)
    }

    /// The note for an unquoted expression that YAML cut at a comma.
    @usableFromInline package static let flowCommaHint =
        "in a YAML flow mapping or list ('{...}', '[...]') a comma ends an unquoted value: quote the expression, e.g. 'f(a, b)'"

    /// True when `source` opens more brackets than it closes (outside string literals).
    @usableFromInline package static func hasUnclosedBracket(_ source: String) -> Bool {
        var depth = 0
        var quote: Character?
        var escaped = false
        for c in source {
            if let q = quote {
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == q { quote = nil }
                continue
            }
            switch c {
            case "\"", "'": quote = c
            case "(", "[", "{": depth += 1
            case ")", "]", "}": depth -= 1
            default: break
            }
        }
        return depth > 0
    }

    /// Throws for the first `params.NAME` whose NAME is not declared, at its place in
    /// `source`. `has(params.NAME)` and `params["NAME"]` are tests and stay allowed.
    @usableFromInline package static func checkParams(_ program: CELProgram, source: String, declared: [String])
        throws(CELCompileError)
    {
        let prefix = "params."
        for n in program.referencedNames where n.string.hasPrefix(prefix) {
            let rest = n.string.dropFirst(prefix.count)
            let name = String(rest.prefix { $0 != "." })
            if declared.contains(name) { continue }
            // The reference's place: the first `params . NAME` in the source.
            let offset = Self.offset(ofSelection: name, on: "params", in: source) ?? 0
            throw CELCompileError("unknown parameter '\(name)'\(didYouMean(name, among: declared))", offset: offset)
        }
    }

    /// The scalar offset of the first `base.field` (spaces allowed around the dot)
    /// outside string literals in `source`, pointing at `base`.
    static func offset(ofSelection field: String, on base: String, in source: String) -> Int? {
        let s = Array(source.unicodeScalars)
        let b = Array(base.unicodeScalars)
        let f = Array(field.unicodeScalars)
        func isWord(_ c: Unicode.Scalar) -> Bool { c == "_" || c.properties.isAlphabetic || ("0"..."9").contains(c) }
        var quote: Unicode.Scalar?
        var i = 0
        while i < s.count {
            let c = s[i]
            if let q = quote {
                if c == "\\" { i += 2; continue }
                if c == q { quote = nil }
                i += 1
                continue
            }
            if c == "\"" || c == "'" {
                quote = c
                i += 1
                continue
            }
            if (i == 0 || !isWord(s[i - 1])), i + b.count <= s.count, Array(s[i..<(i + b.count)]) == b {
                var j = i + b.count
                while j < s.count, s[j] == " " || s[j] == "\n" || s[j] == "\t" { j += 1 }
                if j < s.count, s[j] == "." {
                    j += 1
                    while j < s.count, s[j] == " " || s[j] == "\n" || s[j] == "\t" { j += 1 }
                    if j + f.count <= s.count, Array(s[j..<(j + f.count)]) == f,
                        j + f.count == s.count || !isWord(s[j + f.count])
                    {
                        return i
                    }
                }
            }
            i += 1
        }
        return nil
    }

    /// Notes top-level fields a step reads or checks without an expression (the fields
    /// an `enrich` adds, which it must know are absent), for ``fieldIndex``.
    @usableFromInline package func noteFieldsRead(_ names: [String]) {
        fieldsRead.withLock { state in
            for n in names where !state.names.contains(n) { state.names.append(n) }
        }
    }

    /// Uses `index` as ``fieldIndex`` (when none was made yet): a second compilation of
    /// the same pipeline, for a partition worker, must recognise the offsets that the
    /// first compilation's reader recorded, which activations check by identity.
    @usableFromInline package func adoptFieldIndex(_ index: FieldIndex) {
        fieldsRead.withLock { state in
            if state.index == nil { state.index = index }
        }
    }

    /// The index of the top-level fields the pipeline's expressions read (the first
    /// ``FieldIndex/capacity`` of them), for readers to record their places in each
    /// event (see ``FieldIndex``). Made on the first call, so ask after compiling; the
    /// same object afterwards, which activations use to trust an event's offsets.
    @usableFromInline package var fieldIndex: FieldIndex {
        fieldsRead.withLock { state in
            if let made = state.index { return made }
            let made = FieldIndex(state.names)
            state.index = made
            return made
        }
    }

    /// The value of a pipeline-wide name (`params` or a table), or nil.
    @inline(__always)
    @usableFromInline package func global(_ name: CELName) -> CELValue? {
        if name.id == paramsName.id { return params }
        if !tables.isEmpty, let t = tables[name.string] {
            if !liveTables.isEmpty, let live = liveTables[name.string] { return live.current }
            return t
        }
        return nil
    }

    /// Makes an activation for evaluating expressions over events.
    @usableFromInline package func activation() -> EventActivation { EventActivation(self) }

    /// An activation that, on the first field read of a raw event, reads every field
    /// `expressions` refer to in one pass over the bytes (a filter on `amount` and
    /// `country` scans the event once, not twice).
    @usableFromInline package func activation(prefetching expressions: [Expression]) -> EventActivation {
        let a = EventActivation(self)
        var seen = Set<Int>()
        // Whether every name the expressions read is a plain field the reader indexes (no
        // `event`, no dotted name): then a raw event can be bound without a copy.
        var onlyIndexedFields = true
        for e in expressions {
            for n in e.program.referencedNames where n.id != paramsName.id && tables[n.string] == nil {
                if n.id == eventName.id || n.string.contains(".") || !a.slotIDs.contains(n.id) {
                    onlyIndexedFields = false
                }
                if n.id == eventName.id { continue }
                if !n.string.contains("."), seen.insert(n.id).inserted, a.prefetchIDs.count < EventActivation.cacheSize
                {
                    a.prefetchIDs.append(n.id)
                    a.prefetchKeys.append(Array(n.string.utf8))
                }
            }
        }
        a.rawBorrowable = onlyIndexedFields && !seen.isEmpty
        return a
    }
}

func clockRealtimeNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Binds one event's fields for evaluation. A step keeps one and sets ``event`` before
/// each evaluation, or lends it the event it is handling for a closure with
/// ``withEvent(_:_:)`` or ``withEventInPlace(_:_:)``, so evaluating allocates no
/// activation.
///
/// A lent event is read where it is, through buffers that are valid only while the
/// event's owner lends them; the activation holds them only for the lending closure and
/// forgets them before it returns, so no pointer outlives the call that lent it.
@usableFromInline package final class EventActivation: CELActivation {
    /// The event being evaluated. Setting it forgets the fields read from the last one.
    @usableFromInline package var event: Event {
        get { current }
        set {
            // Moved in and the old event moved out explicitly: a plain assignment to a
            // stored property copies the new event and destroys it again (two more
            // retain/release pairs per event).
            let old = storage.move()
            storage.initialize(to: newValue)
            bind()
            _ = consume old
        }
    }
    /// The event last set, read in place.
    var current: Event {
        unsafeAddress { UnsafePointer(storage) }
    }
    /// Where ``event`` keeps its event (allocated once, freed with the activation).
    let storage: UnsafeMutablePointer<Event>
    /// Whether the bound event is a parsed value, and whether it is lent (`borrowed`):
    /// then, for a parsed object, `fieldKeys` and `fieldValues` are its keys and values,
    /// lent by its owner for the duration of the lending closure only (see
    /// ``withFieldsLent(_:_:_:)``), and empty at any other time. Fields of ``event`` itself
    /// are read inside ``Event/withParsedFields(_:)`` on each read. Reading a field copies
    /// neither the event nor its object, as `event.field` would.
    @exclusivity(unchecked) @usableFromInline var parsed = false
    @exclusivity(unchecked) @usableFromInline var borrowed = false
    @exclusivity(unchecked) var fieldKeys = UnsafeBufferPointer<String>(start: nil, count: 0)
    @exclusivity(unchecked) var fieldValues = UnsafeBufferPointer<JSON>(start: nil, count: 0)
    /// Shape cache for parsed objects, by name id (see ``FieldPositionCache``).
    @exclusivity(unchecked) var positions = FieldPositionCache()
    /// Fields already read from this raw event, by name id: several expressions of one
    /// step (or one expression reading a field twice) scan the raw bytes once. The first
    /// `cacheCount` entries are valid, so forgetting them is one store. Kept in memory
    /// of its own (``cacheSize`` entries, freed with the activation): as an array, each
    /// read was bounds-checked and each write checked the array's uniqueness.
    let cache: UnsafeMutablePointer<(id: Int, value: CELValue?)>
    @exclusivity(unchecked) var cacheCount = 0
    /// Extra names bound for this evaluation (pattern captures), looked up first.
    @exclusivity(unchecked) @usableFromInline package var bindings: [String: CELValue] = [:] {
        didSet { updateInPlace() }
    }
    /// Whether fields are read from the parsed object in place: a parsed event, and
    /// no bindings or tables that could shadow a field.
    @exclusivity(unchecked) var inPlace = false
    let compiler: ExpressionCompiler
    /// The ids of `event` and `params`, and whether there are tables, read once here so
    /// that resolving a field touches no other object.
    let eventID: Int
    let paramsID: Int
    let hasTables: Bool

    static let cacheSize = 8
    /// Set by ``ExpressionCompiler/activation(prefetching:)`` when its expressions read
    /// only fields the reader indexes (see ``withEventInPlace(_:_:)``).
    @exclusivity(unchecked) @usableFromInline var rawBorrowable = false
    /// The pipeline's field index and the name id of each of its slots: a raw event read
    /// with this index tells where those fields' values start, so reading one parses just
    /// the value.
    @usableFromInline let readerIndex: FieldIndex
    let slotIDs: [Int]
    /// Fields read together on the first miss of a raw event (see
    /// ``ExpressionCompiler/activation(prefetching:)``).
    var prefetchIDs: [Int] = []
    var prefetchKeys: [[UInt8]] = []
    var prefetched: [JSON?] = []

    init(_ compiler: ExpressionCompiler) {
        self.compiler = compiler
        eventID = compiler.eventName.id
        paramsID = compiler.paramsName.id
        hasTables = !compiler.tables.isEmpty
        readerIndex = compiler.fieldIndex
        slotIDs = readerIndex.keys.map { compiler.environment.name($0).id }
        storage = .allocate(capacity: 1)
        storage.initialize(to: Event(.null))
        cache = .allocate(capacity: Self.cacheSize)
        cache.initialize(repeating: (-1, nil), count: Self.cacheSize)
        bind()
    }

    /// For a raw event read with ``readerIndex``: its bytes and recorded offsets (valid
    /// while `current` holds the event), so reading an indexed field copies nothing.
    @exclusivity(unchecked) var rawIndexed = false
    @exclusivity(unchecked) var rawBytes = UnsafeRawBufferPointer(start: nil, count: 0)
    @exclusivity(unchecked) var rawOffsets = FieldOffsets()

    deinit {
        storage.deinitialize(count: 1).deallocate()
        cache.deinitialize(count: Self.cacheSize).deallocate()
    }

    /// Runs `body` with `event` bound for evaluation, without copying it when it can be
    /// lent in place (see ``withEventInPlace(_:_:)``); other events are bound as by
    /// setting ``event``. Within `body`, ``event`` may still return the event it was last
    /// set to; afterwards the activation is bound to that one again if `event` was lent.
    @inlinable
    package func withEvent<R>(_ event: borrowing Event, _ body: () -> R) -> R {
        if let r = withEventInPlace(event, body) { return r }
        self.event = copy event
        return body()
    }

    /// Runs `body` with `event` lent for evaluation in place, and returns its result: a
    /// parsed object's fields are read where they are, and a raw event read with the
    /// pipeline's field index by its bytes when every expression of this activation
    /// reads only indexed fields (``rawBorrowable``). Returns nil without calling `body`
    /// for other events (set ``event`` then). The event is bound only inside `body`;
    /// afterwards the activation is bound to ``event`` again. A step evaluating over the
    /// event it is handling saves a copy and a destruction of the event per evaluation.
    @inlinable
    package func withEventInPlace<R>(_ event: borrowing Event, _ body: () -> R) -> R? {
        if let r = event.withParsedFields({ keys, values in withFieldsLent(keys, values, body) }) { return r }
        guard rawBorrowable, let view = event.rawView(for: readerIndex) else { return nil }
        return withRawLent(view.bytes, view.offsets, body)
    }

    /// ``withEventInPlace(_:_:)`` for an event lent by pointer, as ``Step/process(at:into:)``
    /// lends it. Passing `event.pointee` to ``withEventInPlace(_:_:)`` copies the event
    /// (and so retains and releases its buffers), since the compiler cannot prove that
    /// the call leaves the pointed-to memory alone; this reads it where it is.
    @inlinable
    package func withEventInPlace<R>(at event: UnsafePointer<Event>, _ body: () -> R) -> R? {
        if let r = Event.withParsedFields(at: event, { keys, values in withFieldsLent(keys, values, body) }) {
            return r
        }
        guard rawBorrowable, let view = Event.rawView(at: event, for: readerIndex) else { return nil }
        return withRawLent(view.bytes, view.offsets, body)
    }

    /// Runs `body` with the parsed object event whose keys and values are `keys` and
    /// `values` bound for evaluation. For a caller already inside
    /// ``Event/withParsedFields(_:)`` for other reasons (a key): the buffers it was lent
    /// are forgotten before this returns, so they do not outlive its closure.
    @usableFromInline
    package func withFieldsLent<R>(
        _ keys: UnsafeBufferPointer<String>, _ values: UnsafeBufferPointer<JSON>, _ body: () -> R
    ) -> R {
        lending(
            {
                parsed = true
                fieldKeys = keys
                fieldValues = values
                updateInPlace()
            }, body)
    }

    /// Runs `body` with a raw event bound by its bytes and the offsets the reader
    /// recorded, without a copy: only for activations whose expressions read nothing but
    /// indexed fields (``rawBorrowable``), so no read ever needs the event itself.
    /// Several stages reading one input (fan-out) then do not all retain and release its
    /// buffer.
    @usableFromInline
    func withRawLent<R>(_ bytes: UnsafeRawBufferPointer, _ offsets: FieldOffsets, _ body: () -> R) -> R {
        lending(
            {
                parsed = false
                inPlace = false
                rawIndexed = true
                rawBytes = bytes
                rawOffsets = offsets
            }, body)
    }

    /// Whether ``event`` is a parsed value whose fields are read in place and no other
    /// event is lent: ``withOwnFieldsLent(_:)`` then saves work.
    @inlinable
    package var ownFieldsLendable: Bool { parsed && !borrowed }

    /// Runs `body` with the fields of ``event`` (a parsed object) lent to the activation
    /// for its duration, so that its field reads take them from one lending instead of
    /// each entering ``Event/withParsedFields(_:)`` on its own. An expression's evaluation
    /// runs inside it.
    @usableFromInline
    package func withOwnFieldsLent<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        var result: Result<R, E>?
        _ = current.withParsedFields { keys, values in
            result = withFieldsLent(keys, values) { () -> Result<R, E> in
                do throws(E) {
                    return .success(try body())
                } catch {
                    return .failure(error)
                }
            }
        }
        guard let result else { return try body() }
        return try result.get()
    }

    /// Binds a lent event with `lend`, runs `body`, and binds again what was bound
    /// before: ``event`` (as ``bind()`` recorded it in `own`), or, when lent inside
    /// another lending, the event lent there.
    @inline(__always)
    func lending<R>(_ lend: () -> Void, _ body: () -> R) -> R {
        cacheCount = 0
        if borrowed {
            let outer = (parsed, fieldKeys, fieldValues, rawIndexed, rawBytes, rawOffsets)
            lend()
            defer {
                cacheCount = 0
                borrowed = true
                (parsed, fieldKeys, fieldValues, rawIndexed, rawBytes, rawOffsets) = outer
                updateInPlace()
            }
            return body()
        }
        borrowed = true
        lend()
        defer {
            cacheCount = 0
            borrowed = false
            parsed = own.parsed
            fieldKeys = UnsafeBufferPointer(start: nil, count: 0)
            fieldValues = UnsafeBufferPointer(start: nil, count: 0)
            rawIndexed = own.rawIndexed
            rawBytes = own.rawBytes
            rawOffsets = own.rawOffsets
            updateInPlace()
        }
        return body()
    }

    /// How ``bind()`` bound ``event``, for the end of a lending to restore.
    @exclusivity(unchecked) var own = (
        parsed: false, rawIndexed: false, rawBytes: UnsafeRawBufferPointer(start: nil, count: 0),
        rawOffsets: FieldOffsets()
    )

    @inline(__always)
    func updateInPlace() {
        inPlace = parsed && bindings.isEmpty && !hasTables
    }

    /// Binds ``event``. Its raw bytes belong to its buffer, which ``event`` holds, so
    /// they are kept; its parsed fields are not (they are lent only inside
    /// ``Event/withParsedFields(_:)``, and read there on each read).
    @inline(__always)
    func bind() {
        cacheCount = 0
        borrowed = false
        if !slotIDs.isEmpty, let view = current.rawView(for: readerIndex) {
            rawIndexed = true
            rawBytes = view.bytes
            rawOffsets = view.offsets
        } else {
            rawIndexed = false
        }
        parsed = current.isValueBacked
        fieldKeys = UnsafeBufferPointer(start: nil, count: 0)
        fieldValues = UnsafeBufferPointer(start: nil, count: 0)
        own = (parsed, rawIndexed, rawBytes, rawOffsets)
        updateInPlace()
    }

    /// The value of field `name` of the bound parsed event (nil when absent, or when the
    /// event is not an object): from the lent buffers, or from ``event`` in place.
    @inline(__always)
    func parsedField(_ name: CELName) -> CELValue? {
        if borrowed {
            guard let i = fieldIndex(name.string, id: name.id, count: name.string.utf8.count, in: fieldKeys) else {
                return nil
            }
            return CELValue(json: fieldValues[i])
        }
        return current.withParsedFields { keys, values -> CELValue? in
            guard let i = fieldIndex(name.string, id: name.id, count: name.string.utf8.count, in: keys) else {
                return nil
            }
            return CELValue(json: values[i])
        } ?? nil
    }

    /// The index of the key `key` (of `count` UTF-8 bytes, interned as `id`) among the
    /// parsed object's keys, trying where it was last found first; nil when absent.
    @inline(__always)
    func fieldIndex(_ key: String, id: Int, count: Int, in keys: UnsafeBufferPointer<String>) -> Int? {
        positions.index(of: key, id: id, utf8Count: count, in: keys)
    }

    @usableFromInline package func resolve(_ name: CELName) -> CELValue? {
        if inPlace && name.id != eventID && name.id != paramsID { return parsedField(name) }
        if !bindings.isEmpty, let b = bindings[name.string] { return b }
        let id = name.id
        if id == eventID {
            guard borrowed else { return CELValue(json: current.value) }
            // The borrowed event is a parsed object: rebuild it from its fields.
            var o = JSONObject(minimumCapacity: fieldKeys.count)
            for i in fieldKeys.indices { o.appendUnchecked(key: fieldKeys[i], value: fieldValues[i]) }
            return CELValue(json: .object(o))
        }
        if id == paramsID { return compiler.params }
        if hasTables, let t = compiler.tables[name.string] {
            if !compiler.liveTables.isEmpty, let live = compiler.liveTables[name.string] { return live.current }
            return t
        }
        if parsed { return parsedField(name) }
        var i = 0
        while i < cacheCount {
            if cache[i].id == id { return cache[i].value }
            i += 1
        }
        if rawIndexed {
            var slot = 0
            while slot < slotIDs.count {
                if slotIDs[slot] == id {
                    switch rawOffsets[slot] {
                    case .absent: return cached(id, nil)
                    case .offset(let o):
                        // Most values read are short numbers (`"amount":145.93`): read
                        // without the parser's general loop when they are.
                        if let v = JSONParser.shortNumber(at: o, in: rawBytes) ?? JSONParser.value(at: o, in: rawBytes)
                        {
                            return cached(id, CELValue(json: v))
                        }
                    case .unknown: break
                    }
                    break
                }
                slot += 1
            }
        }
        // A raw event bound by its bytes has only indexed fields to give.
        if borrowed && !parsed { return nil }
        if cacheCount == 0, let k = prefetchIDs.firstIndex(of: id),
            current.withRawBytes({ JSONParser.fields(prefetchKeys, in: $0, into: &prefetched) }) != nil
        {
            cachePrefetched(prefetched)
            return cache[k].value
        }
        return cached(id, current.field(name.string).map { CELValue(json: $0) })
    }

    /// The text of field `name` of the bound raw event when it is exactly the JSON text
    /// of the value ``resolve(_:)`` gives (``JSONWriter/verbatimScalar(at:in:)``: an ASCII
    /// string without escapes, an integer, a bool, null), or nil (then resolve it). Only
    /// where ``resolve(_:)`` reads the field from the raw bytes at the reader's offset, so
    /// a step writing the value as read (`map: '{"user": user}'`) may copy the text
    /// instead. Valid while the event is bound.
    func verbatimScalar(_ name: CELName) -> UnsafeRawBufferPointer? {
        let id = name.id
        guard rawIndexed, !parsed, !inPlace, bindings.isEmpty, !hasTables, id != eventID, id != paramsID else {
            return nil
        }
        var slot = 0
        while slot < slotIDs.count {
            if slotIDs[slot] == id {
                guard case .offset(let o) = rawOffsets[slot] else { return nil }
                return JSONWriter.verbatimScalar(at: o, in: rawBytes)
            }
            slot += 1
        }
        return nil
    }

    /// Caches the value of field `id` for this event and returns it.
    @inline(__always)
    func cached(_ id: Int, _ v: CELValue?) -> CELValue? {
        if cacheCount < Self.cacheSize {
            cache[cacheCount] = (id, v)
            cacheCount += 1
        }
        return v
    }

    /// Applies `test` to a field of a parsed object where it sits, without converting it;
    /// anything else through ``resolve(_:)``.
    @usableFromInline package func test(_ test: CELFieldTest) -> Bool? {
        let id = test.name.id
        if inPlace && id != eventID && id != paramsID {
            if borrowed {
                guard let i = fieldIndex(test.name.string, id: id, count: test.nameCount, in: fieldKeys) else {
                    return nil
                }
                return test.evaluate(json: fieldValues[i])
            }
            return current.withParsedFields { keys, values -> Bool? in
                guard let i = fieldIndex(test.name.string, id: id, count: test.nameCount, in: keys) else { return nil }
                return test.evaluate(json: values[i])
            } ?? nil
        }
        if rawIndexed && !parsed && test.rawComparable, let answer = rawTest(test) { return answer }
        guard let v = resolve(test.name) else { return nil }
        return test.evaluate(inline: v)
    }

    /// `test` on the bound raw event's field at the offset the reader recorded, read
    /// where it is: a string compared by its bytes (``CELFieldTest/evaluate(rawStringAt:in:)``,
    /// no value made), a short number read and cached as ``resolve(_:)`` would. Nil where
    /// ``resolve(_:)`` would not read the field there (a binding, a table, the event or
    /// params, a field the index does not hold or could not place), or where the test
    /// cannot tell without parsing; `.some(nil)` for an absent field, as ``resolve(_:)``
    /// gives nil for it.
    @inline(__always)
    func rawTest(_ test: CELFieldTest) -> Bool?? {
        let id = test.name.id
        guard bindings.isEmpty, !hasTables, id != eventID, id != paramsID else { return nil }
        var i = 0
        while i < cacheCount {
            if cache[i].id == id {
                guard let v = cache[i].value else { return .some(nil) }
                return .some(test.evaluate(inline: v))
            }
            i += 1
        }
        var slot = 0
        while slot < slotIDs.count {
            if slotIDs[slot] == id {
                switch rawOffsets[slot] {
                case .absent:
                    _ = cached(id, nil)
                    return .some(nil)
                case .offset(let o):
                    if test.comparesNumbers {
                        guard let n = JSONParser.shortNumber(at: o, in: rawBytes) else { return nil }
                        let v = CELValue(json: n)
                        _ = cached(id, v)
                        return .some(test.evaluate(inline: v))
                    }
                    return test.evaluate(rawStringAt: o, in: rawBytes)
                case .unknown: return nil
                }
            }
            slot += 1
        }
        return nil
    }
}

extension EventActivation {
    /// The names this activation reads together on a raw event's first field read, as
    /// UTF-8 (see ``ExpressionCompiler/activation(prefetching:)``).
    var prefetchedKeys: [[UInt8]] { prefetchKeys }

    /// Sets ``event`` and, when it is raw, reads the fields the activation prefetches and
    /// the extra ones after them in `keys` (which must start with ``prefetchedKeys``) in
    /// one pass over the bytes: `values[i]` is the value of `keys[i]`. For a step that
    /// needs a field of its own besides those of its expressions (a key), so the event is
    /// scanned once. Returns false, having only set the event, for other events.
    func bindReading(_ event: Event, keys: [[UInt8]], into values: inout [JSON?]) -> Bool {
        self.event = event
        guard current.withRawBytes({ JSONParser.fields(keys, in: $0, into: &values) }) != nil else { return false }
        cachePrefetched(values)
        return true
    }

    /// Caches the values read for the prefetched fields: `values[k]` is the value of
    /// `prefetchIDs[k]`.
    func cachePrefetched(_ values: [JSON?]) {
        for k in prefetchIDs.indices {
            cache[k] = (prefetchIDs[k], values[k].map { CELValue(json: $0) })
        }
        cacheCount = prefetchIDs.count
    }
}
