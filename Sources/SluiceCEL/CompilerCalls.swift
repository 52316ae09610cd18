/// Operators and function calls.
extension Compiler {
    mutating func compileCall(target: Expr?, function: String, args: [Expr], offset: Int) throws(CELCompileError)
        -> Node
    {
        switch function {
        case "_&&_", "_||_":
            return try logical(function == "_&&_", try compile(args[0]), try compile(args[1]), offset)
        case "_?_:_":
            let c = try compile(args[0])
            let a = try compile(args[1])
            let b = try compile(args[2])
            if check, c.type != .bool, c.type != .dyn {
                throw CELCompileError("condition must be bool, not \(c.type)", offset: args[0].offset)
            }
            if case .bool(let cv)? = c.constant { return cv ? a : b }
            let ce = c.eval, ae = a.eval, be = b.eval
            return Node(
                eval: { f throws(CELError) in
                    let v = try ce(f)
                    guard case .bool(let cond) = v else { throw CELError.noOverload("_?_:_", v) }
                    return cond ? try ae(f) : try be(f)
                }, type: a.type == b.type ? a.type : .dyn)
        case "!_":
            let x = try compile(args[0])
            let t = try opType(function, [x.type], offset)
            let xe = x.eval
            var node = unaryNode(x, t) { f throws(CELError) in
                let v = try xe(f)
                if case .bool(let b) = v { return .bool(!b) }
                return try Ops.not(v)
            }
            if node.constant == nil { node.condition = .not(x.asCondition) }
            return node
        case "-_":
            let x = try compile(args[0])
            let t = try opType(function, [x.type], offset)
            let xe = x.eval
            return unaryNode(x, t) { f throws(CELError) in try Ops.negate(try xe(f)) }
        case "_+_", "_-_", "_*_", "_/_", "_%_", "_[_]", "@in":
            let l = try compile(args[0])
            let r = try compile(args[1])
            let node = try binaryOperator(function, l, r, offset)
            return function == "_+_" ? meteredResult(node) : node
        case "_==_", "_!=_":
            let l = try compile(args[0])
            let r = try compile(args[1])
            return equality(function == "_==_", l, r)
        case "_<_", "_<=_", "_>_", "_>=_":
            let l = try compile(args[0])
            let r = try compile(args[1])
            let rel: Ops.Relation = function == "_<_" ? .lt : function == "_<=_" ? .le : function == "_>_" ? .gt : .ge
            _ = try opType(function, [l.type, r.type], offset)
            return relation(rel, l, r)
        default:
            return try functionCall(target: target, function: function, args: args, offset: offset)
        }
    }

    /// `l op r` for the arithmetic operators, indexing and `in`.
    func binaryOperator(_ function: String, _ l: Node, _ r: Node, _ offset: Int) throws(CELCompileError) -> Node {
        let t = try opType(function, [l.type, r.type], offset)
        if function == "_[_]", case .string(let key)? = r.constant {
            let le = l.eval
            return binaryNode(l, r, t) { f throws(CELError) in
                let v = try le(f)
                if case .map(let m) = v, let x = m.value(forStringKey: key) { return x }
                return try Ops.index(v, .string(key))
            }
        }
        let op = Self.operatorFunction(function)
        let le = l.eval, re = r.eval
        var node = binaryNode(l, r, t) { f throws(CELError) in try op(try le(f), try re(f)) }
        if function == "@in", let name = l.variable, let c = r.constant {
            node.condition = .test(CELFieldTest(name, .within, c))
        }
        if node.constant == nil, let op = Self.arithmeticOperator(function), let a = l.asArithmetic,
            let b = r.asArithmetic
        {
            node.arithmetic = .binary(op, a, b)
        }
        return node
    }

    /// The operator ``ArithmeticPlan`` computes for `function`, if any.
    static func arithmeticOperator(_ function: String) -> ArithmeticPlan.Operator? {
        switch function {
        case "_+_": return .add
        case "_-_": return .subtract
        case "_*_": return .multiply
        case "_/_": return .divide
        default: return nil
        }
    }

