/// Recursive-descent parser for the whole CEL grammar, with macro expansion.
///
/// Nesting is limited (``maxDepth``) so that hostile input such as 10,000 parentheses
/// fails with an error instead of overflowing the stack, and list/map literals are
/// limited to ``maxElements`` entries.
struct Parser {
    static let maxDepth = 250
    static let maxElements = 100_000
    static let reserved: Set<String> = [
        "as", "break", "const", "continue", "else", "for", "function", "if", "import",
        "let", "loop", "package", "namespace", "return", "var", "void", "while", "in",
    ]

    var tokens: [Token]
    var p = 0
    var recursion = 0
    let macros: Bool

    static func parse(_ source: String, macros: Bool = true) throws(CELCompileError) -> Expr {
        var parser = Parser(tokens: try Lexer.tokenize(source), macros: macros)
        let e = try parser.parseExpr()
        guard case .eof = parser.tok.kind else {
            throw CELCompileError("unexpected \(parser.describe(parser.tok))", offset: parser.tok.offset)
        }
        return e
    }

    init(tokens: [Token], macros: Bool) {
        self.tokens = tokens
        self.macros = macros
    }

    var tok: Token { tokens[min(p, tokens.count - 1)] }

    func describe(_ t: Token) -> String {
        switch t.kind {
        case .eof: return "end of expression"
        case .punct(let s): return "token '\(s.hasPrefix("`") ? s + "`" : s)'"
        case .ident(let s): return "identifier '\(s)'"
        default: return "literal"
        }
    }

    func isPunct(_ s: String) -> Bool {
        if case .punct(let x) = tok.kind { return x == s }
        return false
    }

    mutating func accept(_ s: String) -> Bool {
        if isPunct(s) {
            p += 1
            return true
        }
        return false
    }

    mutating func expect(_ s: String) throws(CELCompileError) {
        guard accept(s) else {
            throw CELCompileError("expected '\(s)' but found \(describe(tok))", offset: tok.offset)
        }
    }

    func node(_ kind: ExprKind, _ offset: Int) throws(CELCompileError) -> Expr {
        let e = Expr(kind, at: offset)
        if e.depth > Self.maxDepth {
            throw CELCompileError("expression nested too deeply (limit \(Self.maxDepth))", offset: offset)
        }
        return e
    }

    mutating func enter() throws(CELCompileError) {
        recursion += 1
        if recursion > Self.maxDepth {
            throw CELCompileError("expression nested too deeply (limit \(Self.maxDepth))", offset: tok.offset)
        }
    }

    mutating func parseExpr() throws(CELCompileError) -> Expr {
        try enter()
        defer { recursion -= 1 }
        let cond = try parseOr()
        if isPunct("?") {
            let at = tok.offset
            p += 1
            let a = try parseOr()
            try expect(":")
            let b = try parseExpr()
            return try node(.call(target: nil, function: "_?_:_", args: [cond, a, b]), at)
        }
        return cond
    }

    mutating func parseOr() throws(CELCompileError) -> Expr {
        var operands = [try parseAnd()]
        var offsets: [Int] = []
        while isPunct("||") {
            offsets.append(tok.offset)
            p += 1
            operands.append(try parseAnd())
            try checkChainLength(operands.count)
        }
        return try balanced("_||_", operands, offsets)
    }

    mutating func parseAnd() throws(CELCompileError) -> Expr {
        var operands = [try parseRelation()]
        var offsets: [Int] = []
        while isPunct("&&") {
            offsets.append(tok.offset)
            p += 1
            operands.append(try parseRelation())
            try checkChainLength(operands.count)
        }
        return try balanced("_&&_", operands, offsets)
    }

    func checkChainLength(_ n: Int) throws(CELCompileError) {
        if n > Self.maxElements {
            throw CELCompileError("too many operands in a chain (limit \(Self.maxElements))", offset: tok.offset)
        }
    }

    /// A run of `&&` (or `||`) as a balanced tree, as cel-go builds it: the operators are
    /// associative in CEL (errors are absorbed whatever the grouping, and operands are
    /// still evaluated left to right), so a flat chain of any length nests only
    /// log2(n) levels. `offsets[i]` is the operator between operands i and i + 1.
    func balanced(_ function: String, _ operands: [Expr], _ offsets: [Int]) throws(CELCompileError) -> Expr {
        func build(_ lo: Int, _ hi: Int) throws(CELCompileError) -> Expr {
            if hi - lo == 1 { return operands[lo] }
            let mid = (lo + hi + 1) / 2
            let l = try build(lo, mid)
            let r = try build(mid, hi)
            return try node(.call(target: nil, function: function, args: [l, r]), offsets[mid - 1])
        }
        return try build(0, operands.count)
    }

