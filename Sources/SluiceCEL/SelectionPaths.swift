/// How an expression reads a variable: the chains of field selections that follow it.
package enum CELSelectionPaths {
    /// For every place `source` names the identifier `root`, the fields selected after
    /// it (`root.a.b` gives `["a", "b"]`, `has(root.a.b)` too); `[]` where it is used
    /// otherwise (alone, indexed, passed to a function, as a macro's range). Nil when
    /// `source` does not parse.
    ///
    /// Over-approximates: a comprehension variable named `root` counts as `root`, so a
    /// caller keeping only the fields listed never drops one the expression reads.
    package static func paths(of root: String, in source: String) -> [[String]]? {
        guard let e = try? Parser.parse(source, macros: true) else { return nil }
        var out: [[String]] = []
        walk(e, root, &out)
        return out
    }

    /// The identifier and fields of `e` when it is a chain `ident.f1.f2...` (selects and
    /// `has` tests only).
    private static func chain(_ e: Expr) -> (String, [String])? {
        switch e.kind {
        case .ident(let n, _): return (n, [])
        case .select(let inner, let f, _):
            guard let (n, p) = chain(inner) else { return nil }
            return (n, p + [f])
        default: return nil
        }
    }

    private static func walk(_ e: Expr, _ root: String, _ out: inout [[String]]) {
        if let (n, p) = chain(e) {
            if n == root { out.append(p) }
            return
        }
        switch e.kind {
        case .literal, .ident: break
        case .select(let inner, _, _): walk(inner, root, &out)
        case .call(let target, _, let args):
            if let target { walk(target, root, &out) }
            for a in args { walk(a, root, &out) }
        case .list(let xs): for x in xs { walk(x, root, &out) }
        case .map(let es):
            for x in es {
                walk(x.key, root, &out)
                walk(x.value, root, &out)
            }
        case .comprehension(_, let range, let variable, let args):
            walk(range, root, &out)
            // The variable names a value of the range: read whole, for all we know.
            if variable == root { out.append([]) }
            for a in args { walk(a, root, &out) }
        case .chain(let first, let links):
            walk(first, root, &out)
            for l in links { walk(l.operand, root, &out) }
        }
    }
}