    static func operatorFunction(_ function: String) -> @Sendable (CELValue, CELValue) throws(CELError) -> CELValue {
        switch function {
        case "_+_": return Ops.add
        case "_-_": return Ops.subtract
        case "_*_": return Ops.multiply
        case "_/_": return Ops.divide
        case "_%_": return Ops.modulo
        case "_[_]": return Ops.index
        default: return { a, b throws(CELError) in try Ops.contains(a, in: b) }
        }
    }

    /// Chains this long or longer are evaluated by one loop (no closure per operator), so
    /// that evaluating them does not recurse once per term.
    static let loopChainLength = 16

    /// `first op1 x1 op2 x2 ...`, applied left to right.
    mutating func compileChain(_ first: Expr, _ links: [ChainLink]) throws(CELCompileError) -> Node {
        var acc = try compile(first)
        let adds = links.contains { $0.function == "_+_" }
        if links.count < Self.loopChainLength {
            for link in links {
                acc = try binaryOperator(link.function, acc, try compile(link.operand), link.offset)
            }
            return adds ? meteredResult(acc) : acc
        }
        var type = acc.type
        var evals: [Eval] = []
        var ops: [@Sendable (CELValue, CELValue) throws(CELError) -> CELValue] = []
        var allConstant = acc.constant != nil
        for link in links {
            let n = try compile(link.operand)
            type = try opType(link.function, [type, n.type], link.offset)
            allConstant = allConstant && n.constant != nil
            evals.append(n.eval)
            ops.append(Self.operatorFunction(link.function))
        }
        let head = acc.eval
        let (operands, operators) = (evals, ops)
        let ev: Eval = { f throws(CELError) in
            var v = try head(f)
            for i in operands.indices { v = try operators[i](v, try operands[i](f)) }
            return v
        }
        if allConstant { return fold(ev, type) }
        let node = Node(eval: ev, type: type)
        return adds ? meteredResult(node) : node
    }

    func unaryNode(_ x: Node, _ t: CheckType, _ ev: @escaping Eval) -> Node {
        x.constant != nil ? fold(ev, t) : Node(eval: ev, type: t)
    }

    func binaryNode(_ l: Node, _ r: Node, _ t: CheckType, _ ev: @escaping Eval) -> Node {
        l.constant != nil && r.constant != nil ? fold(ev, t) : Node(eval: ev, type: t)
    }

    // MARK: Logic

    /// `&&` and `||` with CEL's commutative error absorption: `false && error` and
    /// `error && false` are both false; otherwise an error (or a non-bool) wins.
    func logical(_ isAnd: Bool, _ l: Node, _ r: Node, _ offset: Int) throws(CELCompileError) -> Node {
        let name = isAnd ? "_&&_" : "_||_"
        if check {
            for n in [l, r] where n.type != .bool && n.type != .dyn {
                throw CELCompileError(
                    "no matching overload for '\(name)' applied to (\(l.type), \(r.type))", offset: offset)
            }
        }
        let decisive = !isAnd  // the value that decides the result on its own
        if case .bool(let b)? = l.constant, b == decisive { return .constant(.bool(decisive)) }
        if case .bool(let b)? = r.constant, b == decisive { return .constant(.bool(decisive)) }
        if case .bool(let b)? = l.constant, b != decisive { return passBool(r, name) }
        let le = l.eval, re = r.eval
        @Sendable func bad(_ v: CELValue) -> CELError {
            CELError("no matching overload for '\(name)' applied to (\(v.typeName))")
        }
        let ev: Eval = { f throws(CELError) in
            var first: CELError? = nil
            do throws(CELError) {
                let v = try le(f)
                if case .bool(let b) = v {
                    if b == decisive { return .bool(decisive) }
                } else {
                    first = bad(v)
                }
            } catch {
                first = error
            }
            let v: CELValue
            do throws(CELError) {
                v = try re(f)
            } catch {
                throw first ?? error
            }
            guard case .bool(let b) = v else { throw first ?? bad(v) }
            if b == decisive { return .bool(decisive) }
            if let first { throw first }
            return .bool(b)
        }
        if l.constant != nil && r.constant != nil { return fold(ev, .bool) }
        var node = Node(eval: ev, type: .bool)
        let parts = Condition.flatten(isAnd, [l.asCondition, r.asCondition])
        node.condition = isAnd ? .all(parts) : .any(parts)
        if isAnd { node.asciiGuards = l.guards + r.guards }
        return node
    }