    mutating func parseRelation() throws(CELCompileError) -> Expr {
        var l = try parseAdditive()
        while true {
            let fn: String
            switch tok.kind {
            case .punct("<"): fn = "_<_"
            case .punct("<="): fn = "_<=_"
            case .punct(">"): fn = "_>_"
            case .punct(">="): fn = "_>=_"
            case .punct("=="): fn = "_==_"
            case .punct("!="): fn = "_!=_"
            case .ident("in"): fn = "@in"
            default: return l
            }
            let at = tok.offset
            p += 1
            let r = try parseAdditive()
            l = try node(.call(target: nil, function: fn, args: [l, r]), at)
        }
    }

    mutating func parseAdditive() throws(CELCompileError) -> Expr {
        let first = try parseMultiplicative()
        var links: [ChainLink] = []
        while true {
            let fn: String
            switch tok.kind {
            case .punct("+"): fn = "_+_"
            case .punct("-"): fn = "_-_"
            default: return try chain(first, links)
            }
            let at = tok.offset
            p += 1
            links.append(ChainLink(function: fn, operand: try parseMultiplicative(), offset: at))
            try checkChainLength(links.count)
        }
    }

    mutating func parseMultiplicative() throws(CELCompileError) -> Expr {
        let first = try parseUnary()
        var links: [ChainLink] = []
        while true {
            let fn: String
            switch tok.kind {
            case .punct("*"): fn = "_*_"
            case .punct("/"): fn = "_/_"
            case .punct("%"): fn = "_%_"
            default: return try chain(first, links)
            }
            let at = tok.offset
            p += 1
            links.append(ChainLink(function: fn, operand: try parseUnary(), offset: at))
            try checkChainLength(links.count)
        }
    }

    /// `first` alone, a plain binary call for one operator, or a flat chain.
    func chain(_ first: Expr, _ links: [ChainLink]) throws(CELCompileError) -> Expr {
        guard let link = links.first else { return first }
        if links.count == 1 {
            return try node(.call(target: nil, function: link.function, args: [first, link.operand]), link.offset)
        }
        return try node(.chain(first: first, links: links), link.offset)
    }

    mutating func parseUnary() throws(CELCompileError) -> Expr {
        // Collect a run of prefix operators iteratively; the innermost '-' directly in
        // front of a number literal belongs to the literal (so INT64_MIN is writable).
        var ops: [(String, Int)] = []
        while isPunct("!") || isPunct("-") {
            if case .punct(let s) = tok.kind { ops.append((s, tok.offset)) }
            p += 1
        }
        var e: Expr
        if let last = ops.last, last.0 == "-", isNumberLiteral(tok.kind), !isPostfixFollowing() {
            ops.removeLast()
            e = try parseMember(negateLiteralAt: last.1)
        } else {
            e = try parseMember(negateLiteralAt: nil)
        }
        for (op, at) in ops.reversed() {
            e = try node(.call(target: nil, function: op == "!" ? "!_" : "-_", args: [e]), at)
        }
        return e
    }

    func isNumberLiteral(_ k: TokenKind) -> Bool {
        switch k {
        case .int, .double: return true
        default: return false
        }
    }

    /// `-1.foo()` negates the call result, so only fold the sign when nothing follows.
    func isPostfixFollowing() -> Bool {
        guard p + 1 < tokens.count, case .punct(let s) = tokens[p + 1].kind else { return false }
        return s == "." || s == "["
    }

    mutating func parseMember(negateLiteralAt: Int?) throws(CELCompileError) -> Expr {
        var e = try parsePrimary(negateLiteralAt: negateLiteralAt)
        while true {
            if isPunct(".") {
                let at = tok.offset
                p += 1
                let name: String
                switch tok.kind {
                case .ident(let n): name = n
                case .punct(let q) where q.hasPrefix("`"): name = String(q.dropFirst())
                default:
                    throw CELCompileError(
                        "expected field name after '.' but found \(describe(tok))", offset: tok.offset)
                }
                let quoted = if case .punct = tok.kind { true } else { false }
                p += 1
                if !quoted, isPunct("(") {
                    p += 1
                    let args = try parseArgs(close: ")")
                    e = try makeCall(target: e, name: name, args: args, at: at)
                } else {
                    e = try node(.select(e, name, testOnly: false), at)
                }
            } else if isPunct("[") {
                let at = tok.offset
                p += 1
                try enter()
                let idx = try parseExpr()
                recursion -= 1
                try expect("]")
                e = try node(.call(target: nil, function: "_[_]", args: [e, idx]), at)
            } else if isPunct("{") {
                throw CELCompileError("message construction is not supported", offset: tok.offset)
            } else {
                return e
            }
        }
    }

    mutating func parseArgs(close: String) throws(CELCompileError) -> [Expr] {
        try enter()
        defer { recursion -= 1 }
        var args: [Expr] = []
        if accept(close) { return args }
        while true {
            args.append(try parseExpr())
            if args.count > Self.maxElements {
                throw CELCompileError("too many elements (limit \(Self.maxElements))", offset: tok.offset)
            }
            if accept(close) { return args }
            try expect(",")
            if accept(close) { return args }  // trailing comma
        }
    }

