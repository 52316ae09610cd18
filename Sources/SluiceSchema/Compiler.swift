import SluiceJSON

/// Turns a schema document into a ``Program``, checking every keyword it knows.
struct Compiler {
    let root: JSON
    private var nodes: [Node] = []
    private var indexByPath: [String: Int] = [:]
    private var anchors: [String: String] = [:]
    private var rootID: String?

    init(root: JSON) {
        self.root = root
    }

    mutating func compileProgram() throws(SchemaError) -> Program {
        if case .object(let o) = root, case .string(let id)? = o["$id"] {
            rootID = Self.stripFragment(id)
        }
        collectAnchors(root, at: "", depth: 0)
        let r = try compile(root, at: "")
        try checkRefCycles()
        return Program(nodes: nodes, root: r)
    }

    // MARK: - Schemas

    /// Compiles the schema at `path` once; later calls (from `$ref`s) return the same node.
    private mutating func compile(_ schema: JSON, at path: String) throws(SchemaError) -> Int {
        if let i = indexByPath[path] { return i }
        let index = nodes.count
        nodes.append(Node(kind: .always(true), path: path))
        indexByPath[path] = index
        switch schema {
        case .bool(let b):
            nodes[index].kind = .always(b)
        case .object(let o):
            nodes[index].kind = .checks(try compileObject(o, at: path))
        default:
            throw SchemaError("a schema must be an object or a boolean, not \(describeKind(schema))", schemaPath: path)
        }
        return index
    }

