import SluiceCEL
import SluiceCore
import SluiceJSON

/// What a command (or compensation command) builds: an object with one CEL expression
/// per field, or one expression giving the whole event.
enum SagaCommand: Sendable {
    case fields([String], [Expression])
    case value(Expression)

    var expressions: [Expression] {
        switch self {
        case .fields(_, let e): e
        case .value(let e): [e]
        }
    }

    /// Whether the command reads `replies` or `attempt`, which are then bound.
    var readsBindings: Bool {
        expressions.contains { e in
            e.program.referencedNames.contains { n in
                let root = n.string.split(separator: ".").first.map(String.init) ?? n.string
                return root == "replies" || root == "attempt"
            }
        }
    }
}

/// The expressions of one saga step.
struct SagaStepExpressions: Sendable {
    var command: SagaCommand
    var success: Expression
    var failure: Expression?
    var compensate: SagaCommand?
    var compensateSuccess: Expression?
    var compensateFailure: Expression?
}

/// How a saga's key is read.
enum SagaKey: Sendable {
    case field(String)
    case expression(Expression)
}

/// Everything a saga step needs at run time, compiled once per pipeline step.
struct CompiledSaga: Sendable {
    var plan: SagaPlan
    var key: SagaKey
    var start: Expression
    var steps: [SagaStepExpressions]
    var commandsPort: Int
    var logPort: Int
    var latePort: Int
    var stepName: String
    var compiler: ExpressionCompiler
    /// What a running saga keeps of its start event and replies.
    var kept: SagaKept
}

/// What a running saga keeps of its start event and of its steps' success replies: only
/// what its commands can read, so that a million running sagas do not hold a million
/// whole events. Commands read the start event by field name (a field whose name they
/// never mention is never read) or whole (`event`), and replies by
/// `replies.NAME.FIELD` (or whole, `replies.NAME`, `replies[...]`).
struct SagaKept: Sendable, Equatable {
    enum Part: Sendable, Equatable {
        /// Nothing is read: nothing is kept.
        case nothing
        case whole
        /// Only these top-level fields are read (of an object; anything else is kept whole).
        case fields([String])
    }
    /// Of the start event.
    var data: Part
    /// Of each step's success reply.
    var replies: [Part]

    init(data: Part, replies: [Part]) {
        self.data = data
        self.replies = replies
    }

    /// What `commands` (every command and compensation expression of a saga whose steps
    /// are named `steps`) read.
    init(commands: [Expression], steps: [String], eventName: CELName) {
        var names: [String] = []
        var whole = false
        for e in commands {
            for n in e.program.referencedNames {
                if n.id == eventName.id { whole = true }
                if !names.contains(n.string) { names.append(n.string) }
            }
        }
        data = whole ? .whole : .fields(names)
        var replies = Array(repeating: Part.nothing, count: steps.count)
        var allWhole = false
        for e in commands {
            guard let paths = CELSelectionPaths.paths(of: "replies", in: e.source) else {
                allWhole = true
                break
            }
            for p in paths {
                guard let name = p.first else {
                    allWhole = true
                    break
                }
                guard let s = steps.firstIndex(of: name) else { continue }
                if p.count == 1 {
                    replies[s] = .whole
                    continue
                }
                switch replies[s] {
                case .whole: break
                case .nothing: replies[s] = .fields([p[1]])
                case .fields(let fs): if !fs.contains(p[1]) { replies[s] = .fields(fs + [p[1]]) }
                }
            }
        }
        self.replies = allWhole ? Array(repeating: .whole, count: steps.count) : replies
    }

    /// `part` of `event`: for `.fields`, an object of those of the fields it has (in the
    /// order listed; commands read them by name only). `keys` is the keys array of the
    /// last object made for this part: an object of the same keys shares it, so a
    /// million sagas hold one keys array, not a million.
    static func project(_ event: Event, _ part: Part, keys: inout [String]) -> JSON {
        var scratch: [JSON?] = []
        var guesses: [Int] = []
        return project(event, part, keys: &keys, utf8: nil, scratch: &scratch, guesses: &guesses)
    }