    mutating func parsePrimary(negateLiteralAt: Int?) throws(CELCompileError) -> Expr {
        let t = tok
        switch t.kind {
        case .int(let text):
            p += 1
            let neg = negateLiteralAt != nil
            let at = negateLiteralAt ?? t.offset
            let magnitude: UInt64?
            if text.hasPrefix("0x") {
                magnitude = UInt64(text.dropFirst(2), radix: 16)
            } else {
                magnitude = UInt64(text)
            }
            guard let m = magnitude else { throw CELCompileError("integer literal out of range", offset: at) }
            if neg {
                guard m <= UInt64(Int64.max) + 1 else {
                    throw CELCompileError("integer literal out of range", offset: at)
                }
                return try node(.literal(.int(m == UInt64(Int64.max) + 1 ? Int64.min : -Int64(m))), at)
            }
            guard m <= UInt64(Int64.max) else { throw CELCompileError("integer literal out of range", offset: at) }
            return try node(.literal(.int(Int64(m))), at)
        case .uint(let text):
            p += 1
            let v = text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
            guard let v else { throw CELCompileError("unsigned integer literal out of range", offset: t.offset) }
            return try node(.literal(.uint(v)), t.offset)
        case .double(let text):
            p += 1
            guard let d = Double(text) else { throw CELCompileError("invalid double literal", offset: t.offset) }
            return try node(.literal(.double(negateLiteralAt != nil ? -d : d)), negateLiteralAt ?? t.offset)
        case .string(let s):
            p += 1
            return try node(.literal(.string(s)), t.offset)
        case .bytes(let b):
            p += 1
            return try node(.literal(.bytes(b)), t.offset)
        case .punct("("):
            p += 1
            let e = try parseExpr()
            try expect(")")
            return e
        case .punct("["):
            p += 1
            let elems = try parseArgs(close: "]")
            return try node(.list(elems), t.offset)
        case .punct("{"):
            p += 1
            try enter()
            defer { recursion -= 1 }
            var entries: [(key: Expr, value: Expr)] = []
            if !accept("}") {
                while true {
                    let k = try parseExpr()
                    try expect(":")
                    let v = try parseExpr()
                    entries.append((k, v))
                    if entries.count > Self.maxElements {
                        throw CELCompileError("too many map entries (limit \(Self.maxElements))", offset: tok.offset)
                    }
                    if accept("}") { break }
                    try expect(",")
                    if accept("}") { break }
                }
            }
            return try node(.map(entries), t.offset)
        case .punct("."):
            p += 1
            guard case .ident(let name) = tok.kind else {
                throw CELCompileError("expected identifier after '.' but found \(describe(tok))", offset: tok.offset)
            }
            try checkIdent(name, at: tok.offset)
            p += 1
            if isPunct("(") {
                p += 1
                let args = try parseArgs(close: ")")
                return try node(.call(target: nil, function: "." + name, args: args), t.offset)
            }
            return try node(.ident(name, absolute: true), t.offset)
        case .ident(let name):
            switch name {
            case "true":
                p += 1
                return try node(.literal(.bool(true)), t.offset)
            case "false":
                p += 1
                return try node(.literal(.bool(false)), t.offset)
            case "null":
                p += 1
                return try node(.literal(.null), t.offset)
            default: break
            }
            try checkIdent(name, at: t.offset)
            p += 1
            if isPunct("(") {
                p += 1
                let args = try parseArgs(close: ")")
                return try makeCall(target: nil, name: name, args: args, at: t.offset)
            }
            return try node(.ident(name, absolute: false), t.offset)
        default:
            throw CELCompileError("unexpected \(describe(t))", offset: t.offset)
        }
    }

    func checkIdent(_ name: String, at offset: Int) throws(CELCompileError) {
        if Self.reserved.contains(name) {
            throw CELCompileError("reserved identifier '\(name)'", offset: offset)
        }
    }

    /// Builds a call, expanding `has` and the comprehension macros.
    func makeCall(target: Expr?, name: String, args: [Expr], at: Int) throws(CELCompileError) -> Expr {
        guard macros else { return try node(.call(target: target, function: name, args: args), at) }
        if target == nil, name == "has", args.count == 1 {
            guard case .select(let operand, let field, _) = args[0].kind else {
                throw CELCompileError("invalid argument to has() macro", offset: args[0].offset)
            }
            return try node(.select(operand, field, testOnly: true), at)
        }
        if let target, let kind = MacroKind(rawValue: name) {
            let arity = kind == .map ? [2, 3] : [2]
            if arity.contains(args.count) {
                guard case .ident(let v, absolute: false) = args[0].kind else {
                    throw CELCompileError("argument must be a simple name", offset: args[0].offset)
                }
                return try node(.comprehension(kind, range: target, variable: v, args: Array(args.dropFirst())), at)
            }
        }
        return try node(.call(target: target, function: name, args: args), at)
    }
}
