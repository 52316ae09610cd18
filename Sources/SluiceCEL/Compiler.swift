/// A compiled subexpression: its closure, its value when constant, its static type.
struct Node {
    let eval: Eval
    let constant: CELValue?
    let type: CheckType
    /// Set when the node just reads one activation variable, so parents can inline the
    /// lookup instead of calling a nested closure (each closure call costs a retain).
    var variable: CELName? = nil
    /// Set when the node's value is the activation's value of this name whenever the
    /// activation has one (a variable, or a name that shadows a type name, whose value
    /// is the type when the activation has none).
    var resolvedName: CELName? = nil
    /// Set when the node is `NAME == "TEXT"` (either way round) of a node with
    /// ``resolvedName`` and an ASCII string (``CELProgram/asciiEquality``).
    var asciiEquality: (name: CELName, text: String)? = nil
    /// Set when the node is `NAME.FIELD` read as the activation's value of `NAME.FIELD`
    /// if it has one, else field `FIELD` of its value of `NAME` (``CELProgram/selection``).
    var selection: (whole: CELName, variable: CELName, field: String)? = nil
    /// Set on an `&&` chain: the ``asciiEquality`` of its operands (``CELProgram/asciiGuards``).
    var asciiGuards: [(name: CELName, text: String)] = []
    /// ``asciiEquality`` as a guard, or the guards of an `&&` chain.
    var guards: [(name: CELName, text: String)] { asciiEquality.map { [$0] } ?? asciiGuards }
    /// Set when the node is a condition of a shape ``Condition`` decides without building
    /// values (comparisons of a variable with a constant, `&&`, `||`, `!`).
    var condition: Condition? = nil
    /// Set when the node is arithmetic of a shape ``Arithmetic`` computes without
    /// building values (`+`, `-`, `*`, `/`, `int()`, `double()` over variables and
    /// numeric constants).
    var arithmetic: Arithmetic? = nil

    static func constant(_ v: CELValue) -> Node {
        Node(eval: { _ in v }, constant: v, type: CheckType(of: v))
    }

    /// Rebuilds `eval` to return `constant`.
    func withConstantEval() -> Node {
        guard let v = constant else { return self }
        return Node(eval: { _ in v }, constant: v, type: type)
    }

    static func failing(_ e: CELError, _ t: CheckType = .dyn) -> Node {
        Node(eval: { _ throws(CELError) in throw e }, constant: nil, type: t)
    }

    init(eval: @escaping Eval, constant: CELValue? = nil, type: CheckType) {
        self.eval = eval
        self.constant = constant
        self.type = type
    }
}

/// Turns a parsed expression into a tree of closures, checking types on the way.
///
/// Constant subtrees are folded (an error found while folding becomes an error at
/// evaluation, as CEL requires), constant regular expressions are compiled once, and
/// common operator/operand shapes get specialised closures.
struct Compiler {
    static let builtinsWithExtensions = Builtins.table(listExtensions: true)
    static let builtinsPlain = Builtins.table(listExtensions: false)

    let env: CELEnvironment
    let functions: [FunctionKey: FunctionDef]
    let check: Bool
    let containerPrefixes: [String]
    var scopes: [(name: String, slot: Int, type: CheckType)] = []
    var nextSlot = 0
    var referenced: [CELName] = []
    var referencedSet: Set<String> = []
    /// Set when some node meters its cost (see ``CELOptions/costLimit``): the program then
    /// evaluates with a meter.
    var usesCost = false

    init(env: CELEnvironment) {
        self.env = env
        var fns = env.options.listExtensions ? Self.builtinsWithExtensions : Self.builtinsPlain
        for (k, v) in env.hostFunctions { fns[k] = v }
        functions = fns
        check = env.options.typeCheck
        // "a.b.c" → ["a.b.c", "a.b", "a", ""]
        var prefixes: [String] = []
        var parts = env.options.container.split(separator: ".").map(String.init)
        while !parts.isEmpty {
            prefixes.append(parts.joined(separator: "."))
            parts.removeLast()
        }
        prefixes.append("")
        containerPrefixes = prefixes
    }

    mutating func intern(_ s: String) -> CELName {
        let n = env.names.name(s)
        if referencedSet.insert(s).inserted { referenced.append(n) }
        return n
    }

    func local(_ name: String) -> (slot: Int, type: CheckType)? {
        for s in scopes.reversed() where s.name == name { return (s.slot, s.type) }
        return nil
    }

    // MARK: Dispatch