    /// ``project(_:_:keys:)`` reading the fields of a raw event in one pass over its
    /// bytes (`utf8` is the part's fields as UTF-8, `scratch` a buffer kept for the next
    /// call), and those of a parsed object in place, each looked for first where it was
    /// in the last one (`guesses`, kept for the next call).
    static func project(
        _ event: Event, _ part: Part, keys: inout [String], utf8: [[UInt8]]?, scratch: inout [JSON?],
        guesses: inout [Int]
    ) -> JSON {
        switch part {
        case .nothing: return .null
        case .whole: return event.value
        case .fields(let fields):
            if guesses.count != fields.count { guesses = Array(repeating: 0, count: fields.count) }
            if let made = event.withParsedFields({ ks, vs in
                projectParsed(fields, ks, vs, keys: &keys, guesses: &guesses)
            }) {
                return made
            }
            guard isObject(event) else { return event.value }
            // One scan of a raw event's bytes for every field (the first of duplicate
            // keys, as `field` reads it).
            var scanned = false
            if let u = utf8, u.count == fields.count {
                scanned = event.withRawBytes { JSONParser.fields(u, in: $0, into: &scratch) } != nil
            }
            var values: [JSON] = []
            values.reserveCapacity(fields.count)
            // Whether the fields found so far are the first of `keys` (else `present`).
            var same = true
            var present: [String] = []
            for (i, f) in fields.enumerated() {
                guard let v = scanned ? scratch[i] : event.field(f) else { continue }
                if same {
                    if values.count < keys.count && keys[values.count] == f {
                        values.append(v)
                        continue
                    }
                    same = false
                    present = Array(keys[..<values.count])
                }
                values.append(v)
                present.append(f)
            }
            if !same || values.count != keys.count {
                keys = same ? Array(keys[..<values.count]) : present
            }
            return .object(JSONObject(uniqueKeys: keys, values: values))
        }
    }

    /// The `.fields` projection of a parsed object of keys `ks` and values `vs`, as the
    /// general path of ``project(_:_:keys:utf8:scratch:guesses:)`` makes it.
    @inline(__always)
    static func projectParsed(
        _ fields: [String], _ ks: UnsafeBufferPointer<String>, _ vs: UnsafeBufferPointer<JSON>,
        keys: inout [String], guesses: inout [Int]
    ) -> JSON {
        var values: [JSON] = []
        values.reserveCapacity(fields.count)
        var same = true
        var present: [String] = []
        for i in fields.indices {
            let f = fields[i]
            guard let at = SagaStep.find(f, in: ks, guess: &guesses[i]) else { continue }
            if same {
                if values.count < keys.count && keys[values.count] == f {
                    values.append(vs[at])
                    continue
                }
                same = false
                present = Array(keys[..<values.count])
            }
            values.append(vs[at])
            present.append(f)
        }
        if !same || values.count != keys.count {
            keys = same ? Array(keys[..<values.count]) : present
        }
        return .object(JSONObject(uniqueKeys: keys, values: values))
    }

    /// Whether `event` is a JSON object, without parsing it.
    static func isObject(_ event: Event) -> Bool {
        if let raw = event.withRawBytes({ b -> Bool in
            for c in b where c != 0x20 && c != 0x09 && c != 0x0A && c != 0x0D { return c == UInt8(ascii: "{") }
            return false
        }) {
            return raw
        }
        if event.isValueBacked { return event.parsedObject != nil }
        // A patched event is an object with fields added.
        return true
    }
}

/// Reads and checks the `saga:` configuration (docs/sagas.md).
enum SagaCompiler {
    static let keys = ["key", "start", "steps", "timeout", "retention", "max_sagas"]
    static let stepKeys = ["name", "command", "success", "failure", "timeout", "compensate", "retry"]

    /// One step as read, before the whole saga is checked.
    struct ReadStep {
        var plan: SagaStepPlan
        var expressions: SagaStepExpressions
        var nameNode: YAMLNode
        var successNode: YAMLNode?
        var success: Expression
    }

