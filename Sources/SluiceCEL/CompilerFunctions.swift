/// Named function calls: builtins, Sluice extensions and host functions.
extension Compiler {
    static let stringReceivers: Set<String> = [
        "contains", "startsWith", "endsWith", "matches", "lowerAscii", "upperAscii", "trim",
        "replace", "split", "indexOf", "substring", "charAt",
    ]
    static let timeAccessors: Set<String> = [
        "getFullYear", "getMonth", "getDayOfYear", "getDayOfMonth", "getDate", "getDayOfWeek",
        "getHours", "getMinutes", "getSeconds", "getMilliseconds",
    ]
    static let conversionInputs: [String: [CheckType]] = [
        "int": [.int, .uint, .double, .string, .timestamp],
        "uint": [.int, .uint, .double, .string],
        "double": [.int, .uint, .double, .string],
        "string": [.int, .uint, .double, .string, .bytes, .bool, .timestamp, .duration, .type],
        "bytes": [.string, .bytes],
        "bool": [.bool, .string],
        "timestamp": [.string, .int, .timestamp],
        "duration": [.string, .duration],
    ]

    mutating func functionCall(target: Expr?, function rawName: String, args: [Expr], offset: Int)
        throws(CELCompileError) -> Node
    {
        var function = rawName
        var target = target
        if function.hasPrefix(".") { function.removeFirst() }
        // `ns.fn(x)` is a namespaced global function when one is registered by that name.
        if let t = target, let (parts, _) = qualifiedParts(t) {
            let qualified = (parts + [function]).joined(separator: ".")
            if functions.keys.contains(where: { $0.name == qualified && !$0.receiver }) {
                function = qualified
                target = nil
            }
        }
        let receiver = target != nil
        var def = functions[FunctionKey(name: function, receiver: receiver, arity: args.count)]
        if def == nil, !receiver, !args.isEmpty {
            def = functions[FunctionKey(name: function, receiver: false, arity: -1)]
        }
        var nodes: [Node] = []
        if let target { nodes.append(try compile(target)) }
        for a in args { nodes.append(try compile(a)) }
        guard let def else {
            let exists = functions.keys.contains { $0.name == function && $0.receiver == receiver }
            let message =
                exists
                ? "no matching overload for '\(function)' with \(args.count) argument\(args.count == 1 ? "" : "s")"
                : "undeclared reference to '\(function)'"
            if check { throw CELCompileError(message, offset: offset) }
            return .failing(CELError(message))
        }
        let type = try callType(function, receiver: receiver, nodes.map(\.type), offset)

        // A constant pattern is compiled once, now; a bad one is a compile error.
        if function == "matches", nodes.count == 2, case .string(let pattern)? = nodes[1].constant {
            let re: CELRegex
            do throws(CELError) {
                re = try CELRegex(pattern)
            } catch {
                throw CELCompileError(error.message, offset: args[args.count - 1].offset)
            }
            let se = nodes[0].eval
            let ev: Eval = { f throws(CELError) in
                let v = try se(f)
                guard case .string(let s) = v else { throw CELError.noOverload("matches", v, .string(pattern)) }
                return .bool(re.matches(s))
            }
            return nodes[0].constant != nil ? fold(ev, .bool) : Node(eval: ev, type: .bool)
        }

        let evals = nodes.map(\.eval)
        var ev: Eval
        switch def.impl {
        case .unary(let fn) where evals.count == 1:
            let a = evals[0]
            ev = { f throws(CELError) in try fn(try a(f)) }
        case .binary(let fn) where evals.count == 2:
            let a = evals[0], b = evals[1]
            ev = { f throws(CELError) in try fn(try a(f), try b(f)) }
        case .nary(let fn):
            ev = { f throws(CELError) in
                var xs: [CELValue] = []
                xs.reserveCapacity(evals.count)
                for e in evals { xs.append(try e(f)) }
                return try fn(xs)
            }
        default:
            return .failing(CELError("internal: arity mismatch for '\(function)'"))
        }
        if def.pure, nodes.allSatisfy({ $0.constant != nil }) { return fold(ev, type) }
        if def.pure, receiver, function == "replace" || function == "join" {
            // The two builders whose result can outgrow their input (a string times the
            // number of matches, a separator times the length of a list) charge its size
            // before building it, anywhere in an expression.
            usesCost = true
            let build = ev
            let args = evals
            let name = function
            ev = { f throws(CELError) in
                if let meter = f.locals {
                    var xs: [CELValue] = []
                    xs.reserveCapacity(args.count)
                    for a in args { xs.append(try a(f)) }
                    try meter.charge(Self.builtSize(name, xs))
                    switch def.impl {
                    case .nary(let fn): return try fn(xs)
                    case .binary(let fn) where xs.count == 2: return try fn(xs[0], xs[1])
                    case .unary(let fn) where xs.count == 1: return try fn(xs[0])
                    default: break
                    }
                }
                return try build(f)
            }
        }
        var node = Node(eval: ev, type: type)
        // The builtin `int()` and `double()` of arithmetic (a host function is not pure).
        if def.pure, !receiver, nodes.count == 1, function == "int" || function == "double",
            let a = nodes[0].asArithmetic
        {
            node.arithmetic = function == "int" ? .toInt(a) : .toDouble(a)
        }
        return def.pure && Self.builders.contains(function) ? meteredResult(node) : node
    }