    mutating func compile(_ e: Expr) throws(CELCompileError) -> Node {
        switch e.kind {
        case .literal(let v):
            return .constant(v)
        case .ident(let name, let absolute):
            if !absolute, let l = local(name) { return localRead(l.slot, l.type) }
            return meteredRead(try resolve(parts: [name], absolute: absolute, offset: e.offset))
        case .select(let operand, let field, let testOnly):
            if let (parts, absolute) = qualifiedParts(operand) {
                if testOnly {
                    let base = try resolve(parts: parts, absolute: absolute, offset: operand.offset)
                    return try hasNode(base, field, e.offset)
                }
                return meteredRead(try resolve(parts: parts + [field], absolute: absolute, offset: e.offset))
            }
            let base = try compile(operand)
            if testOnly { return try hasNode(base, field, e.offset) }
            return try selectNode(base, field, e.offset)
        case .call(let target, let function, let args):
            return try compileCall(target: target, function: function, args: args, offset: e.offset)
        case .list(let elems):
            var nodes: [Node] = []
            nodes.reserveCapacity(elems.count)
            var type: CheckType? = nil
            for x in elems {
                let n = try compile(x)
                type = type.map { $0 == n.type ? $0 : .dyn } ?? n.type
                nodes.append(n)
            }
            let t = CheckType.list(type ?? .dyn)
            if nodes.allSatisfy({ $0.constant != nil }) {
                return Node(eval: { _ in .list([]) }, constant: .list(nodes.compactMap(\.constant)), type: t)
                    .withConstantEval()
            }
            let evals = nodes.map(\.eval)
            return Node(
                eval: { f throws(CELError) in
                    var out: [CELValue] = []
                    out.reserveCapacity(evals.count)
                    for ev in evals { out.append(try ev(f)) }
                    return .list(out)
                }, type: t)
        case .map(let entries):
            var keys: [Node] = []
            var values: [Node] = []
            var kt: CheckType? = nil
            var vt: CheckType? = nil
            for (k, v) in entries {
                let kn = try compile(k)
                if check {
                    switch kn.type {
                    case .dyn, .int, .uint, .bool, .string: break
                    default: throw CELCompileError("unsupported map key type: \(kn.type)", offset: k.offset)
                    }
                }
                let vn = try compile(v)
                kt = kt.map { $0 == kn.type ? $0 : .dyn } ?? kn.type
                vt = vt.map { $0 == vn.type ? $0 : .dyn } ?? vn.type
                keys.append(kn)
                values.append(vn)
            }
            let t = CheckType.map(kt ?? .dyn, vt ?? .dyn)
            let ke = keys.map(\.eval)
            let ve = values.map(\.eval)
            let build: Eval = { f throws(CELError) in
                var m = CELMap(minimumCapacity: ke.count)
                for i in ke.indices {
                    let k = try ke[i](f)
                    guard try m.insert(k, try ve[i](f)) else { throw CELError("repeated map key: \(k)") }
                }
                return .map(m)
            }
            if keys.allSatisfy({ $0.constant != nil }) && values.allSatisfy({ $0.constant != nil }) {
                return fold(build, t)
            }
            return Node(eval: build, type: t)
        case .comprehension(let kind, let range, let variable, let args):
            return try compileComprehension(kind, range, variable, args, e.offset)
        case .chain(let first, let links):
            return try compileChain(first, links)
        }
    }

    // MARK: Cost

    /// Inside a comprehension, a variable read from the activation costs its size (a list
    /// read on every iteration is converted, or scanned, on every iteration). Elsewhere,
    /// and for constants, the node as it is.
    mutating func meteredRead(_ n: Node) -> Node {
        guard !scopes.isEmpty, n.constant == nil else { return n }
        usesCost = true
        let e = n.eval
        var m = Node(
            eval: { f throws(CELError) in
                let v = try e(f)
                if let meter = f.locals { try meter.charge(Locals.size(v)) }
                return v
            }, type: n.type)
        // Parents that inline the lookup do so for comparisons with constants, which
        // cost no more than the constant's size.
        m.variable = n.variable
        m.resolvedName = n.resolvedName
        return m
    }

    /// Inside a comprehension, a node that builds a list or string costs the size of
    /// what it built; elsewhere (linear in its operands) the node as it is.
    mutating func meteredResult(_ n: Node) -> Node {
        guard !scopes.isEmpty, n.constant == nil else { return n }
        usesCost = true
        let e = n.eval
        return Node(
            eval: { f throws(CELError) in
                let v = try e(f)
                if let meter = f.locals { try meter.charge(Locals.size(v)) }
                return v
            }, type: n.type)
    }

    /// Evaluates a closure with constant inputs now; an error stays an evaluation error.
    func fold(_ ev: Eval, _ type: CheckType) -> Node {
        do throws(CELError) {
            let v = try ev(Frame(activation: CELEmptyActivation(), locals: nil))
            return Node(eval: { _ in v }, constant: v, type: type)
        } catch {
            return .failing(error, type)
        }
    }

