import SluiceJSON

/// Collects the diagnostics of one compilation and converts YAML nodes to configuration
/// values, reporting every mismatch at the offending node instead of stopping.
///
/// Each conversion takes `what`, a phrase naming the value in messages, such as
/// `"'key' in 'dedupe'"` (``ConfigMap`` builds these for you), and returns nil after
/// reporting a problem. Not thread-safe: one context per compilation.
@usableFromInline package final class ConfigContext {
    /// Everything reported so far, in order.
    @usableFromInline package var diagnostics: Diagnostics

    /// A context, optionally continuing `diagnostics`.
    @usableFromInline package init(diagnostics: Diagnostics = Diagnostics()) {
        self.diagnostics = diagnostics
    }

    /// True when an error has been reported.
    @usableFromInline package var hasErrors: Bool { diagnostics.hasErrors }

    /// Reports an error.
    @usableFromInline package func error(_ location: SourceLocation?, _ message: String, hint: String? = nil) {
        diagnostics.error(location, message, hint: hint)
    }

    /// Reports a warning.
    @usableFromInline package func warning(_ location: SourceLocation?, _ message: String, hint: String? = nil) {
        diagnostics.warning(location, message, hint: hint)
    }

    /// Reports "expected `expected` for `what`, found `node.describe`" at the node.
    @usableFromInline package func typeMismatch(_ node: YAMLNode, expected: String, what: String, hint: String? = nil) {
        error(node.location, "expected \(expected) for \(what), found \(node.describe)", hint: hint)
    }

    // MARK: Conversions

    /// The node as a ``ConfigMap`` for reading keys; reports a non-mapping. `name` names
    /// the section in messages (`'window'`).
    @usableFromInline package func map(_ node: YAMLNode, name: String) -> ConfigMap? {
        ConfigMap(node, what: name, context: self)
    }

    /// Any non-null scalar's text (`name: 123` reads as `"123"`).
    @usableFromInline package func string(_ node: YAMLNode, what: String) -> String? {
        guard let s = node.scalar, !node.isNull else {
            typeMismatch(node, expected: "a string", what: what)
            return nil
        }
        return s.text
    }

    /// An integer scalar, optionally within `range`.
    @usableFromInline package func int(_ node: YAMLNode, what: String, range: ClosedRange<Int>? = nil) -> Int? {
        guard case .int(let v) = node.resolved, let i = Int(exactly: v) else {
            var hint: String?
            if node.scalar?.style != .plain, case .int = YAMLScalarValue.resolvePlain(node.text ?? "") {
                hint = "remove the quotes"
            }
            typeMismatch(node, expected: "an integer", what: what, hint: hint)
            return nil
        }
        if let range, !range.contains(i) {
            error(node.location, "\(what) must be \(describe(range)), found \(i)")
            return nil
        }
        return i
    }

    /// A number (integer or float) scalar, optionally within `range`.
    @usableFromInline package func double(_ node: YAMLNode, what: String, range: ClosedRange<Double>? = nil) -> Double?
    {
        let d: Double
        switch node.resolved {
        case .int(let i): d = Double(i)
        case .double(let x): d = x
        default:
            typeMismatch(node, expected: "a number", what: what)
            return nil
        }
        if let range, !range.contains(d) {
            error(node.location, "\(what) must be between \(range.lowerBound) and \(range.upperBound), found \(d)")
            return nil
        }
        return d
    }

    /// A boolean scalar (`true` or `false`, unquoted).
    @usableFromInline package func bool(_ node: YAMLNode, what: String) -> Bool? {
        guard case .bool(let b) = node.resolved else {
            typeMismatch(node, expected: "true or false", what: what)
            return nil
        }
        return b
    }

    /// A duration such as `10s` or `1m30s` (see ``TimeSpan``); a bare number is an error.
    @usableFromInline package func duration(_ node: YAMLNode, what: String, allowZero: Bool = true) -> TimeSpan? {
        guard let text = node.text, !node.isNull else {
            typeMismatch(node, expected: "a duration such as '10s'", what: what)
            return nil
        }
        switch TimeSpan.parse(text) {
        case .success(let t):
            if !allowZero, t == .zero {
                error(node.location, "\(what) must be longer than zero")
                return nil
            }
            return t
        case .failure(let e):
            error(node.location, "invalid duration '\(text)' for \(what): \(e.message)", hint: e.hint)
            return nil
        }
    }

    /// A sequence's items; reports any other node.
    @usableFromInline package func sequence(_ node: YAMLNode, what: String) -> [YAMLNode]? {
        guard let items = node.sequence else {
            typeMismatch(node, expected: "a sequence", what: what)
            return nil
        }
        return items
    }

    /// A list of strings; a single string is accepted as a list of one.
    @usableFromInline package func stringList(_ node: YAMLNode, what: String) -> [String]? {
        if let items = node.sequence {
            var out: [String] = []
            var ok = true
            for (i, item) in items.enumerated() {
                if let s = string(item, what: "item \(i + 1) of \(what)") { out.append(s) } else { ok = false }
            }
            return ok ? out : nil
        }
        if node.scalar != nil, !node.isNull { return [node.text ?? ""] }
        typeMismatch(node, expected: "a string or a list of strings", what: what)
        return nil
    }

    /// One of a fixed set of words: "unknown value 'strct' for 'contiguity' in 'pattern';
    /// did you mean 'strict'?", with the choices listed in a note.
    @usableFromInline package func oneOf<T>(_ node: YAMLNode, what: String, choices: [String: T]) -> T? {
        let names = choices.keys.sorted()
        guard let text = node.text, !node.isNull else {
            typeMismatch(node, expected: "one of \(quotedList(names, or: true))", what: what)
            return nil
        }
        if let v = choices[text] { return v }
        error(
            node.location, "unknown value '\(text)' for \(what)\(didYouMean(text, among: names))",
            hint: "expected one of \(quotedList(names, or: true))")
        return nil
    }

    /// The node converted to JSON (see ``YAMLNode/toJSON(diagnostics:)``).
    @usableFromInline package func json(_ node: YAMLNode, what: String) -> JSON? {
        node.toJSON(diagnostics: &diagnostics)
    }

    /// CEL source: any non-null scalar. Unquoted `true`/`false` in any YAML spelling
    /// become `true`/`false`; numbers keep their text.
    @usableFromInline package func expression(_ node: YAMLNode, what: String) -> ConfigExpression? {
        guard let s = node.scalar, !node.isNull else {
            typeMismatch(
                node, expected: "an expression", what: what,
                hint: node.mapping != nil ? "a CEL map literal must be quoted, e.g. '{\"a\": 1}'" : nil)
            return nil
        }
        var source = s.text
        if case .bool(let b) = node.resolved { source = b ? "true" : "false" }
        return ConfigExpression(source: source, node: node)
    }

    // MARK: Steps

    /// Reads a step written as a one-key mapping, `- KIND: CONFIG`, with optional sibling
    /// keys `when:` and `name:` (or other `commonKeys`).
    ///
    /// With `knownKinds`, a single unknown kind is reported as
    /// "unknown step 'fliter'; did you mean 'filter'?", and extra keys beside a known kind
    /// as unknown keys. Several kinds give "a step needs exactly one kind, found 'filter'
    /// and 'map'". The `common` pairs other than `when` and `name` are returned in
    /// ``StepSpec/common`` for the caller to read.
    @usableFromInline package func step(
        _ node: YAMLNode, knownKinds: [String]? = nil, commonKeys: [String] = ["when", "name"]
    ) -> StepSpec? {
        guard let pairs = node.mapping else {
            var hint = "write a step as '- KIND: CONFIG', e.g. '- filter: amount > 10'"
            if let t = node.text, knownKinds?.contains(t) == true { hint = "write '- \(t): {}'" }
            error(node.location, "a step must be a mapping like '- filter: EXPR', found \(node.describe)", hint: hint)
            return nil
        }
        var candidates: [YAMLNode.Pair] = []
        var common: [YAMLNode.Pair] = []
        for p in pairs {
            guard let k = p.key.text else {
                error(p.key.location, "step keys must be strings, found \(p.key.describe)")
                return nil
            }
            if commonKeys.contains(k) { common.append(p) } else { candidates.append(p) }
        }
        var chosen: YAMLNode.Pair?
        if let knownKinds {
            let known = candidates.filter { knownKinds.contains($0.key.text ?? "") }
            if known.count == 1 {
                chosen = known[0]
                let kind = known[0].key.text ?? ""
                for p in candidates where p.key.text != kind {
                    let k = p.key.text ?? ""
                    error(
                        p.key.location, "unknown key '\(k)' in step '\(kind)'\(didYouMean(k, among: commonKeys))",
                        hint: "a step is one kind with its config, plus optional \(quotedList(commonKeys, or: false))")
                }
                if candidates.count > 1 { return nil }
            } else if known.count > 1 {
                error(
                    known[1].key.location,
                    "a step needs exactly one kind, found \(quotedList(known.map { $0.key.text ?? "" }, or: false))",
                    hint: "start a new list item ('- ') for each step")
                return nil
            } else if candidates.count == 1 {
                let k = candidates[0].key.text ?? ""
                error(candidates[0].key.location, "unknown step '\(k)'\(didYouMean(k, among: knownKinds))")
                return nil
            }
        } else if candidates.count == 1 {
            chosen = candidates[0]
        }
        guard let chosen, let kind = chosen.key.text else {
            if candidates.isEmpty {
                error(
                    node.location,
                    "a step needs a kind, found only \(quotedList(common.map { $0.key.text ?? "" }, or: false))",
                    hint: knownKinds.map { "known steps: \($0.sorted().joined(separator: ", "))" })
            } else {
                error(
                    candidates[1].key.location,
                    "a step needs exactly one kind, found \(quotedList(candidates.map { $0.key.text ?? "" }, or: false))",
                    hint: "start a new list item ('- ') for each step")
            }
            return nil
        }
        var spec = StepSpec(kind: kind, kindLocation: chosen.key.location, config: chosen.value, node: node)
        var ok = true
        for p in common {
            switch p.key.text {
            case "name":
                if let s = string(p.value, what: "'name' of step '\(kind)'") { spec.name = s } else { ok = false }
            case "when":
                if let e = expression(p.value, what: "'when' of step '\(kind)'") { spec.when = e } else { ok = false }
            default:
                spec.common.append(p)
            }
        }
        return ok ? spec : nil
    }
}