    /// Builtins that build a string or a list (metered inside comprehensions).
    static let builders: Set<String> = [
        "replace", "split", "join", "lowerAscii", "upperAscii", "trim", "substring", "string", "bytes",
    ]

    /// The cost of what `replace` or `join` is about to build from `args` (see
    /// ``Locals/size(_:)``), computed without building it.
    static func builtSize(_ function: String, _ args: [CELValue]) -> Int {
        if function == "replace" {
            guard args.count == 3, case .string(let s) = args[0], case .string(let old) = args[1],
                case .string(let new) = args[2], !old.isEmpty
            else { return 0 }
            let grow = new.utf8.count - old.utf8.count
            var bytes = s.utf8.count
            if grow > 0 {
                var matches = 0
                var rest = Substring(s).utf8[...]
                while let r = rest.firstRange(of: old.utf8) {
                    matches += 1
                    rest = rest[r.upperBound...]
                }
                bytes += matches * grow
            }
            return (bytes + 9) / 10
        }
        guard case .list(let l)? = args.first else { return 0 }
        var sep = 0
        if args.count == 2, case .string(let s) = args[1] { sep = s.utf8.count }
        var bytes = max(0, l.count - 1) * sep
        for v in l { if case .string(let s) = v { bytes += s.utf8.count } }
        return (bytes + 9) / 10
    }

    /// The result type of a builtin call; throws (when checking) for argument types that
    /// no overload accepts.
    func callType(_ fn: String, receiver: Bool, _ ts: [CheckType], _ offset: Int) throws(CELCompileError) -> CheckType {
        func fail() -> CELCompileError {
            CELCompileError(
                "no matching overload for '\(fn)' applied to (\(ts.map(\.description).joined(separator: ", ")))",
                offset: offset)
        }
        let known = ts.map { $0 != .dyn }
        if receiver, Self.stringReceivers.contains(fn) {
            if check, known[0], ts[0] != .string { throw fail() }
            if check, ["contains", "startsWith", "endsWith", "matches"].contains(fn), known[1], ts[1] != .string {
                throw fail()
            }
            switch fn {
            case "contains", "startsWith", "endsWith", "matches": return .bool
            case "split": return .list(.string)
            case "indexOf": return .int
            default: return .string
            }
        }
        if receiver, Self.timeAccessors.contains(fn) {
            if check, known[0], ts[0] != .timestamp, ts[0] != .duration { throw fail() }
            if check, ts.count == 2, known[1], ts[1] != .string { throw fail() }
            return .int
        }
        if let inputs = Self.conversionInputs[fn], !receiver, ts.count == 1 {
            if check, known[0], !inputs.contains(ts[0]) { throw fail() }
            return CheckType.parse(fn) ?? .dyn
        }
        switch fn {
        case "size":
            if check, known[0] {
                switch ts[0] {
                case .string, .bytes, .list, .map: break
                default: throw fail()
                }
            }
            return .int
        case "matches": return .bool
        case "type": return .type
        case "dyn": return .dyn
        case "sum", "min", "max", "avg":
            if receiver, check, known[0] {
                guard case .list(let e) = ts[0] else { throw fail() }
                if fn == "avg" { return .double }
                return e
            }
            return fn == "avg" ? .double : .dyn
        default: return .dyn
        }
    }
}
