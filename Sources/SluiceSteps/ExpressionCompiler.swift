#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import SluiceCEL
import SluiceCore
import SluiceJSON

/// A compiled CEL expression of a pipeline, with the source it came from. A class, so
/// that steps holding many of them pass them around with one retain.
public final class Expression: Sendable {
    /// The compiled program.
    public let program: CELProgram
    /// The CEL source, for messages.
    public let source: String
    /// The environment it was compiled in (to make activations for it).
    public let compiler: ExpressionCompiler

    init(program: CELProgram, source: String, compiler: ExpressionCompiler) {
        self.program = program
        self.source = source
        self.compiler = compiler
    }

    /// Evaluates against `activation`.
    @inlinable
    public func evaluate(_ activation: some CELActivation) throws(CELError) -> CELValue {
        try program.evaluate(activation)
    }

    /// Evaluates and requires a boolean.
    @inlinable
    public func evaluateBool(_ activation: some CELActivation) throws(CELError) -> Bool {
        let v = try program.evaluate(activation)
        guard case .bool(let b) = v else { throw CELError("expected a bool from '\(source)', got \(v.typeName)") }
        return b
    }

    /// Evaluates and converts the result to JSON.
    public func evaluateJSON(_ activation: some CELActivation) throws(CELError) -> JSON {
        try program.evaluate(activation).toJSON()
    }
}

/// Compiles the expressions of one pipeline: CEL plus Sluice's bindings (SPEC §3).
///
/// Names an expression can use, in the order they are looked up: comprehension variables
/// and pattern captures (bound by the step), `event` (the whole event), `params`, the
/// pipeline's table names, then the event's top-level fields. Functions beyond standard
/// CEL: `now()`, `lookup(table, key)` and the list aggregates `sum()`, `min()`, `max()`,
/// `avg()`.
public final class ExpressionCompiler: Sendable {
    let environment: CELEnvironment
    /// `params` as a CEL map.
    public let params: CELValue
    /// Lookup tables by name, each a map from key to row.
    public let tables: [String: CELValue]
    let eventName: CELName
    let paramsName: CELName

    /// An environment with `params` and `tables`.
    public init(params: JSONObject = JSONObject(), tables: [String: CELValue] = [:]) {
        var options = CELOptions()
        options.variablesShadowTypeNames = true
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
        self.tables = tables
        eventName = env.name("event")
        paramsName = env.name("params")
    }

    /// Compiles `expr`, reporting a syntax or type error at its line and column.
    public func compile(_ expr: ConfigExpression, context: ConfigContext) -> Expression? {
        do {
            return try compile(source: expr.source)
        } catch {
            context.error(expr.location(ofOffset: error.offset), "in expression: \(error.message)")
            return nil
        }
    }

    /// Compiles CEL source.
    public func compile(source: String) throws(CELCompileError) -> Expression {
        Expression(program: try environment.compile(source), source: source, compiler: self)
    }

    /// The value of a pipeline-wide name (`params` or a table), or nil.
    @inline(__always)
    public func global(_ name: CELName) -> CELValue? {
        if name.id == paramsName.id { return params }
        if !tables.isEmpty, let t = tables[name.string] { return t }
        return nil
    }

    /// Makes an activation for evaluating expressions over events.
    public func activation() -> EventActivation { EventActivation(self) }
}

func clockRealtimeNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Binds one event's fields for evaluation. A step keeps one and sets ``event`` before
/// each evaluation, so evaluating allocates no activation.
public final class EventActivation: CELActivation {
    /// The event being evaluated. Setting it forgets the fields read from the last one.
    public var event: Event {
        didSet { if !cache.isEmpty { cache.removeAll(keepingCapacity: true) } }
    }
    /// Fields already read from this event, by name id: several expressions of one step
    /// (or one expression reading a field twice) scan the raw bytes once.
    var cache: [(id: Int, value: CELValue?)] = []
    /// Extra names bound for this evaluation (pattern captures), looked up first.
    public var bindings: [String: CELValue] = [:]
    let compiler: ExpressionCompiler

    init(_ compiler: ExpressionCompiler) {
        self.compiler = compiler
        event = Event(.null)
        cache.reserveCapacity(8)
    }

    public func resolve(_ name: CELName) -> CELValue? {
        if !bindings.isEmpty, let b = bindings[name.string] { return b }
        if name.id == compiler.eventName.id { return CELValue(json: event.value) }
        if let g = compiler.global(name) { return g }
        for entry in cache where entry.id == name.id { return entry.value }
        let v = event.field(name.string).map { CELValue(json: $0) }
        if cache.count < 8 { cache.append((name.id, v)) }
        return v
    }
}
