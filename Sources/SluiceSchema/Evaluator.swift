import SluiceJSON

/// Runs a ``Program`` over an instance.
///
/// With `collect` set it records every violation; without, it returns at the first
/// failure. Sub-schemas whose outcome only decides something (the branches of `anyOf`,
/// `oneOf`, `not`, `if`, `contains`, `propertyNames`) always run without collecting.
struct Evaluator {
    let nodes: [Node]
    var collect: Bool
    var path: [PathComponent] = []
    var violations: [Violation] = []

    init(program: Program, collect: Bool) {
        self.nodes = program.nodes
        self.collect = collect
    }

    // MARK: - Driving

    mutating func eval(_ n: Int, _ v: JSON) -> Bool {
        switch nodes[n].kind {
        case .always(let ok):
            if !ok && collect {
                report("false", nodes[n].path, "no value is allowed here")
            }
            return ok
        case .checks(let checks):
            var ok = true
            for c in checks where !apply(c, n, v) {
                ok = false
                if !collect { return false }
            }
            return ok
        }
    }

    /// Evaluates without recording anything, as a yes/no question.
    mutating func test(_ n: Int, _ v: JSON) -> Bool {
        if !collect { return eval(n, v) }
        collect = false
        defer { collect = true }
        return eval(n, v)
    }

    private mutating func evalChild(_ n: Int, _ v: JSON, _ step: PathComponent) -> Bool {
        path.append(step)
        defer { path.removeLast() }
        return eval(n, v)
    }

    private mutating func report(_ keyword: String, _ schemaPath: String, _ message: String) {
        violations.append(
            Violation(instancePath: path.pointer, keyword: keyword, message: message, schemaPath: schemaPath))
    }

    /// Records a failure of `keyword` in node `n` (when collecting) and returns false.
    private mutating func fail(_ keyword: String, _ n: Int, _ message: @autoclosure () -> String) -> Bool {
        if collect { report(keyword, nodes[n].path + "/" + keyword, message()) }
        return false
    }

