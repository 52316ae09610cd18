import SluiceCEL
import SluiceCore
import SluiceJSON

/// `window:` (SPEC §4): groups events by key into tumbling, hopping, session or count
/// windows and emits one aggregated event per key and window when the window closes.
///
/// The step reads the key and the aggregate arguments of each event, checks them, and
/// hands them to a ``WindowStateMachine``, which owns all window state; this class only
/// turns its ``WindowResult``s into output events (`having:`, key fields, `update`).
/// Problems with one event (an expression error, a non-number for `sum`, too many open
/// windows) reject that event; the window goes on.
public final class WindowStep: Step {
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
    @exclusivity(unchecked) var values: [JSON] = []
    @exclusivity(unchecked) var fired: [WindowResult] = []

    /// A window step with nothing open.
    public init(config: WindowConfig, compiler: ExpressionCompiler, name: String) {
        self.config = config
        self.name = name
        activation = compiler.activation()
        machine = WindowStateMachine(
            kind: config.kind, functions: config.aggregates.map(\.function), inputs: config.aggregates.map(\.input),
            allowedLateness: config.allowedLateness, maxOpenWindows: config.maxOpenWindows)
        if case .count = config.kind { isCount = true } else { isCount = false }
        if case .single(_, .field(let f)) = config.key { keyField = f } else { keyField = nil }
        inputFields = config.inputs.map { if case .field(let f) = $0 { f } else { nil } }
        inputExpressions = config.inputs.map { if case .expression(let e) = $0 { e } else { nil } }
        numeric = config.aggregates.enumerated().compactMap { i, a in
            a.function.needsNumbers && a.input >= 0 ? (i, a.input) : nil
        }
        values.reserveCapacity(config.inputs.count)
    }

    /// Windows open or kept for allowed lateness.
    public var stateSize: Int { machine.openWindows }

    /// Results depend on the watermark.
    public var usesWatermarks: Bool { true }

    /// Adds the event to its windows; it may instead go to `late` (every window it belongs
    /// to is gone) or `rejected` (bad key or value, too many open windows). Windows that
    /// fire because of it (late updates, full count windows) are emitted at once.
    public func process(_ event: Event, into out: inout StepOutput) {
        if !isCount, event.time == Event.noTime {
            out.reject(event, step: name, message: "window: the event has no time")
            return
        }
        // A parsed event is read through one copy of its object (each `event.field` call
        // copies it); a raw one is scanned per field without parsing.
        let object = event.parsedObject
        let key: JSON
        if let f = keyField {
            // The common case, read without CEL.
            guard let k = object != nil ? object?[f] : event.field(f) else {
                out.reject(event, step: name, message: "window: key '\(f)': no such field '\(f)'")
                return
            }
            key = k
        } else {
            switch config.key {
            case .global:
                key = .null
            case .single(let keyName, let input):
                guard let k = read(input, event, keyName: keyName, &out) else { return }
                key = k
            case .named(let parts):
                var ks: [JSON] = []
                ks.reserveCapacity(parts.count)
                for (keyName, input) in parts {
                    guard let k = read(input, event, keyName: keyName, &out) else { return }
                    ks.append(k)
                }
                key = .array(ks)
            }
        }
        values.removeAll(keepingCapacity: true)
        for i in 0..<inputFields.count {
            if let f = inputFields[i] {
                values.append((object != nil ? object?[f] : event.field(f)) ?? .null)
            } else if let e = inputExpressions[i] {
                activation.event = event
                do {
                    values.append(try e.evaluateJSON(activation))
                } catch {
                    let label = config.aggregates.first { $0.input == i }?.label ?? e.source
                    out.reject(event, step: name, message: "window: \(label): \(error.message)")
                    return
                }
            }
        }
        for (a, input) in numeric {
            switch values[input] {
            case .int, .double, .null: continue
            default:
                let problem = Aggregates.check(config.aggregates[a].function, values[input]) ?? ""
                out.reject(event, step: name, message: "window: \(config.aggregates[a].label): \(problem)")
                return
            }
        }
        switch machine.add(time: event.time, key: key, values: values, into: &fired) {
        case .counted:
            break
        case .late:
            out.side(SidePort.late, event)
        case .full:
            out.reject(event, step: name, message: "window: max_open_windows (\(config.maxOpenWindows)) reached; event not counted")
        case .outOfRange:
            out.reject(event, step: name, message: "window: event time \(event.time) is out of range")
        }
        if !fired.isEmpty { flush(into: &out) }
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

    /// Emits every window the watermark closes, in SPEC §4 order.
    public func advance(watermark: Int64, into out: inout StepOutput) {
        machine.advance(to: watermark, into: &fired)
        flush(into: &out)
    }

    /// Emits the fired windows as events.
    func flush(into out: inout StepOutput) {
        if fired.isEmpty { return }
        for r in fired { emit(r, into: &out) }
        fired.removeAll(keepingCapacity: true)
    }

    func emit(_ r: WindowResult, into out: inout StepOutput) {
        var o = JSONObject(minimumCapacity: config.key.fieldNames.count + config.aggregates.count + 3)
        switch config.key {
        case .global: break
        case .single(let keyName, _): o.appendUnchecked(key: keyName, value: r.key)
        case .named(let parts):
            let ks = r.key.arrayValue ?? []
            for (i, p) in parts.enumerated() { o.appendUnchecked(key: p.name, value: i < ks.count ? ks[i] : .null) }
        }
        o.appendUnchecked(key: "window_start", value: r.start == Event.noTime ? .null : .int(r.start))
        o.appendUnchecked(key: "window_end", value: r.end == Event.noTime ? .null : .int(r.end))
        for (i, a) in config.aggregates.enumerated() { o.appendUnchecked(key: a.name, value: r.values[i]) }
        if r.update { o.appendUnchecked(key: "update", value: true) }
        // Results carry the last instant of their window as event time (as Flink's do), so a
        // later window step can regroup them.
        let time = isCount ? r.end : (r.end == Int64.min ? r.end : r.end - 1)
        let event = Event(.object(o), time: time)
        if !r.errors.isEmpty {
            let what = r.errors.map { "\(config.aggregates[$0.index].name) (\(config.aggregates[$0.index].label)): \($0.message)" }
            out.reject(event, step: name, message: "window: \(what.joined(separator: "; ")); the window's result is rejected")
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
            _ = ctx.sidePort(named: "late")
            _ = ctx.sidePort(named: "rejected")
            let compiler = ctx.expressions
            let name = ctx.stepName
            return { WindowStep(config: config, compiler: compiler, name: name) }
        }
    )
}