    static func compile(_ ctx: StepCompileContext) -> CompiledSaga? {
        guard let m = ctx.map() else { return nil }
        let c = ctx.context
        var ok = true
        if !ctx.hasEventTime {
            c.error(
                ctx.config.location, "'saga' needs event time: its timeouts are in event time",
                hint: "add a top-level 'time: {field: ts}' naming the field with the event time")
            ok = false
        }
        var key: SagaKey?
        if let e = m.expression("key", required: true) {
            if PatternCompiler.isIdentifier(e.source) {
                key = .field(e.source)
                ctx.expressions.noteFieldsRead([e.source])
            } else if let compiled = ctx.expressions.compile(e, context: c) {
                key = .expression(compiled)
            }
        }
        var start: Expression?
        if let e = m.expression("start", required: true) { start = ctx.expressions.compile(e, context: c) }
        var defaultTimeout: Int64?
        if let t = m.duration("timeout", allowZero: false) {
            defaultTimeout = millis(t)
        } else if m.node("timeout") != nil {
            ok = false
        }
        var retention: Int64 = 3_600_000
        if let t = m.duration("retention") { retention = millis(t) } else if m.node("retention") != nil { ok = false }
        let maxSagas = m.int("max_sagas", range: 1...Int(Int32.max)) ?? 1_000_000
        if m.node("max_sagas") != nil, m.int("max_sagas", range: 1...Int(Int32.max)) == nil { ok = false }

        var read: [ReadStep] = []
        var stages: [[Int]] = []
        var allOK = true
        if let items = m.sequence("steps", required: true) {
            if items.isEmpty {
                c.error(m.node("steps")?.location, "'steps' in 'saga' is empty; add at least one step")
                ok = false
            }
            for item in items {
                if let pairs = item.mapping, pairs.count == 1, pairs[0].key.text == "parallel" {
                    guard let members = c.sequence(pairs[0].value, what: "'parallel' in 'saga'") else {
                        ok = false
                        continue
                    }
                    if members.count < 2 {
                        c.error(pairs[0].value.location, "a 'parallel' group needs at least two steps")
                        ok = false
                    }
                    var stage: [Int] = []
                    for member in members {
                        if let s = readStep(member, ctx: ctx, defaultTimeout: defaultTimeout) {
                            stage.append(read.count)
                            read.append(s)
                        } else {
                            allOK = false
                        }
                    }
                    if !stage.isEmpty { stages.append(stage) }
                } else if let s = readStep(item, ctx: ctx, defaultTimeout: defaultTimeout) {
                    stages.append([read.count])
                    read.append(s)
                } else {
                    allOK = false
                }
            }
        } else {
            ok = false
        }
        m.finish()

        // Names are unique, so that log events and `replies.NAME` say which step.
        var seen: [String: YAMLNode] = [:]
        for s in read {
            if let first = seen[s.plan.name] {
                c.error(
                    s.nameNode.location, "duplicate saga step name '\(s.plan.name)'; names must be unique",
                    hint: "first used at line \(first.location.line)")
                ok = false
            } else {
                seen[s.plan.name] = s.nameNode
            }
        }
        if !checkAgainstSchema(read, ctx: ctx) { ok = false }
        guard ok, allOK, let key, let start else { return nil }
        let commands = read.flatMap { r in [r.expressions.command] + (r.expressions.compensate.map { [$0] } ?? []) }
        let kept = SagaKept(
            commands: commands.flatMap(\.expressions), steps: read.map(\.plan.name),
            eventName: ctx.expressions.eventName)
        let plan = SagaPlan(
            steps: read.map(\.plan), stages: stages, retention: retention, maxSagas: maxSagas,
            keepsReplies: kept.replies.contains { $0 != .nothing })
        ctx.graphDetail = graphLines(plan)
        return CompiledSaga(
            plan: plan, key: key, start: start, steps: read.map(\.expressions),
            commandsPort: ctx.sidePort(named: "commands"), logPort: ctx.sidePort(named: "log"),
            latePort: ctx.sidePort(named: "late"), stepName: ctx.stepName, compiler: ctx.expressions, kept: kept)
    }