    // MARK: - Keywords

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    private mutating func apply(_ c: Check, _ n: Int, _ v: JSON) -> Bool {
        switch c {
        case .type(let set, let names):
            if set.admits(v) { return true }
            return fail("type", n, "expected \(list(names, "or")), got \(describeInstance(v))")

        case .const(let expected):
            if Semantics.equal(v, expected) { return true }
            return fail("const", n, "\(render(v)) is not the required value \(render(expected))")

        case .enumeration(let values):
            for e in values where Semantics.equal(v, e) { return true }
            return fail("enum", n, "\(render(v)) is not one of \(render(.array(values)))")

        case .minimum(let bound):
            guard let c = Semantics.compare(v, bound), c < 0 else { return true }
            return fail("minimum", n, "\(render(v)) is less than the minimum of \(render(bound))")
        case .maximum(let bound):
            guard let c = Semantics.compare(v, bound), c > 0 else { return true }
            return fail("maximum", n, "\(render(v)) is greater than the maximum of \(render(bound))")
        case .exclusiveMinimum(let bound):
            guard let c = Semantics.compare(v, bound), c <= 0 else { return true }
            return fail(
                "exclusiveMinimum", n, "\(render(v)) is not greater than the exclusive minimum of \(render(bound))")
        case .exclusiveMaximum(let bound):
            guard let c = Semantics.compare(v, bound), c >= 0 else { return true }
            return fail(
                "exclusiveMaximum", n, "\(render(v)) is not less than the exclusive maximum of \(render(bound))")
        case .multipleOf(let divisor, let decimal):
            switch v {
            case .int, .double:
                if isMultiple(v, of: divisor, decimal: decimal) { return true }
                return fail("multipleOf", n, "\(render(v)) is not a multiple of \(render(divisor))")
            default: return true
            }

        case .minLength(let min):
            guard case .string(let s) = v else { return true }
            // utf8.count bounds the scalar count from above: skip counting when it cannot fail.
            if s.utf8.count < min || s.unicodeScalars.count < min {
                let len = s.unicodeScalars.count
                if len < min {
                    return fail(
                        "minLength", n,
                        "\(render(v)) is \(plural(len, "character")) long, shorter than the minimum length of \(min)")
                }
            }
            return true
        case .maxLength(let max):
            guard case .string(let s) = v, s.utf8.count > max else { return true }
            let len = s.unicodeScalars.count
            if len <= max { return true }
            return fail(
                "maxLength", n,
                "\(render(v)) is \(plural(len, "character")) long, longer than the maximum length of \(max)")
        case .pattern(let pattern):
            guard case .string(let s) = v, !pattern.matches(s) else { return true }
            return fail("pattern", n, "\(render(v)) does not match the pattern \(render(.string(pattern.source)))")

        case .minItems(let min):
            guard case .array(let a) = v, a.count < min else { return true }
            return fail("minItems", n, "array has \(plural(a.count, "item")), fewer than the minimum of \(min)")
        case .maxItems(let max):
            guard case .array(let a) = v, a.count > max else { return true }
            return fail("maxItems", n, "array has \(plural(a.count, "item")), more than the maximum of \(max)")
        case .uniqueItems:
            guard case .array(let a) = v, let (i, j) = Semantics.firstDuplicate(a) else { return true }
            return fail(
                "uniqueItems", n, "array items \(i) and \(j) are equal (\(render(a[i]))), but items must be unique")
        case .minProperties(let min):
            guard case .object(let o) = v, o.count < min else { return true }
            return fail(
                "minProperties", n,
                "object has \(plural(o.count, "property", "properties")), fewer than the minimum of \(min)")
        case .maxProperties(let max):
            guard case .object(let o) = v, o.count > max else { return true }
            return fail(
                "maxProperties", n,
                "object has \(plural(o.count, "property", "properties")), more than the maximum of \(max)")

        case .required(let names):
            guard case .object(let o) = v else { return true }
            var ok = true
            for name in names where o.index(of: name) == nil {
                ok = fail("required", n, "missing required property '\(name)'")
                if !collect { return false }
            }
            return ok
        case .dependentRequired(let deps):
            guard case .object(let o) = v else { return true }
            var ok = true
            for (trigger, names) in deps where o.index(of: trigger) != nil {
                for name in names where o.index(of: name) == nil {
                    ok = fail(
                        "dependentRequired", n,
                        "missing property '\(name)', which is required when '\(trigger)' is present")
                    if !collect { return false }
                }
            }
            return ok

        case .properties(let app):
            guard case .object(let o) = v else { return true }
            return applyProperties(app, n, o)
        case .propertyNames(let sub):
            guard case .object(let o) = v else { return true }
            var ok = true
            for key in o.keys where !test(sub, .string(key)) {
                ok = fail("propertyNames", n, "property name \(render(.string(key))) is not allowed by propertyNames")
                if !collect { return false }
            }
            return ok
        case .dependentSchemas(let deps):
            guard case .object(let o) = v else { return true }
            var ok = true
            for (trigger, sub) in deps where o.index(of: trigger) != nil {
                if !eval(sub, v) {
                    ok = false
                    if !collect { return false }
                }
            }
            return ok

        case .items(let prefix, let rest):
            guard case .array(let a) = v else { return true }
            var ok = true
            for (i, item) in a.enumerated() {
                let sub: Int
                if i < prefix.count {
                    sub = prefix[i]
                } else if let r = rest {
                    if case .always(false) = nodes[r].kind {
                        return fail(
                            "items", n, "array has \(plural(a.count, "item")), but only \(prefix.count) are allowed")
                            && ok
                    }
                    sub = r
                } else {
                    break
                }
                if !evalChild(sub, item, .index(i)) {
                    ok = false
                    if !collect { return false }
                }
            }
            return ok
        case .contains(let sub, let min, let max):
            guard case .array(let a) = v else { return true }
            var matches = 0
            for item in a where test(sub, item) {
                matches += 1
                if let max, matches > max, !collect { return false }
            }
            if matches < min {
                if matches == 0 {
                    return fail("contains", n, "array has no item that matches the contains schema")
                }
                return fail(
                    "minContains", n,
                    "array has \(plural(matches, "item")) matching the contains schema, fewer than the minimum of \(min)"
                )
            }
            if let max, matches > max {
                return fail(
                    "maxContains", n,
                    "array has \(plural(matches, "item")) matching the contains schema, more than the maximum of \(max)"
                )
            }
            return true

        case .allOf(let subs):
            var ok = true
            for s in subs where !eval(s, v) {
                ok = false
                if !collect { return false }
            }
            return ok
        case .anyOf(let subs):
            for s in subs where test(s, v) { return true }
            return fail("anyOf", n, "\(render(v)) does not match any of the \(subs.count) schemas in anyOf")
        case .oneOf(let subs):
            var matched: [Int] = []
            for (i, s) in subs.enumerated() where test(s, v) {
                matched.append(i)
                if matched.count > 1 && !collect { return false }
            }
            if matched.count == 1 { return true }
            if matched.isEmpty {
                return fail("oneOf", n, "\(render(v)) does not match any of the \(subs.count) schemas in oneOf")
            }
            return fail(
                "oneOf", n,
                "\(render(v)) matches \(matched.count) schemas in oneOf (\(list(matched.map(String.init), "and"))), but must match exactly one"
            )
        case .not(let sub):
            if !test(sub, v) { return true }
            return fail("not", n, "\(render(v)) must not match the schema in not")
        case .conditional(let cond, let then, let otherwise):
            if test(cond, v) {
                if let then { return eval(then, v) }
            } else if let otherwise {
                return eval(otherwise, v)
            }
            return true

        case .ref(let target, _):
            return eval(target, v)

        case .unevaluatedProperties(let sub):
            guard case .object(let o) = v else { return true }
            var seen = Evaluated()
            collectEvaluated(n, v, into: &seen, owner: n)
            if seen.all { return true }
            let forbidden = { if case .always(false) = nodes[sub].kind { true } else { false } }()
            var ok = true
            for (key, value) in o where !seen.keys.contains(key) {
                let passed =
                    forbidden
                    ? fail("unevaluatedProperties", n, "property '\(key)' is not allowed")
                    : evalChild(sub, value, .key(key))
                if !passed {
                    ok = false
                    if !collect { return false }
                }
            }
            return ok
        case .unevaluatedItems(let sub):
            guard case .array(let a) = v else { return true }
            var seen = Evaluated()
            collectEvaluated(n, v, into: &seen, owner: n)
            if seen.all { return true }
            let forbidden = { if case .always(false) = nodes[sub].kind { true } else { false } }()
            var ok = true
            for i in a.indices where i >= seen.prefix && !seen.indices.contains(i) {
                let passed =
                    forbidden
                    ? fail("unevaluatedItems", n, "item \(i) is not allowed")
                    : evalChild(sub, a[i], .index(i))
                if !passed {
                    ok = false
                    if !collect { return false }
                }
            }
            return ok
        }
    }