    /// `true && x` is `x`, but only when `x` is a bool.
    func passBool(_ n: Node, _ name: String) -> Node {
        if n.type == .bool { return n }
        let e = n.eval
        let ev: Eval = { f throws(CELError) in
            let v = try e(f)
            guard case .bool = v else {
                throw CELError("no matching overload for '\(name)' applied to (\(v.typeName))")
            }
            return v
        }
        if n.constant != nil { return fold(ev, .bool) }
        var node = Node(eval: ev, type: .bool)
        // Yields a bool exactly when `n` is one, as the condition of `n` does.
        node.condition = n.asCondition
        return node
    }

    // MARK: Comparison

    func equality(_ isEq: Bool, _ l: Node, _ r: Node) -> Node {
        let le = l.eval, re = r.eval
        var ev: Eval
        // Specialise comparison with a constant, the common shape `field == "US"`.
        switch (l.constant, r.constant) {
        case (nil, .string(let c)?) where c.utf8.allSatisfy({ $0 < 0x80 }):
            // Only a string of the same UTF-8 length can equal an ASCII constant code
            // point for code point; with that, Swift's (canonical) `==` is exact.
            let count = c.utf8.count
            if let name = l.variable {
                ev = { f throws(CELError) in
                    guard let v = f.activation.resolve(name) else {
                        throw CELError("no such attribute: '\(name.string)'")
                    }
                    if case .string(let s) = v { return .bool((s.utf8.count == count && s == c) == isEq) }
                    return .bool(Ops.equals(v, .string(c)) == isEq)
                }
                break
            }
            ev = { f throws(CELError) in
                let v = try le(f)
                if case .string(let s) = v { return .bool((s.utf8.count == count && s == c) == isEq) }
                return .bool(Ops.equals(v, .string(c)) == isEq)
            }
        case (nil, .string(let c)?):
            ev = { f throws(CELError) in
                let v = try le(f)
                if case .string(let s) = v { return .bool(Ops.stringEquals(s, c) == isEq) }
                return .bool(Ops.equals(v, .string(c)) == isEq)
            }
        case (nil, .int(let c)?):
            ev = { f throws(CELError) in
                let v = try le(f)
                if case .int(let i) = v { return .bool((i == c) == isEq) }
                return .bool(Ops.equals(v, .int(c)) == isEq)
            }
        case (nil, let c?):
            ev = { f throws(CELError) in .bool(Ops.equals(try le(f), c) == isEq) }
        default:
            ev = { f throws(CELError) in .bool(Ops.equals(try le(f), try re(f)) == isEq) }
        }
        if l.constant != nil && r.constant != nil { return fold(ev, .bool) }
        var node = Node(eval: ev, type: .bool)
        if isEq {
            if let name = l.resolvedName, case .string(let c)? = r.constant, c.utf8.allSatisfy({ $0 < 0x80 }) {
                node.asciiEquality = (name, c)
            } else if let name = r.resolvedName, case .string(let c)? = l.constant, c.utf8.allSatisfy({ $0 < 0x80 }) {
                node.asciiEquality = (name, c)
            }
        }
        // CEL equality is symmetric, so `"US" == country` is `country == "US"`.
        if let name = l.variable, let c = r.constant {
            node.condition = .test(CELFieldTest(name, isEq ? .equal : .notEqual, c))
        } else if let name = r.variable, let c = l.constant {
            node.condition = .test(CELFieldTest(name, isEq ? .equal : .notEqual, c))
        }
        return node
    }

