/// The macros CEL expands at parse time.
enum MacroKind: String {
    case all, exists, existsOne = "exists_one", map, filter
}

/// A parsed expression node. `depth` bounds the recursion of every later pass.
struct Expr {
    let offset: Int
    let kind: ExprKind
    let depth: Int

    init(_ kind: ExprKind, at offset: Int) {
        self.offset = offset
        self.kind = kind
        var d = 0
        switch kind {
        case .literal, .ident: d = 0
        case .select(let e, _, _): d = e.depth
        case .call(let t, _, let args):
            d = t?.depth ?? 0
            for a in args { d = max(d, a.depth) }
        case .list(let xs): for x in xs { d = max(d, x.depth) }
        case .map(let es): for e in es { d = max(d, e.key.depth, e.value.depth) }
        case .comprehension(_, let r, _, let args):
            d = r.depth
            for a in args { d = max(d, a.depth) }
        case .chain(let first, let links):
            d = first.depth
            for l in links { d = max(d, l.operand.depth) }
        }
        depth = d + 1
    }
}

indirect enum ExprKind {
    case literal(CELValue)
    /// An identifier; `absolute` for a leading `.` (`.y` ignores the container and
    /// comprehension variables).
    case ident(String, absolute: Bool)
    /// `operand.field`; `testOnly` for `has(operand.field)`.
    case select(Expr, String, testOnly: Bool)
    /// A global (`target == nil`) or receiver call. Operators are calls named `_+_`, `!_`,
    /// `_?_:_`, `_[_]`, `@in`...
    case call(target: Expr?, function: String, args: [Expr])
    case list([Expr])
    case map([(key: Expr, value: Expr)])
    /// A macro over `range` binding `variable`; args are the predicate and/or transform.
    case comprehension(MacroKind, range: Expr, variable: String, args: [Expr])
    /// A flat run of left-associative arithmetic operators of one precedence
    /// (`a + b - c + ...`, `a * b / c`): `first`, then each link's operator applied to the
    /// result so far and the link's operand. Kept flat so that a long sum does not nest
    /// (and count against the nesting limit) one level per term.
    case chain(first: Expr, links: [ChainLink])
}

/// One `op operand` step of a ``ExprKind/chain(first:links:)``.
struct ChainLink {
    /// The operator as a call name (`_+_`, `_-_`, `_*_`, `_/_`, `_%_`).
    let function: String
    let operand: Expr
    /// Where the operator is.
    let offset: Int
}