    /// One line per stage for `sluice graph`: `2. reserve_inventory [undo]`, parallel
    /// steps joined by ` | `.
    static func graphLines(_ plan: SagaPlan) -> [String] {
        plan.stages.enumerated().map { i, stage in
            "\(i + 1). "
                + stage.map { s in
                    let st = plan.steps[s]
                    switch st.compensation {
                    case .none: return st.name
                    case .fireAndForget: return st.name + " [undo]"
                    case .awaited: return st.name + " [undo, awaited]"
                    }
                }.joined(separator: " | ")
        }
    }

    static func millis(_ t: TimeSpan) -> Int64 {
        t.nanoseconds <= 0 ? 0 : Swift.max(1, (t.nanoseconds + 999_999) / 1_000_000)
    }

    /// Reads one item of `steps` (or of a `parallel` group).
    static func readStep(_ item: YAMLNode, ctx: StepCompileContext, defaultTimeout: Int64?) -> ReadStep? {
        let c = ctx.context
        guard let m = ConfigMap(item, what: "saga step", context: c) else { return nil }
        defer { m.finish() }
        var ok = true
        let nameNode = m.node("name", required: true)
        let name = m.string("name")
        if let nameNode, let name, !PatternCompiler.isIdentifier(name) {
            c.error(
                nameNode.location,
                "saga step name '\(name)' is not an identifier; use letters, digits and '_', not starting with a digit",
                hint: "commands read earlier replies as 'replies.NAME'")
            ok = false
        }
        let command = m.node("command", required: true).flatMap {
            readCommand($0, what: "'command' in saga step", ctx: ctx)
        }
        if m.node("command") != nil, command == nil { ok = false }
        var success: Expression?
        if let e = m.expression("success", required: true) { success = ctx.expressions.compile(e, context: c) }
        var failure: Expression?
        if let e = m.expression("failure") {
            failure = ctx.expressions.compile(e, context: c)
            if failure == nil { ok = false }
        } else if m.node("failure") != nil {
            ok = false
        }
        var timeout = defaultTimeout
        if let t = m.duration("timeout", allowZero: false) {
            timeout = millis(t)
        } else if m.node("timeout") != nil {
            ok = false
        } else if defaultTimeout == nil, let nameNode {
            c.error(
                nameNode.location, "saga step '\(name ?? "")' has no 'timeout'",
                hint: "give each step a 'timeout' (event time), or the saga a default 'timeout'")
            ok = false
        }
        var retries = 0
        var backoff: Int64 = 0
        if let node = m.node("retry") {
            if let r = ConfigMap(node, what: "retry", context: c) {
                if let t = r.int("times", required: true, range: 1...1000) { retries = t } else { ok = false }
                if let b = r.duration("backoff") { backoff = millis(b) } else if r.node("backoff") != nil { ok = false }
                r.finish()
            } else {
                ok = false
            }
        }
        var compensation = SagaCompensationPlan.none
        var compensate: SagaCommand?
        var compensateSuccess: Expression?
        var compensateFailure: Expression?
        if let node = m.node("compensate") {
            if let pairs = node.mapping, pairs.contains(where: { $0.key.text == "command" }) {
                // The awaited form: {command, success, failure, timeout}.
                if let cm = ConfigMap(node, what: "compensate", context: c) {
                    compensate = cm.node("command").flatMap {
                        readCommand($0, what: "'command' in 'compensate'", ctx: ctx)
                    }
                    if compensate == nil { ok = false }
                    if let e = cm.expression("success", required: true) {
                        compensateSuccess = ctx.expressions.compile(e, context: c)
                    }
                    if compensateSuccess == nil { ok = false }
                    if let e = cm.expression("failure") {
                        compensateFailure = ctx.expressions.compile(e, context: c)
                        if compensateFailure == nil { ok = false }
                    } else if cm.node("failure") != nil {
                        ok = false
                    }
                    var t = timeout
                    if let d = cm.duration("timeout", allowZero: false) {
                        t = millis(d)
                    } else if cm.node("timeout") != nil {
                        ok = false
                    }
                    compensation = .awaited(timeout: t ?? 1)
                    cm.finish()
                } else {
                    ok = false
                }
            } else if let cmd = readCommand(node, what: "'compensate' in saga step", ctx: ctx) {
                compensate = cmd
                compensation = .fireAndForget
            } else {
                ok = false
            }
        }
        guard ok, let nameNode, let name, let command, let success, let timeout else { return nil }
        return ReadStep(
            plan: SagaStepPlan(
                name: name, timeout: timeout, retries: retries, backoff: backoff, compensation: compensation),
            expressions: SagaStepExpressions(
                command: command, success: success, failure: failure, compensate: compensate,
                compensateSuccess: compensateSuccess, compensateFailure: compensateFailure),
            nameNode: nameNode, successNode: m.node("success"), success: success)
    }