    func relation(_ rel: Ops.Relation, _ l: Node, _ r: Node) -> Node {
        let le = l.eval, re = r.eval
        let ev: Eval
        switch r.constant {
        case .double(let c)? where l.constant == nil:
            if let name = l.variable {
                ev = Self.relationWithDouble(rel, name, c)
                break
            }
            ev = Self.relationWithDouble(rel, le, c)
        case .int(let c)? where l.constant == nil:
            ev = Self.relationWithInt(rel, le, c)
        default:
            ev = { f throws(CELError) in
                let a = try le(f)
                let b = try re(f)
                guard let o = Ops.order(a, b) else { throw CELError.noOverload(Ops.relationName(rel), a, b) }
                return .bool(Ops.test(rel, o))
            }
        }
        if l.constant != nil && r.constant != nil { return fold(ev, .bool) }
        var node = Node(eval: ev, type: .bool)
        // Orderings are antisymmetric, so `250.0 < amount` is `amount > 250.0`.
        if let name = l.variable, let c = r.constant {
            node.condition = .test(CELFieldTest(name, rel, flipped: false, c))
        } else if let name = r.variable, let c = l.constant {
            node.condition = .test(CELFieldTest(name, rel, flipped: true, c))
        }
        return node
    }

    /// `x > 250.0` and friends: one closure per operator so the hot path is a single
    /// comparison of unboxed doubles.
    static func relationWithDouble(_ rel: Ops.Relation, _ le: @escaping Eval, _ c: Double) -> Eval {
        @inline(__always) @Sendable func slow(_ v: CELValue) throws(CELError) -> CELValue {
            guard let o = Ops.order(v, .double(c)) else {
                throw CELError.noOverload(Ops.relationName(rel), v, .double(c))
            }
            return .bool(Ops.test(rel, o))
        }
        switch rel {
        case .gt:
            return { f throws(CELError) in
                let v = try le(f)
                if case .double(let d) = v { return .bool(d > c) }
                return try slow(v)
            }
        case .ge:
            return { f throws(CELError) in
                let v = try le(f)
                if case .double(let d) = v { return .bool(d >= c) }
                return try slow(v)
            }
        case .lt:
            return { f throws(CELError) in
                let v = try le(f)
                if case .double(let d) = v { return .bool(d < c) }
                return try slow(v)
            }
        case .le:
            return { f throws(CELError) in
                let v = try le(f)
                if case .double(let d) = v { return .bool(d <= c) }
                return try slow(v)
            }
        }
    }

    /// `amount > 250.0` with `amount` an activation variable: lookup and comparison in
    /// one closure.
    static func relationWithDouble(_ rel: Ops.Relation, _ name: CELName, _ c: Double) -> Eval {
        @inline(__always) @Sendable func slow(_ v: CELValue) throws(CELError) -> CELValue {
            guard let o = Ops.order(v, .double(c)) else {
                throw CELError.noOverload(Ops.relationName(rel), v, .double(c))
            }
            return .bool(Ops.test(rel, o))
        }
        @inline(__always) @Sendable func load(_ f: Frame) throws(CELError) -> CELValue {
            guard let v = f.activation.resolve(name) else { throw CELError("no such attribute: '\(name.string)'") }
            return v
        }
        switch rel {
        case .gt:
            return { f throws(CELError) in
                let v = try load(f)
                if case .double(let d) = v { return .bool(d > c) }
                return try slow(v)
            }
        case .ge:
            return { f throws(CELError) in
                let v = try load(f)
                if case .double(let d) = v { return .bool(d >= c) }
                return try slow(v)
            }
        case .lt:
            return { f throws(CELError) in
                let v = try load(f)
                if case .double(let d) = v { return .bool(d < c) }
                return try slow(v)
            }
        case .le:
            return { f throws(CELError) in
                let v = try load(f)
                if case .double(let d) = v { return .bool(d <= c) }
                return try slow(v)
            }
        }
    }