/// A step item of a pipeline, split into its kind, its config and the common keys.
@usableFromInline package struct StepSpec: Sendable {
    /// The kind key, e.g. `filter`.
    @usableFromInline package var kind: String
    /// Where the kind key is written (for "unknown step" style errors).
    @usableFromInline package var kindLocation: SourceLocation
    /// The kind's value: the step's configuration node.
    @usableFromInline package var config: YAMLNode
    /// The whole step item.
    @usableFromInline package var node: YAMLNode
    /// `name:`, when given.
    @usableFromInline package var name: String?
    /// `when:`, when given.
    @usableFromInline package var when: ConfigExpression?
    /// Other common keys the caller asked for (beyond `when` and `name`), unread.
    @usableFromInline package var common: [YAMLNode.Pair] = []

    /// A step spec.
    @usableFromInline package init(kind: String, kindLocation: SourceLocation, config: YAMLNode, node: YAMLNode) {
        self.kind = kind
        self.kindLocation = kindLocation
        self.config = config
        self.node = node
    }
}

/// CEL source read from a YAML scalar, with the node so that errors inside the
/// expression can point at the right line and column.
@usableFromInline package struct ConfigExpression: Sendable {
    /// The CEL source.
    @usableFromInline package var source: String
    /// The scalar node it came from.
    @usableFromInline package var node: YAMLNode

    /// An expression.
    @usableFromInline package init(source: String, node: YAMLNode) {
        self.source = source
        self.node = node
    }

    /// Where the expression starts.
    @usableFromInline package var location: SourceLocation { node.location }

    /// The source location of the Unicode scalar at `offset` in ``source``.
    @usableFromInline package func location(ofOffset offset: Int) -> SourceLocation { node.location(ofOffset: offset) }
}

/// `'a'`, `'a' and 'b'`, `'a', 'b' and 'c'` (or `or` with `or: true`).
@usableFromInline package func quotedList(_ words: [String], or: Bool) -> String {
    let q = words.map { "'\($0)'" }
    guard let last = q.last else { return "" }
    if q.count == 1 { return last }
    return q.dropLast().joined(separator: ", ") + (or ? " or " : " and ") + last
}

private func describe(_ range: ClosedRange<Int>) -> String {
    if range.upperBound == Int.max { return "at least \(range.lowerBound)" }
    if range.lowerBound == Int.min { return "at most \(range.upperBound)" }
    return "between \(range.lowerBound) and \(range.upperBound)"
}