    // MARK: Names

    /// The identifier path of `a.b.c` when `e` is such a chain whose root is not a
    /// comprehension variable.
    func qualifiedParts(_ e: Expr) -> ([String], Bool)? {
        switch e.kind {
        case .ident(let n, let absolute):
            if !absolute, local(n) != nil { return nil }
            return ([n], absolute)
        case .select(let inner, let f, testOnly: false):
            guard let (p, a) = qualifiedParts(inner) else { return nil }
            return (p + [f], a)
        default:
            return nil
        }
    }

    func localRead(_ slot: Int, _ type: CheckType) -> Node {
        Node(
            eval: { f throws(CELError) in
                guard let l = f.locals, slot < l.slots.count else {
                    throw CELError("comprehension variable used outside its scope")
                }
                return l.slots[slot]
            }, type: type)
    }

    /// Resolves `parts` (e.g. `["a", "b", "c"]`) against the container and declarations:
    /// the longest prefix naming a variable wins, the rest are field selections.
    mutating func resolve(parts: [String], absolute: Bool, offset: Int) throws(CELCompileError) -> Node {
        let full = parts.joined(separator: ".")
        let prefixes = absolute ? [""] : containerPrefixes
        var candidates: [(name: String, rest: [String])] = []
        for i in stride(from: parts.count, to: 0, by: -1) {
            let head = parts[0..<i].joined(separator: ".")
            for p in prefixes {
                candidates.append((p.isEmpty ? head : p + "." + head, Array(parts[i...])))
            }
        }
        // Declared variables take precedence, in candidate order, as a checker resolves.
        for c in candidates {
            if let t = env.declarations[c.name] {
                var node = variableNode([(intern(c.name), [])], full: c.name, type: t)
                for field in c.rest { node = try selectNode(node, field, offset) }
                return node
            }
        }
        // Type names used as values: `int`, `google.protobuf.Timestamp`.
        if let t = CELType.denotable[full] {
            guard env.options.variablesShadowTypeNames, parts.count == 1 else { return .constant(.type(t)) }
            let name = intern(full)
            var node = Node(eval: { f throws(CELError) in f.activation.resolve(name) ?? .type(t) }, type: .dyn)
            node.resolvedName = name
            return node
        }
        if env.options.strictIdentifiers {
            throw CELCompileError("undeclared reference to '\(full)'", offset: offset)
        }
        let resolved = candidates.map { (intern($0.name), $0.rest) }
        var node = variableNode(resolved, full: full, type: .dyn)
        if resolved.count == 2, resolved[0].1.isEmpty, resolved[1].1.count == 1 {
            node.selection = (resolved[0].0, resolved[1].0, resolved[1].1[0])
        }
        return node
    }

    func variableNode(_ candidates: [(CELName, [String])], full: String, type: CheckType) -> Node {
        if candidates.count == 1, candidates[0].1.isEmpty {
            let name = candidates[0].0
            var node = Node(
                eval: { f throws(CELError) in
                    if let v = f.activation.resolve(name) { return v }
                    throw CELProgram.noSuchAttribute(name)
                }, type: type)
            node.variable = name
            node.resolvedName = name
            return node
        }
        return Node(
            eval: { f throws(CELError) in
                for (name, rest) in candidates {
                    if var v = f.activation.resolve(name) {
                        for field in rest { v = try Ops.select(v, field) }
                        return v
                    }
                }
                throw CELError("no such attribute: '\(full)'")
            }, type: type)
    }

    func selectNode(_ base: Node, _ field: String, _ offset: Int) throws(CELCompileError) -> Node {
        var t = CheckType.dyn
        switch base.type {
        case .dyn: break
        case .map(let k, let v):
            if check, k != .string, k != .dyn {
                throw CELCompileError("type '\(base.type)' does not support field selection", offset: offset)
            }
            t = v
        default:
            if check { throw CELCompileError("type '\(base.type)' does not support field selection", offset: offset) }
        }
        let be = base.eval
        let ev: Eval = { f throws(CELError) in
            let v = try be(f)
            if case .map(let m) = v, let x = m.value(forStringKey: field) { return x }
            return try Ops.select(v, field)
        }
        return base.constant != nil ? fold(ev, t) : Node(eval: ev, type: t)
    }

    func hasNode(_ base: Node, _ field: String, _ offset: Int) throws(CELCompileError) -> Node {
        if check {
            switch base.type {
            case .dyn, .map: break
            default: throw CELCompileError("type '\(base.type)' does not support field selection", offset: offset)
            }
        }
        let be = base.eval
        let ev: Eval = { f throws(CELError) in try Ops.has(try be(f), field) }
        return base.constant != nil ? fold(ev, .bool) : Node(eval: ev, type: .bool)
    }