    private mutating func compileObject(_ o: JSONObject, at path: String) throws(SchemaError) -> [Check] {
        var checks: [Check] = []
        let p = { (k: String) in path + "/" + k }

        // Annotations and identifiers: accepted, checked for shape where cheap.
        for key in ["$schema", "$id", "$anchor", "$comment", "title", "description"] {
            if let v = o[key], v.stringValue == nil {
                throw SchemaError("\(key) must be a string", schemaPath: p(key))
            }
        }

        if let v = o["type"] {
            checks.append(try compileType(v, at: p("type")))
        }
        if let v = o["const"] { checks.append(.const(v)) }
        if let v = o["enum"] {
            guard case .array(let values) = v else {
                throw SchemaError("enum must be an array, not \(describeKind(v))", schemaPath: p("enum"))
            }
            checks.append(.enumeration(values))
        }
        if let v = try number(o, "minimum", path) { checks.append(.minimum(v)) }
        if let v = try number(o, "maximum", path) { checks.append(.maximum(v)) }
        if let v = try number(o, "exclusiveMinimum", path) { checks.append(.exclusiveMinimum(v)) }
        if let v = try number(o, "exclusiveMaximum", path) { checks.append(.exclusiveMaximum(v)) }
        if let v = try number(o, "multipleOf", path) {
            guard Semantics.compare(v, .int(0)) == 1 else {
                throw SchemaError("multipleOf must be greater than 0", schemaPath: p("multipleOf"))
            }
            checks.append(.multipleOf(v, DecimalNumber(v)))
        }
        if let n = try count(o, "minLength", path) { checks.append(.minLength(n)) }
        if let n = try count(o, "maxLength", path) { checks.append(.maxLength(n)) }
        if let v = o["pattern"] {
            checks.append(.pattern(try compilePattern(v, at: p("pattern"))))
        }
        if let n = try count(o, "minItems", path) { checks.append(.minItems(n)) }
        if let n = try count(o, "maxItems", path) { checks.append(.maxItems(n)) }
        if let v = o["uniqueItems"] {
            guard case .bool(let b) = v else {
                throw SchemaError("uniqueItems must be a boolean", schemaPath: p("uniqueItems"))
            }
            if b { checks.append(.uniqueItems) }
        }
        if let n = try count(o, "minProperties", path) { checks.append(.minProperties(n)) }
        if let n = try count(o, "maxProperties", path) { checks.append(.maxProperties(n)) }
        if let v = o["required"] {
            let names = try stringArray(v, at: p("required"), what: "required")
            if !names.isEmpty { checks.append(.required(names)) }
        }
        if let v = o["dependentRequired"] {
            guard case .object(let deps) = v else {
                throw SchemaError("dependentRequired must be an object", schemaPath: p("dependentRequired"))
            }
            var list: [(String, [String])] = []
            for (k, names) in deps {
                let at = Pointer.append(p("dependentRequired"), k)
                list.append((k, try stringArray(names, at: at, what: "each dependentRequired value")))
            }
            if !list.isEmpty { checks.append(.dependentRequired(list)) }
        }

        // Object applicators.
        var objectApplicator = ObjectApplicator()
        if let named = try schemaMap(o, "properties", path) {
            for (k, node) in named {
                objectApplicator.properties.append((k, node))
                objectApplicator.lookup[k] = node
            }
        }
        if let v = o["patternProperties"] {
            guard case .object(let pats) = v else {
                throw SchemaError("patternProperties must be an object", schemaPath: p("patternProperties"))
            }
            for (k, sub) in pats {
                let at = Pointer.append(p("patternProperties"), k)
                let pattern = try compilePattern(.string(k), at: at)
                objectApplicator.patterns.append((pattern, try compile(sub, at: at)))
            }
        }
        objectApplicator.additional = try subschema(o, "additionalProperties", path)
        if !objectApplicator.properties.isEmpty || !objectApplicator.patterns.isEmpty
            || objectApplicator.additional != nil
        {
            checks.append(.properties(objectApplicator))
        }
        if let n = try subschema(o, "propertyNames", path) { checks.append(.propertyNames(n)) }
        if let deps = try schemaMap(o, "dependentSchemas", path), !deps.isEmpty {
            checks.append(.dependentSchemas(deps))
        }

        // Array applicators.
        if let v = o["items"], case .array = v {
            throw SchemaError(
                "items must be a schema; in draft 2020-12 a list of schemas goes in prefixItems",
                schemaPath: p("items"))
        }
        let prefix = try schemaArray(o, "prefixItems", path) ?? []
        let rest = try subschema(o, "items", path)
        if !prefix.isEmpty || rest != nil { checks.append(.items(prefix: prefix, rest: rest)) }
        let minContains = try count(o, "minContains", path)
        let maxContains = try count(o, "maxContains", path)
        if let c = try subschema(o, "contains", path) {
            checks.append(.contains(c, min: minContains ?? 1, max: maxContains))
        }

        // In-place applicators.
        if let list = try schemaArray(o, "allOf", path) { checks.append(.allOf(list)) }
        if let list = try schemaArray(o, "anyOf", path) { checks.append(.anyOf(list)) }
        if let list = try schemaArray(o, "oneOf", path) { checks.append(.oneOf(list)) }
        if let n = try subschema(o, "not", path) { checks.append(.not(n)) }
        let thenNode = try subschema(o, "then", path)
        let elseNode = try subschema(o, "else", path)
        if let i = try subschema(o, "if", path), thenNode != nil || elseNode != nil {
            checks.append(.conditional(if: i, then: thenNode, else: elseNode))
        }
        if let v = o["$ref"] {
            guard case .string(let ref) = v else {
                throw SchemaError("$ref must be a string", schemaPath: p("$ref"))
            }
            let (target, targetPath) = try resolve(ref, at: p("$ref"))
            checks.append(.ref(try compile(target, at: targetPath), target: ref))
        }
        // These depend on what the keywords above evaluated, so they come last.
        if let n = try subschema(o, "unevaluatedItems", path) { checks.append(.unevaluatedItems(n)) }
        if let n = try subschema(o, "unevaluatedProperties", path) { checks.append(.unevaluatedProperties(n)) }
        // Definitions are compiled so that mistakes in them are reported even when unused.
        _ = try schemaMap(o, "$defs", path)
        return checks
    }

    private func compileType(_ v: JSON, at path: String) throws(SchemaError) -> Check {
        func one(_ name: JSON, at path: String) throws(SchemaError) -> (String, TypeSet) {
            guard case .string(let s) = name else {
                throw SchemaError(
                    "type must be a type name or an array of them, not \(describeKind(name))", schemaPath: path)
            }
            guard let t = TypeSet.byName.first(where: { $0.0 == s })?.1 else {
                throw SchemaError(
                    "unknown type '\(s)'; expected one of null, boolean, object, array, number, string, integer",
                    schemaPath: path)
            }
            return (s, t)
        }
        switch v {
        case .array(let names):
            var set: TypeSet = []
            var list: [String] = []
            for (i, n) in names.enumerated() {
                let (s, t) = try one(n, at: path + "/" + String(i))
                if set.contains(t) {
                    throw SchemaError("type '\(s)' is listed twice", schemaPath: path + "/" + String(i))
                }
                set.insert(t)
                list.append(s)
            }
            return .type(set, names: list)
        default:
            let (s, t) = try one(v, at: path)
            return .type(t, names: [s])
        }
    }

