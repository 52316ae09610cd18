import SluiceCEL
import SluiceCore
import SluiceJSON

/// How a pattern's key is computed.
enum PatternKey: Sendable {
    /// One global key.
    case global
    /// A top-level field, read without CEL.
    case field(String)
    /// A CEL expression.
    case expression(Expression)
}

/// What `emit:` builds from a match.
enum PatternEmit: Sendable {
    /// The object of captures.
    case captures
    /// An object with one CEL expression per field.
    case fields([(String, Expression)])
    /// One CEL expression giving the whole output.
    case value(Expression)
}

/// Everything a pattern step needs at run time, compiled once per pipeline step.
struct CompiledPattern: Sendable {
    var nfa: PatternNFA
    var key: PatternKey
    var emit: PatternEmit
    var timeouts: Bool
    var timeoutPort: Int
    var latePort: Int
    var limits: PatternLimits
    var stepName: String
    var compiler: ExpressionCompiler
}

/// Bounds on a pattern step's state (docs/patterns.md, "State and memory"). An event that
/// would take the state past one is rejected and the state stays as it was.
struct PatternLimits: Sendable {
    /// Live partial matches per key (`max_partial_matches`).
    var partialMatchesPerKey = 10_000
    /// Live partial matches over all keys of the step (`max_total_partial_matches`).
    var partialMatches = 1_000_000
    /// Events held for partial matches over all keys of the step (`max_buffered_events`).
    var bufferedEvents = 1_000_000
}

/// Reads and validates the `pattern:` configuration, then builds the immutable NFA
/// (as Flink's `NFACompiler` does: the whole pattern is checked before anything is built).
enum PatternCompiler {
    static let keys = [
        "key", "within", "sequence", "skip", "emit", "timeouts", "max_partial_matches", "max_total_partial_matches",
        "max_buffered_events",
    ]
    static let stepKeys = ["name", "where", "times", "contiguity", "optional"]
    static let notKeys = ["where", "contiguity", "name"]
    static let reserved: Set<String> = [
        "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function", "if",
        "import", "let", "loop", "package", "namespace", "return", "var", "void", "while", "event", "params",
    ]

    /// One element of `sequence` as written, before validation of the whole.
    struct Element {
        var node: YAMLNode
        var isNot: Bool
        var name: String?
        var nameNode: YAMLNode?
        var whereExpr: ConfigExpression?
        var compiled: Expression?
        var min = 1
        var max: Int? = 1
        var timesNode: YAMLNode?
        var optional = false
        var contiguity: Contiguity = .relaxed
        var innerContiguity: Contiguity?
        var contiguityNode: YAMLNode?
    }

    static let contiguityChoices: [String: Contiguity] = ["strict": .strict, "relaxed": .relaxed, "any": .any]