    /// A command: a mapping of field names to CEL expressions, or one CEL expression.
    static func readCommand(_ node: YAMLNode, what: String, ctx: StepCompileContext) -> SagaCommand? {
        let c = ctx.context
        if let pairs = node.mapping {
            if pairs.isEmpty {
                c.error(node.location, "\(what) is empty; give the fields of the command")
                return nil
            }
            var names: [String] = []
            var exprs: [Expression] = []
            var ok = true
            for p in pairs {
                guard let k = p.key.text else { continue }
                if names.contains(k) {
                    c.error(p.key.location, "duplicate field '\(k)' in \(what)")
                    ok = false
                    continue
                }
                if let e = c.expression(p.value, what: "'\(k)' in \(what)"),
                    let compiled = ctx.expressions.compile(e, context: c)
                {
                    names.append(k)
                    exprs.append(compiled)
                } else {
                    ok = false
                }
            }
            return ok ? .fields(names, exprs) : nil
        }
        guard let e = c.expression(node, what: what), let compiled = ctx.expressions.compile(e, context: c) else {
            return nil
        }
        return .value(compiled)
    }

    /// Checks each `success` against the schema of the last `validate` step before the
    /// saga in its stream (an inline `schema:`): a field the condition reads that the
    /// schema does not declare, in a schema that allows no other fields, can never be
    /// present, so the step could never succeed.
    static func checkAgainstSchema(_ steps: [ReadStep], ctx: StepCompileContext) -> Bool {
        guard let validate = ctx.precedingSteps.last(where: { $0.kind == "validate" }),
            let schema = validate.config.mapping?.first(where: { $0.key.text == "schema" })?.value.mapping
        else { return true }
        guard let props = schema.first(where: { $0.key.text == "properties" })?.value.mapping else { return true }
        let declared = Set(props.compactMap { $0.key.text })
        let closed = schema.contains { p in
            (p.key.text == "additionalProperties" || p.key.text == "unevaluatedProperties")
                && p.value.resolved == .bool(false)
        }
        var ok = true
        for s in steps {
            for field in fieldsRead(s.success) where !declared.contains(field) {
                let location = s.successNode?.location ?? s.nameNode.location
                let message =
                    "the success of saga step '\(s.plan.name)' reads '\(field)', which the schema of '\(validate.name ?? "validate")' does not define"
                if closed {
                    ctx.context.error(
                        location, message + "; it can never be true",
                        hint:
                            "the schema has 'additionalProperties: false'; declare '\(field)' in its 'properties' or fix the condition"
                    )
                    ok = false
                } else {
                    ctx.context.warning(
                        location, message,
                        hint: "declare '\(field)' in the schema's 'properties', or check the spelling")
                }
            }
        }
        return ok
    }

    /// The top-level event fields an expression reads: `event.NAME` and bare names.
    static func fieldsRead(_ e: Expression) -> [String] {
        var out: [String] = []
        for n in e.program.referencedNames {
            var parts = n.string.split(separator: ".").map(String.init)
            if parts.first == "event" { parts.removeFirst() } else if parts.count > 1 { continue }
            guard let f = parts.first, !["params", "replies", "attempt", "event"].contains(f) else { continue }
            if e.compiler.tables[f] != nil { continue }
            if !out.contains(f) { out.append(f) }
        }
        return out
    }

    /// The step definition registered as `saga`.
    static let definition = StepDefinition(
        kind: "saga",
        summary: "Run long-running transactions per key: commands, replies, timeouts and compensations in event time.",
        keys: keys,
        compile: { ctx in
            guard let compiled = compile(ctx) else { return nil }
            return { SagaStep(compiled) }
        }
    )
}