    private func compilePattern(_ v: JSON, at path: String) throws(SchemaError) -> Pattern {
        guard case .string(let source) = v else {
            throw SchemaError("pattern must be a string, not \(describeKind(v))", schemaPath: path)
        }
        do {
            return try Pattern(source)
        } catch {
            throw SchemaError("invalid regular expression \(render(v)): \(error.message)", schemaPath: path)
        }
    }

    // MARK: - Keyword values

    private func number(_ o: JSONObject, _ key: String, _ path: String) throws(SchemaError) -> JSON? {
        guard let v = o[key] else { return nil }
        switch v {
        case .int: return v
        case .double(let d) where d.isFinite: return v
        default: throw SchemaError("\(key) must be a number, not \(describeKind(v))", schemaPath: path + "/" + key)
        }
    }

    private func count(_ o: JSONObject, _ key: String, _ path: String) throws(SchemaError) -> Int? {
        guard let v = o[key] else { return nil }
        guard let n = Semantics.nonNegativeInt(v) else {
            throw SchemaError("\(key) must be a non-negative integer, not \(render(v))", schemaPath: path + "/" + key)
        }
        return n
    }

    private func stringArray(_ v: JSON, at path: String, what: String) throws(SchemaError) -> [String] {
        guard case .array(let items) = v else {
            throw SchemaError("\(what) must be an array of strings", schemaPath: path)
        }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            guard case .string(let s) = item else {
                throw SchemaError(
                    "\(what) must hold only strings, not \(describeKind(item))", schemaPath: path + "/" + String(i))
            }
            out.append(s)
        }
        return out
    }

    private mutating func subschema(_ o: JSONObject, _ key: String, _ path: String) throws(SchemaError) -> Int? {
        guard let v = o[key] else { return nil }
        return try compile(v, at: path + "/" + key)
    }

    private mutating func schemaArray(_ o: JSONObject, _ key: String, _ path: String) throws(SchemaError) -> [Int]? {
        guard let v = o[key] else { return nil }
        guard case .array(let items) = v, !items.isEmpty else {
            throw SchemaError("\(key) must be a non-empty array of schemas", schemaPath: path + "/" + key)
        }
        var out: [Int] = []
        for (i, item) in items.enumerated() {
            out.append(try compile(item, at: path + "/" + key + "/" + String(i)))
        }
        return out
    }

    private mutating func schemaMap(_ o: JSONObject, _ key: String, _ path: String) throws(SchemaError) -> [(
        String, Int
    )]? {
        guard let v = o[key] else { return nil }
        guard case .object(let m) = v else {
            throw SchemaError("\(key) must be an object whose values are schemas", schemaPath: path + "/" + key)
        }
        var out: [(String, Int)] = []
        for (k, sub) in m {
            out.append((k, try compile(sub, at: Pointer.append(path + "/" + key, k))))
        }
        return out
    }

    // MARK: - References

    private static func stripFragment(_ uri: String) -> String {
        if let i = uri.firstIndex(of: "#") { return String(uri[..<i]) }
        return uri
    }

    /// Finds the schema a `$ref` names: `#`, `#/json/pointer`, `#anchor`, optionally after
    /// the root's own `$id`. Returns it with its canonical pointer.
    private func resolve(_ ref: String, at path: String) throws(SchemaError) -> (JSON, String) {
        let base: Substring
        let fragment: Substring
        if let i = ref.firstIndex(of: "#") {
            base = ref[..<i]
            fragment = ref[ref.index(after: i)...]
        } else {
            base = ref[...]
            fragment = ""
        }
        if !base.isEmpty && base != rootID.map({ $0[...] }) {
            throw SchemaError(
                "cannot resolve $ref '\(ref)': only references inside this schema are supported", schemaPath: path)
        }
        guard let decoded = Pointer.percentDecode(String(fragment)) else {
            throw SchemaError("cannot resolve $ref '\(ref)': bad percent-encoding", schemaPath: path)
        }
        if !decoded.isEmpty && !decoded.hasPrefix("/") {
            guard let target = anchors[decoded], let tokens = Pointer.tokens(target), let v = walk(tokens) else {
                throw SchemaError("cannot resolve $ref '\(ref)': no $anchor named '\(decoded)'", schemaPath: path)
            }
            return (v, target)
        }
        guard let tokens = Pointer.tokens(decoded) else {
            throw SchemaError("cannot resolve $ref '\(ref)': not a JSON pointer", schemaPath: path)
        }
        guard let v = walk(tokens) else {
            throw SchemaError("cannot resolve $ref '\(ref)': nothing at that location", schemaPath: path)
        }
        return (v, tokens.reduce("") { Pointer.append($0, $1) })
    }

    private func walk(_ tokens: [String]) -> JSON? {
        var cur = root
        for t in tokens {
            switch cur {
            case .object(let o):
                guard let next = o[t] else { return nil }
                cur = next
            case .array(let a):
                guard let i = Int(t), i >= 0, i < a.count, String(i) == t else { return nil }
                cur = a[i]
            default:
                return nil
            }
        }
        return cur
    }

    private mutating func collectAnchors(_ v: JSON, at path: String, depth: Int) {
        guard depth < 1000 else { return }
        switch v {
        case .object(let o):
            if case .string(let name)? = o["$anchor"], anchors[name] == nil { anchors[name] = path }
            for (k, sub) in o where k != "enum" && k != "const" && k != "default" && k != "examples" {
                collectAnchors(sub, at: Pointer.append(path, k), depth: depth + 1)
            }
        case .array(let a):
            for (i, sub) in a.enumerated() { collectAnchors(sub, at: path + "/" + String(i), depth: depth + 1) }
        default:
            break
        }
    }

    /// Rejects loops of in-place applicators (`$ref`, `allOf`, `not`, ...) that would
    /// evaluate the same value against the same schema forever, such as `{"$ref": "#"}`.
    /// Loops through `properties`, `items` and the like are fine: each step goes one
    /// level down into the instance.
    private func checkRefCycles() throws(SchemaError) {
        var edges: [[(Int, String)]] = Array(repeating: [], count: nodes.count)
        for (i, node) in nodes.enumerated() {
            guard case .checks(let checks) = node.kind else { continue }
            for c in checks {
                switch c {
                case .allOf(let l), .anyOf(let l), .oneOf(let l): edges[i] += l.map { ($0, node.path) }
                case .not(let n): edges[i].append((n, node.path + "/not"))
                case .conditional(let a, let b, let c):
                    edges[i] += [a, b, c].compactMap { $0.map { ($0, node.path) } }
                case .dependentSchemas(let l): edges[i] += l.map { ($0.1, node.path + "/dependentSchemas") }
                case .ref(let n, _): edges[i].append((n, node.path + "/$ref"))
                default: break
                }
            }
        }
        // Iterative depth-first search: 0 = unvisited, 1 = on the stack, 2 = done.
        var state = [UInt8](repeating: 0, count: nodes.count)
        for start in nodes.indices where state[start] == 0 {
            var stack: [(node: Int, next: Int)] = [(start, 0)]
            state[start] = 1
            while let top = stack.last {
                let out = edges[top.node]
                if top.next == out.count {
                    state[top.node] = 2
                    stack.removeLast()
                    continue
                }
                stack[stack.count - 1].next += 1
                let (child, via) = out[top.next]
                if state[child] == 1 {
                    let loop = stack.drop(while: { $0.node != child }).map { nodes[$0.node].path }
                    let shown = (loop + [nodes[child].path]).map { $0.isEmpty ? "#" : "#" + $0 }
                    throw SchemaError(
                        "schema refers back to itself without moving into the instance (\(shown.joined(separator: " -> "))), which would never terminate",
                        schemaPath: via)
                }
                if state[child] == 0 {
                    state[child] = 1
                    stack.append((child, 0))
                }
            }
        }
    }
}

/// `object`, `an array`, ... for messages about keyword values.
func describeKind(_ v: JSON) -> String {
    switch v {
    case .null: "null"
    case .bool: "a boolean"
    case .int, .double: "a number"
    case .string: "a string"
    case .array: "an array"
    case .object: "an object"
    }
}

/// A value as compact JSON for messages, cut short when long.
func render(_ v: JSON) -> String {
    let s = JSONWriter.string(v)
    if s.unicodeScalars.count <= 80 { return s }
    return String(String.UnicodeScalarView(s.unicodeScalars.prefix(77))) + "..."
}