    static func compile(_ ctx: StepCompileContext) -> CompiledPattern? {
        guard let m = ctx.map() else { return nil }
        let c = ctx.context
        let errorsBefore = c.diagnostics.items.count
        var ok = true

        // key
        var key = PatternKey.global
        if let e = m.expression("key") {
            if isIdentifier(e.source) {
                key = .field(e.source)
                ctx.expressions.noteFieldsRead([e.source])
            } else if let compiled = ctx.expressions.compile(e, context: c) {
                key = .expression(compiled)
            } else {
                ok = false
            }
        }
        // within
        var within: Int64?
        var withinNode: YAMLNode?
        if let span = m.duration("within", allowZero: false) {
            withinNode = m.node("within")
            within = Swift.max(1, (span.nanoseconds + 999_999) / 1_000_000)
        } else if m.node("within") != nil {
            ok = false
        }
        let skip =
            m.oneOf("skip", ["past_last": SkipStrategy.pastLast, "to_next": .toNext, "none": .none]) ?? .pastLast
        let timeouts = m.bool("timeouts") ?? false
        var limits = PatternLimits()
        if let n = m.int("max_partial_matches", range: 1...Int(Int32.max)) { limits.partialMatchesPerKey = n }
        if let n = m.int("max_total_partial_matches", range: 1...Int(Int32.max)) { limits.partialMatches = n }
        if let n = m.int("max_buffered_events", range: 1...Int(Int32.max)) { limits.bufferedEvents = n }

        // sequence: read every element, reporting problems at each
        var elements: [Element] = []
        let items = m.sequence("sequence", required: true)
        if let items {
            if items.isEmpty, let n = m.node("sequence") {
                c.error(n.location, "'sequence' in 'pattern' is empty; add at least one step")
                ok = false
            }
            for item in items {
                if let el = readElement(item, ctx: ctx) { elements.append(el) } else { ok = false }
            }
        } else {
            ok = false
        }

        // the whole pattern
        // Names are read from every item, including those with other errors, so that a
        // duplicate is reported with them (all errors at once).
        var seen: [String: YAMLNode] = [:]
        for item in items ?? [] {
            var pairs = item.mapping ?? []
            if let not = pairs.first(where: { $0.key.text == "not" }) { pairs = not.value.mapping ?? [] }
            guard let node = pairs.first(where: { $0.key.text == "name" })?.value, let name = node.text, !node.isNull
            else { continue }
            if seen[name] != nil {
                c.error(node.location, "duplicate pattern name '\(name)'; names must be unique")
                ok = false
            } else {
                seen[name] = node
            }
        }
        for (i, el) in elements.enumerated() where el.isNot {
            if i == 0 {
                c.error(
                    el.node.location, "a pattern cannot start with 'not'; put a step before it",
                    hint: "'not' means absence between two steps, or after the last one with 'within'")
                ok = false
            } else if !elements[i - 1].isNot, elements[i - 1].optional {
                c.error(
                    el.node.location, "'not' cannot directly follow the optional step '\(elements[i - 1].name ?? "")'",
                    hint: "as in Flink, a NOT pattern cannot be preceded by an optional one")
                ok = false
            }
        }
        if !elements.isEmpty, !elements.contains(where: { !$0.isNot }) {
            c.error(elements[0].node.location, "a pattern needs at least one step that is not 'not'")
            ok = false
        }
        if let last = elements.last, last.isNot, within == nil {
            c.error(
                last.node.location, "a pattern ending in 'not' needs 'within'",
                hint: "add e.g. 'within: 1h': the match is emitted when the window ends with no such event")
            ok = false
        }
        if within == nil {
            for el in elements where !el.isNot && el.max == nil {
                c.error(
                    (el.timesNode ?? el.node).location,
                    "step '\(el.name ?? "")' has no upper bound ('times' without 'max') and the pattern has no 'within'",
                    hint: "add 'within' so that partial matches expire, or give 'times' a 'max'")
                ok = false
            }
        }
        _ = withinNode

        // emit
        var emit = PatternEmit.captures
        if let node = m.node("emit") {
            if let pairs = node.mapping {
                var fields: [(String, Expression)] = []
                for p in pairs {
                    guard let k = p.key.text else { continue }
                    if let e = c.expression(p.value, what: "'\(k)' in 'emit'"),
                        let compiled = ctx.expressions.compile(e, context: c)
                    {
                        fields.append((k, compiled))
                    } else {
                        ok = false
                    }
                }
                emit = .fields(fields)
            } else if let e = c.expression(node, what: "'emit' in 'pattern'") {
                if let compiled = ctx.expressions.compile(e, context: c) { emit = .value(compiled) } else { ok = false }
            } else {
                ok = false
            }
        }
        m.finish()
        if c.diagnostics.items.count > errorsBefore, c.hasErrors { ok = false }
        guard ok else { return nil }

        // build the NFA
        var states: [PatternNFA.State] = []
        var notsBefore: [[PatternNFA.Negation]] = [[]]
        var conditions: [PatternNFA.Condition] = []
        var pendingNots: [(Element, Int)] = []
        var positiveNames: [String] = []
        for el in elements {
            if el.isNot {
                pendingNots.append((el, 0))
                continue
            }
            let j = states.count
            let isList = !(el.min == 1 && el.max == 1)
            var scope = positiveNames
            if isList, let n = el.name { scope.append(n) }
            let condIndex = conditions.count
            conditions.append(PatternNFA.Condition(expression: el.compiled, iterative: references(el.compiled, scope)))
            for (n, _) in pendingNots {
                conditions.append(
                    PatternNFA.Condition(expression: n.compiled, iterative: references(n.compiled, positiveNames)))
                notsBefore[j].append(
                    PatternNFA.Negation(condition: conditions.count - 1, strict: n.contiguity == .strict))
            }
            pendingNots = []
            states.append(
                PatternNFA.State(
                    name: el.name ?? "", condition: condIndex, min: el.min,
                    max: el.max ?? Int.max, optional: el.optional, contiguity: el.contiguity,
                    innerContiguity: el.innerContiguity ?? el.contiguity, isList: isList, restOptional: false))
            notsBefore.append([])
            positiveNames.append(el.name ?? "")
        }
        for (n, _) in pendingNots {
            conditions.append(
                PatternNFA.Condition(expression: n.compiled, iterative: references(n.compiled, positiveNames)))
            notsBefore[states.count].append(
                PatternNFA.Negation(condition: conditions.count - 1, strict: n.contiguity == .strict))
        }
        let nfa = PatternNFA(
            states: states, notsBefore: notsBefore, conditions: conditions, within: within, skip: skip)
        return CompiledPattern(
            nfa: nfa, key: key, emit: emit, timeouts: timeouts,
            timeoutPort: timeouts ? ctx.sidePort(named: "timeouts") : SidePort.timeouts,
            latePort: ctx.sidePort(named: "late"), limits: limits, stepName: ctx.stepName,
            compiler: ctx.expressions)
    }