    static func relationWithInt(_ rel: Ops.Relation, _ le: @escaping Eval, _ c: Int64) -> Eval {
        @inline(__always) @Sendable func slow(_ v: CELValue) throws(CELError) -> CELValue {
            guard let o = Ops.order(v, .int(c)) else { throw CELError.noOverload(Ops.relationName(rel), v, .int(c)) }
            return .bool(Ops.test(rel, o))
        }
        switch rel {
        case .gt:
            return { f throws(CELError) in
                let v = try le(f)
                if case .int(let d) = v { return .bool(d > c) }
                return try slow(v)
            }
        case .ge:
            return { f throws(CELError) in
                let v = try le(f)
                if case .int(let d) = v { return .bool(d >= c) }
                return try slow(v)
            }
        case .lt:
            return { f throws(CELError) in
                let v = try le(f)
                if case .int(let d) = v { return .bool(d < c) }
                return try slow(v)
            }
        case .le:
            return { f throws(CELError) in
                let v = try le(f)
                if case .int(let d) = v { return .bool(d <= c) }
                return try slow(v)
            }
        }
    }

    // MARK: Static operator types

    /// The result type of an operator for known operand types; `dyn` when unknown.
    /// Throws (when checking) for operand types no overload accepts.
    func opType(_ op: String, _ ts: [CheckType], _ offset: Int) throws(CELCompileError) -> CheckType {
        func fail() -> CELCompileError {
            CELCompileError(
                "no matching overload for '\(op)' applied to (\(ts.map(\.description).joined(separator: ", ")))",
                offset: offset)
        }
        if ts.contains(.dyn) {
            switch op {
            case "_<_", "_<=_", "_>_", "_>=_", "@in", "!_": return .bool
            case "_[_]":
                if case .list(let e) = ts[0] { return e }
                if case .map(_, let v) = ts[0] { return v }
                if check, ts[0] != .dyn { throw fail() }
                return .dyn
            default: return .dyn
            }
        }
        var result: CheckType? = nil
        switch op {
        case "!_": result = ts[0] == .bool ? .bool : nil
        case "-_": result = [.int, .double, .duration].contains(ts[0]) ? ts[0] : nil
        case "_+_":
            switch (ts[0], ts[1]) {
            case (.list(let a), .list(let b)): result = .list(a == b ? a : .dyn)
            case (.timestamp, .duration), (.duration, .timestamp): result = .timestamp
            case let (a, b) where a == b && [.int, .uint, .double, .string, .bytes, .duration].contains(a): result = a
            default: break
            }
        case "_-_":
            switch (ts[0], ts[1]) {
            case (.timestamp, .timestamp): result = .duration
            case (.timestamp, .duration): result = .timestamp
            case let (a, b) where a == b && [.int, .uint, .double, .duration].contains(a): result = a
            default: break
            }
        case "_*_", "_/_": result = ts[0] == ts[1] && ts[0].isNumeric ? ts[0] : nil
        case "_%_": result = ts[0] == ts[1] && (ts[0] == .int || ts[0] == .uint) ? ts[0] : nil
        case "_<_", "_<=_", "_>_", "_>=_":
            if ts[0].isNumeric && ts[1].isNumeric {
                result = .bool
            } else if ts[0] == ts[1] && [.string, .bytes, .bool, .timestamp, .duration].contains(ts[0]) {
                result = .bool
            }
        case "_[_]":
            switch (ts[0], ts[1]) {
            case (.list(let e), let i) where i.isNumeric: result = e
            case (.map(let k, let v), let kk) where k == kk || k == .dyn || (k.isNumeric && kk.isNumeric): result = v
            default: break
            }
        case "@in":
            switch ts[1] {
            case .list, .map: result = .bool
            default: break
            }
        default: result = .dyn
        }
        if let result { return result }
        if check { throw fail() }
        return .dyn
    }
}
