/// How an expression's evaluation cost grows with the size of its input, estimated from
/// its shape alone (cel-go has a fuller estimator of the same kind).
///
/// `degree` is k in O(n^k), n the size of the data the expression reads: 0 for work that
/// does not depend on it, 1 for work linear in it (a comprehension over a list of the
/// event, a string search), 2 and more for work that multiplies (a comprehension over a
/// list inside another, a search of an event list for each element of one).
@usableFromInline package struct CELCostEstimate: Sendable, Equatable {
    /// k in O(n^k).
    @usableFromInline package var degree: Int = 0
    /// Why the cost grows that fast, in words, when `degree` is 2 or more.
    @usableFromInline package var reason: String? = nil
    /// Where in the source the responsible part starts.
    @usableFromInline package var offset: Int = 0

    @usableFromInline package init(degree: Int = 0, reason: String? = nil, offset: Int = 0) {
        self.degree = degree
        self.reason = reason
        self.offset = offset
    }
}

/// The estimate, over the parsed expression, from what each part's size may be:
/// constant (a literal), part of one element of a list being iterated, a value read
/// from the input (a field: iterating over it is input-sized work, but it is presumed
/// small as an operand, so `price * qty` or `prefix + id` inside a loop stays linear), or
/// known large (a list a comprehension over input data built). Rules:
/// - a comprehension over a field or a large list costs 1 + its body's cost; over a
///   constant list, or over part of an element of an enclosing comprehension, only its
///   body's (the parts of all elements add up to the input: `orders.all(o,
///   o.items.all(i, ...))` is linear);
/// - `x in list` costs 1 when `list` is a field or large; `+` and the string builders
///   cost 1 when an operand is large;
/// - `replace` and `join` cost 1 for each of text (list) and replacement (separator)
///   that is a field or large: `text.replace("a", other)` is quadratic;
/// - everything else costs the most of its operands.
enum CostEstimator {
    enum Size: Int, Comparable {
        case constant, element, field, large
        static func < (a: Size, b: Size) -> Bool { a.rawValue < b.rawValue }
        /// The cost of iterating over (or searching) a value of this size.
        var iterated: Int { self >= .field ? 1 : 0 }
        /// The cost of copying a value of this size into a new one.
        var copied: Int { self == .large ? 1 : 0 }
    }

    struct Result {
        var size: Size = .constant
        var cost = 0
        /// What makes the cost at least linear (for the reason of a larger estimate).
        var why: String? = nil
        var reason: String? = nil
        var offset = 0

        mutating func absorb(_ r: Result) {
            size = max(size, r.size)
            take(r)
        }

        /// The costlier of the two.
        mutating func take(_ r: Result) {
            if r.cost > cost || (r.cost == cost && why == nil) {
                cost = r.cost
                why = r.why ?? why
                if r.reason != nil {
                    reason = r.reason
                    offset = r.offset
                }
            }
        }

        mutating func pass(_ degree: Int, _ what: String) {
            if degree > cost {
                cost = degree
                why = what
            }
        }
    }

    static let builders: Set<String> = [
        "_+_", "split", "lowerAscii", "upperAscii", "trim", "substring", "string", "bytes",
    ]

    static func estimate(_ e: Expr) -> CELCostEstimate {
        var vars: [(String, Size)] = []
        let r = walk(e, &vars)
        return CELCostEstimate(degree: r.cost, reason: r.cost >= 2 ? r.reason : nil, offset: r.offset)
    }

    static func walk(_ e: Expr, _ vars: inout [(String, Size)]) -> Result {
        var r = Result()
        switch e.kind {
        case .literal:
            break
        case .ident(let name, let absolute):
            r.size = absolute ? .field : vars.last(where: { $0.0 == name })?.1 ?? .field
        case .select(let operand, _, let testOnly):
            let o = walk(operand, &vars)
            r.take(o)
            r.size = testOnly ? .constant : o.size
        case .list(let xs):
            // A literal has a constant number of elements.
            for x in xs { r.take(walk(x, &vars)) }
        case .map(let entries):
            for (k, v) in entries {
                r.take(walk(k, &vars))
                r.take(walk(v, &vars))
            }
        case .chain(let first, let links):
            r = walk(first, &vars)
            for link in links {
                let o = walk(link.operand, &vars)
                if link.function == "_+_" {
                    r.absorb(o)
                    r.pass(r.size.copied, "builds a list or string as large as the input")
                } else {
                    r.take(o)
                    r.size = .constant
                }
            }
        case .call(let target, let function, let args):
            var parts: [Result] = []
            if let target { parts.append(walk(target, &vars)) }
            for a in args { parts.append(walk(a, &vars)) }
            for p in parts { r.take(p) }
            let sizes = parts.map(\.size)
            let largest = sizes.max() ?? .constant
            switch function {
            case "replace" where parts.count == 3, "join" where parts.count >= 1:
                let d = sizes[0].iterated + (sizes.count > 1 ? sizes[sizes.count - 1].iterated : 0)
                r.pass(d, "builds a string as large as the input")
                if d >= 2 {
                    r.reason = "'\(function)' of two values from the event builds a string as large as their product"
                    r.offset = e.offset
                }
                r.size = .large
            case "@in" where sizes.count == 2:
                r.pass(sizes[1].iterated, "searches a list from the event")
                r.size = .constant
            case "_[_]", "dyn":
                r.size = sizes.first ?? .constant
            case _ where builders.contains(function):
                r.pass(largest.copied, "builds a list or string as large as the input")
                r.size = largest
            default:
                r.size = .constant
            }
        case .comprehension(let kind, let range, let variable, let args):
            let rr = walk(range, &vars)
            vars.append((variable, rr.size == .constant ? .constant : .element))
            var body = Result()
            for a in args { body.absorb(walk(a, &vars)) }
            vars.removeLast()
            r.take(rr)
            let iterations = rr.size.iterated
            if iterations + body.cost > r.cost {
                r.cost = iterations + body.cost
                r.why = iterations > 0 ? "runs a comprehension ('\(kind.rawValue)') over event data" : body.why
                if body.reason != nil && iterations == 0 {
                    r.reason = body.reason
                    r.offset = body.offset
                } else if r.cost >= 2 {
                    r.reason =
                        "'\(kind.rawValue)' over event data \(body.why ?? "does work that grows with the event") for each element"
                    r.offset = e.offset
                }
            }
            switch kind {
            case .map, .filter: r.size = rr.size.iterated > 0 ? .large : max(rr.size, body.size)
            default: r.size = .constant
            }
        }
        return r
    }
}
