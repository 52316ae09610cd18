/// Declares what expressions may use and compiles them into ``CELProgram``s.
///
/// ```swift
/// var env = CELEnvironment()
/// try env.declare("amount", type: "double")
/// env.addFunction("twice", receiverStyle: false, arity: 1) { args throws(CELError) in
///     guard case .int(let i) = args[0] else { throw CELError("twice() needs an int") }
///     return .int(i &* 2)
/// }
/// let program = try env.compile("amount > 250.0 && country == 'US'")
/// ```
@usableFromInline package struct CELEnvironment: Sendable {
    /// Compile settings.
    @usableFromInline package var options: CELOptions
    var declarations: [String: CheckType] = [:]
    var hostFunctions: [FunctionKey: FunctionDef] = [:]
    let names = NameTable()

    /// An environment with `options` (defaults: checking on, lenient identifiers).
    @usableFromInline package init(options: CELOptions = CELOptions()) {
        self.options = options
    }

    /// Declares variable `name` (possibly qualified, e.g. `"a.b"`) with a CEL type such
    /// as `"int"`, `"map(string, int)"`, `"list(string)"`, `"google.protobuf.Timestamp"`
    /// or `"dyn"`. Declared types let the checker catch type errors at compile time.
    @usableFromInline package mutating func declare(_ name: String, type: String = "dyn") throws(CELCompileError) {
        guard let t = CheckType.parse(type) else {
            throw CELCompileError("unknown type '\(type)' for variable '\(name)'", offset: 0)
        }
        declarations[name] = t
    }

    /// Registers a host function. `arity` counts the arguments in parentheses (not the
    /// receiver); `impl` receives the receiver first for receiver-style functions. Several
    /// arities of one name may be registered; calling a name/arity that is not
    /// registered is a compile error. Host functions are never constant-folded.
    @usableFromInline package mutating func addFunction(
        _ name: String, receiverStyle: Bool, arity: Int,
        _ impl: @escaping @Sendable ([CELValue]) throws(CELError) -> CELValue
    ) {
        hostFunctions[FunctionKey(name: name, receiver: receiverStyle, arity: arity)] =
            FunctionDef(impl: .nary(impl), pure: false)
    }

    /// The interned name for `string`; ids are stable for this environment (and its
    /// copies), so activations can precompute lookups.
    @usableFromInline package func name(_ string: String) -> CELName { names.name(string) }

    /// Parses, checks and compiles `source`.
    @usableFromInline package func compile(_ source: String) throws(CELCompileError) -> CELProgram {
        let ast = try Parser.parse(source, macros: options.macros)
        var compiler = Compiler(env: self)
        let node = try compiler.compile(ast)
        // A bare variable is a condition too (a truth test); other nodes only in the
        // shapes the compiler marked.
        let condition = node.condition ?? (node.variable != nil ? node.asCondition : nil)
        var program = CELProgram(
            root: node.eval, constant: node.constant, condition: condition, arithmetic: node.arithmetic,
            asciiEquality: node.asciiEquality,
            names: compiler.referenced,
            resultTypeName: node.type.description, costLimit: compiler.usesCost ? options.costLimit : nil,
            costEstimate: CostEstimator.estimate(ast))
        if node.constant == nil, !compiler.usesCost { program.mapFields = try mapFields(ast) }
        if node.constant == nil { program.variable = node.variable }
        if node.constant == nil, !compiler.usesCost { program.asciiGuards = node.guards }
        if node.constant == nil, !compiler.usesCost { program.selection = node.selection }
        if node.constant == nil, !compiler.usesCost { program.guardedRest = guardedRest(ast) }
        return program
    }

    /// ``CELProgram/guardedRest`` of `ast`: an `&&` of two operands, one of them an
    /// ASCII equality, the other compiled as a program of its own; nil for anything else.
    func guardedRest(_ ast: Expr) -> GuardedRest? {
        guard case .call(nil, "_&&_", let args) = ast.kind, args.count == 2 else { return nil }
        func part(_ e: Expr) -> (node: Node, program: CELProgram)? {
            var compiler = Compiler(env: self)
            guard let node = try? compiler.compile(e), !compiler.usesCost, node.constant == nil else { return nil }
            let condition = node.condition ?? (node.variable != nil ? node.asCondition : nil)
            var program = CELProgram(
                root: node.eval, constant: node.constant, condition: condition, arithmetic: node.arithmetic,
                asciiEquality: node.asciiEquality, names: compiler.referenced, resultTypeName: node.type.description)
            program.variable = node.variable
            return (node, program)
        }
        guard let l = part(args[0]), let r = part(args[1]) else { return nil }
        if let (name, text) = l.node.asciiEquality { return GuardedRest(name: name, text: text, rest: r.program) }
        if let (name, text) = r.node.asciiEquality { return GuardedRest(name: name, text: text, rest: l.program) }
        return nil
    }

    /// For a map literal whose keys are distinct string literals (`{"id": id, "big":
    /// amount > 250.0}`), its entries, each value compiled as a program of its own;
    /// nil for anything else. Evaluating the values in order gives what the map holds,
    /// and the first error the map's evaluation would give (its keys are constants, and
    /// distinct, so building it cannot fail otherwise).
    func mapFields(_ ast: Expr) throws(CELCompileError) -> [(key: String, program: CELProgram)]? {
        guard case .map(let entries) = ast.kind, !entries.isEmpty else { return nil }
        var seen = Set<String>()
        var fields: [(key: String, program: CELProgram)] = []
        for (k, v) in entries {
            guard case .literal(.string(let key)) = k.kind, seen.insert(key).inserted else { return nil }
            var compiler = Compiler(env: self)
            let node = try compiler.compile(v)
            guard !compiler.usesCost else { return nil }
            let condition = node.condition ?? (node.variable != nil ? node.asCondition : nil)
            var program = CELProgram(
                root: node.eval, constant: node.constant, condition: condition, arithmetic: node.arithmetic,
                names: compiler.referenced,
                resultTypeName: node.type.description)
            if node.constant == nil { program.variable = node.variable }
            fields.append((key, program))
        }
        return fields
    }
}