    /// Reads one `sequence` item.
    static func readElement(_ item: YAMLNode, ctx: StepCompileContext) -> Element? {
        let c = ctx.context
        guard let pairs = item.mapping else {
            c.typeMismatch(
                item, expected: "a mapping (a step with 'name' and 'where', or 'not')", what: "an item of 'sequence'")
            return nil
        }
        var el = Element(node: item, isNot: false)
        var ok = true
        if pairs.contains(where: { $0.key.text == "not" }) {
            el.isNot = true
            el.max = 1
            guard let outer = ConfigMap(item, what: "sequence item", context: c) else { return nil }
            guard let inner = outer.map("not", required: true) else {
                outer.finish()
                return nil
            }
            outer.finish()
            el.node = outer.keyNode("not") ?? item
            if let nameNode = inner.node("name"), let n = inner.string("name") {
                el.name = n
                el.nameNode = nameNode
                if !checkName(n, nameNode, c) { ok = false }
            }
            if let e = inner.expression("where", required: true) {
                el.whereExpr = e
                if let compiled = ctx.expressions.compile(e, context: c) { el.compiled = compiled } else { ok = false }
            } else {
                ok = false
            }
            if let node = inner.node("contiguity") {
                switch c.oneOf(
                    node, what: "'contiguity' in 'not'", choices: ["strict": Contiguity.strict, "relaxed": .relaxed])
                {
                case .some(let v): el.contiguity = v
                case .none: ok = false
                }
            }
            inner.finish()
            return ok ? el : nil
        }
        guard let m = ConfigMap(item, what: "sequence step", context: c) else { return nil }
        if let nameNode = m.node("name", required: true), let n = m.string("name") {
            el.name = n
            el.nameNode = nameNode
            if !checkName(n, nameNode, c) { ok = false }
        } else {
            ok = false
        }
        if let e = m.expression("where") {
            el.whereExpr = e
            if let compiled = ctx.expressions.compile(e, context: c) { el.compiled = compiled } else { ok = false }
        } else if m.node("where") != nil {
            ok = false
        }
        if let node = m.node("contiguity") {
            if let v = c.oneOf(node, what: "'contiguity' in 'sequence step'", choices: contiguityChoices) {
                el.contiguity = v
            } else {
                ok = false
            }
            el.contiguityNode = node
        }
        if let node = m.node("optional") {
            if let b = c.bool(node, what: "'optional' in 'sequence step'") { el.optional = b } else { ok = false }
        }
        if let node = m.node("times") {
            el.timesNode = node
            if node.mapping != nil {
                if let tm = ConfigMap(node, what: "times", context: c) {
                    let minV = tm.int("min", required: true, range: 1...Int(Int32.max))
                    let maxV = tm.int("max", range: 1...Int(Int32.max))
                    if let cn = tm.node("contiguity") {
                        if let v = c.oneOf(cn, what: "'contiguity' in 'times'", choices: contiguityChoices) {
                            el.innerContiguity = v
                        } else {
                            ok = false
                        }
                    }
                    tm.finish()
                    if let minV {
                        el.min = minV
                        el.max = maxV
                        if let maxV, maxV < minV {
                            c.error(node.location, "'max' (\(maxV)) is less than 'min' (\(minV)) in 'times'")
                            ok = false
                        }
                    } else {
                        ok = false
                    }
                    if tm.node("max") != nil, maxV == nil { ok = false }
                } else {
                    ok = false
                }
            } else if let n = c.int(node, what: "'times' in 'sequence step'", range: 1...Int(Int32.max)) {
                el.min = n
                el.max = n
            } else {
                ok = false
            }
        }
        m.finish()
        return ok ? el : nil
    }

    static func checkName(_ name: String, _ node: YAMLNode, _ c: ConfigContext) -> Bool {
        if !isIdentifier(name) {
            c.error(
                node.location,
                "pattern name '\(name)' is not an identifier; use letters, digits and '_', not starting with a digit",
                hint: "captures are variables in 'where' and 'emit'")
            return false
        }
        if reserved.contains(name) {
            c.error(node.location, "pattern name '\(name)' is reserved; choose another name")
            return false
        }
        return true
    }

    static func isIdentifier(_ s: String) -> Bool {
        guard let f = s.unicodeScalars.first, f == "_" || (f.isASCII && f.properties.isAlphabetic) else { return false }
        return s.unicodeScalars.allSatisfy {
            $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)))
        }
            && !reserved.contains(s)
    }

    static func references(_ e: Expression?, _ names: [String]) -> Bool {
        guard let e, !names.isEmpty else { return false }
        return e.program.referencedNames.contains { names.contains($0.string) }
    }

    /// The step definition registered as `pattern`.
    static let definition = StepDefinition(
        kind: "pattern",
        summary:
            "Match sequences of events per key in event time (CEP, as Flink CEP): steps, quantifiers, absence, within.",
        keys: keys,
        compile: { ctx in
            guard let compiled = compile(ctx) else { return nil }
            return { PatternStep(compiled) }
        }
    )
}