    /// What the keywords of node `n` evaluated in `v` (JSON Schema annotations), for
    /// `unevaluatedProperties` and `unevaluatedItems`. Sub-schemas that `v` fails add nothing.
    /// Terminates because loops of in-place applicators are rejected at compile time.
    private mutating func collectEvaluated(_ n: Int, _ v: JSON, into seen: inout Evaluated, owner: Int) {
        guard case .checks(let checks) = nodes[n].kind, !seen.all else { return }
        for c in checks {
            switch c {
            case .properties(let app):
                guard case .object(let o) = v else { break }
                if app.additional != nil {
                    seen.all = true
                    return
                }
                for key in o.keys
                where app.lookup[key] != nil || app.patterns.contains(where: { $0.pattern.matches(key) }) {
                    seen.keys.insert(key)
                }
            case .items(let prefix, let rest):
                guard case .array(let a) = v else { break }
                if rest != nil {
                    seen.all = true
                    return
                }
                seen.prefix = max(seen.prefix, min(prefix.count, a.count))
            case .contains(let sub, _, _):
                guard case .array(let a) = v else { break }
                for (i, item) in a.enumerated() where test(sub, item) { seen.indices.insert(i) }
            case .unevaluatedProperties:
                // A nested one evaluates every property left over; the owner's own is asking.
                if n != owner, case .object = v { seen.all = true }
            case .unevaluatedItems:
                if n != owner, case .array = v { seen.all = true }
            case .allOf(let subs), .anyOf(let subs), .oneOf(let subs):
                for s in subs { addValid(s, v, &seen, owner) }
            case .conditional(let cond, let then, let otherwise):
                if test(cond, v) {
                    collectEvaluated(cond, v, into: &seen, owner: owner)
                    if let then { addValid(then, v, &seen, owner) }
                } else if let otherwise {
                    addValid(otherwise, v, &seen, owner)
                }
            case .dependentSchemas(let deps):
                guard case .object(let o) = v else { break }
                for (trigger, sub) in deps where o.index(of: trigger) != nil { addValid(sub, v, &seen, owner) }
            case .ref(let target, _):
                addValid(target, v, &seen, owner)
            default:
                break
            }
            if seen.all { return }
        }
    }