    // MARK: Comprehensions

    mutating func compileComprehension(
        _ kind: MacroKind, _ range: Expr, _ variable: String, _ args: [Expr], _ offset: Int
    ) throws(CELCompileError) -> Node {
        let r = try compile(range)
        var elemType = CheckType.dyn
        switch r.type {
        case .list(let e): elemType = e
        case .map(let k, _): elemType = k
        case .dyn: break
        default:
            if check { throw CELCompileError("'\(kind.rawValue)' cannot iterate over \(r.type)", offset: range.offset) }
        }
        let slot = nextSlot
        nextSlot += 1
        scopes.append((variable, slot, elemType))
        var bodies: [Node] = []
        for a in args {
            bodies.append(try compile(a))
        }
        scopes.removeLast()
        if check {
            let predicates = kind == .map ? (args.count == 3 ? [bodies[0]] : []) : [bodies[0]]
            for p in predicates where p.type != .bool && p.type != .dyn {
                throw CELCompileError("'\(kind.rawValue)' predicate must be bool, not \(p.type)", offset: offset)
            }
        }
        usesCost = true
        let limit = env.options.costLimit
        let re = r.eval
        let name = kind.rawValue
        @Sendable func items(_ v: CELValue) throws(CELError) -> [CELValue] {
            switch v {
            case .list(let l): return l
            case .map(let m): return m.keys
            default: throw CELError("'\(name)' cannot iterate over \(v.typeName)")
            }
        }
        @Sendable func notBool(_ v: CELValue) -> CELError {
            CELError("'\(name)' predicate returned \(v.typeName), not bool")
        }
        let body = bodies[0].eval
        switch kind {
        case .all, .exists:
            let stopOn = kind == .exists
            return Node(
                eval: { f throws(CELError) in
                    let locals = f.locals ?? Locals(costLimit: limit)
                    try locals.check()
                    let xs = try items(try re(f))
                    let inner = Frame(activation: f.activation, locals: locals)
                    var err: CELError? = nil
                    for x in xs {
                        try locals.charge(1)
                        locals.set(slot, x)
                        do throws(CELError) {
                            let v = try body(inner)
                            guard case .bool(let b) = v else {
                                if err == nil { err = notBool(v) }
                                continue
                            }
                            if b == stopOn { return .bool(stopOn) }
                        } catch {
                            // An exhausted budget ends the loop; other errors are absorbed.
                            if locals.exceeded { throw error }
                            if err == nil { err = error }
                        }
                    }
                    if let err { throw err }
                    return .bool(!stopOn)
                }, type: .bool)
        case .existsOne:
            return Node(
                eval: { f throws(CELError) in
                    let locals = f.locals ?? Locals(costLimit: limit)
                    try locals.check()
                    let xs = try items(try re(f))
                    let inner = Frame(activation: f.activation, locals: locals)
                    var count = 0
                    for x in xs {
                        try locals.charge(1)
                        locals.set(slot, x)
                        let v = try body(inner)
                        guard case .bool(let b) = v else { throw notBool(v) }
                        if b { count += 1 }
                    }
                    return .bool(count == 1)
                }, type: .bool)
        case .filter:
            return Node(
                eval: { f throws(CELError) in
                    let locals = f.locals ?? Locals(costLimit: limit)
                    try locals.check()
                    let xs = try items(try re(f))
                    let inner = Frame(activation: f.activation, locals: locals)
                    var out: [CELValue] = []
                    for x in xs {
                        try locals.charge(1)
                        locals.set(slot, x)
                        let v = try body(inner)
                        guard case .bool(let b) = v else { throw notBool(v) }
                        if b {
                            try locals.charge(1)
                            out.append(x)
                        }
                    }
                    return .list(out)
                }, type: .list(elemType))
        case .map:
            let pred: Eval? = bodies.count == 2 ? bodies[0].eval : nil
            let transform = bodies[bodies.count - 1].eval
            return Node(
                eval: { f throws(CELError) in
                    let locals = f.locals ?? Locals(costLimit: limit)
                    try locals.check()
                    let xs = try items(try re(f))
                    let inner = Frame(activation: f.activation, locals: locals)
                    var out: [CELValue] = []
                    out.reserveCapacity(xs.count)
                    for x in xs {
                        try locals.charge(1)
                        locals.set(slot, x)
                        if let pred {
                            let v = try pred(inner)
                            guard case .bool(let b) = v else { throw notBool(v) }
                            if !b { continue }
                        }
                        try locals.charge(1)
                        out.append(try transform(inner))
                    }
                    return .list(out)
                }, type: .list(bodies[bodies.count - 1].type))
        }
    }
}