    private mutating func addValid(_ sub: Int, _ v: JSON, _ seen: inout Evaluated, _ owner: Int) {
        if test(sub, v) { collectEvaluated(sub, v, into: &seen, owner: owner) }
    }

    private mutating func applyProperties(_ app: ObjectApplicator, _ n: Int, _ o: JSONObject) -> Bool {
        var ok = true
        if app.onlyNamed {
            for (name, sub) in app.properties {
                guard let i = o.index(of: name) else { continue }
                if !evalChild(sub, o.values[i], .key(name)) {
                    ok = false
                    if !collect { return false }
                }
            }
            return ok
        }
        for (key, value) in o {
            var matched = false
            if let sub = app.lookup[key] {
                matched = true
                if !evalChild(sub, value, .key(key)) {
                    ok = false
                    if !collect { return false }
                }
            }
            for (pattern, sub) in app.patterns where pattern.matches(key) {
                matched = true
                if !evalChild(sub, value, .key(key)) {
                    ok = false
                    if !collect { return false }
                }
            }
            if !matched, let extra = app.additional {
                let passed: Bool
                if case .always(false) = nodes[extra].kind {
                    passed = fail("additionalProperties", n, "property '\(key)' is not allowed")
                } else {
                    passed = evalChild(extra, value, .key(key))
                }
                if !passed {
                    ok = false
                    if !collect { return false }
                }
            }
        }
        return ok
    }
}

/// Properties and items that some keyword evaluated.
struct Evaluated {
    /// Every property or item was evaluated (by `additionalProperties`, `items`, ...).
    var all = false
    var keys: Set<String> = []
    /// Items below this index were evaluated by `prefixItems`.
    var prefix = 0
    var indices: Set<Int> = []
}

// MARK: - Message helpers

/// `a`, `a or b`, `a, b or c`.
private func list(_ items: [String], _ conjunction: String) -> String {
    switch items.count {
    case 0: return "nothing"
    case 1: return items[0]
    default: return items.dropLast().joined(separator: ", ") + " \(conjunction) " + items[items.count - 1]
    }
}

private func plural(_ n: Int, _ one: String, _ many: String? = nil) -> String {
    "\(n) \(n == 1 ? one : (many ?? one + "s"))"
}

/// `string "abc"`, `integer 5`, `object`: the JSON Schema type of a value, with the value
/// itself when it is short.
private func describeInstance(_ v: JSON) -> String {
    switch v {
    case .null: return "null"
    case .bool: return "boolean \(render(v))"
    case .int: return "integer \(render(v))"
    case .double: return Semantics.isInteger(v) ? "integer \(render(v))" : "number \(render(v))"
    case .string: return "string \(render(v))"
    case .array: return "array"
    case .object: return "object"
    }
}
