/// The standard operators on values. Each function implements every overload of one
/// CEL operator, switching on the runtime kinds of its operands.
enum Ops {
    enum Order { case less, equal, greater, unordered }

    // MARK: Equality and ordering

    static func equals(_ a: CELValue, _ b: CELValue) -> Bool {
        switch (a, b) {
        case (.int(let x), .int(let y)): return x == y
        case (.string(let x), .string(let y)): return stringEquals(x, y)
        case (.double(let x), .double(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.uint(let x), .uint(let y)): return x == y
        case (.int, .uint), (.int, .double), (.uint, .int), (.uint, .double), (.double, .int), (.double, .uint):
            return compareNumbers(a, b) == .equal
        case (.null, .null): return true
        case (.bytes(let x), .bytes(let y)): return x == y
        case (.list(let x), .list(let y)):
            guard x.count == y.count else { return false }
            for i in x.indices where !equals(x[i], y[i]) { return false }
            return true
        case (.map(let x), .map(let y)):
            guard x.count == y.count else { return false }
            for (k, v) in x.entries {
                guard let w = y[k], equals(v, w) else { return false }
            }
            return true
        case (.timestamp(let x), .timestamp(let y)): return x == y
        case (.duration(let x), .duration(let y)): return x == y
        case (.type(let x), .type(let y)): return x == y
        default: return false
        }
    }

    /// Code-point equality. Swift's `==` on String uses canonical equivalence, but CEL
    /// does not normalise: 'e\u0301' != '\u00e9'.
    @inline(__always)
    static func stringEquals(_ a: String, _ b: String) -> Bool {
        // Canonical equality is implied by code-point equality, so unequal under `==`
        // means unequal; equal under `==` needs the exact check only when non-ASCII.
        guard a == b else { return false }
        return a.utf8.count == b.utf8.count && (isASCII(a) || a.unicodeScalars.elementsEqual(b.unicodeScalars))
    }

    @inline(__always)
    static func isASCII(_ s: String) -> Bool {
        s.utf8.withContiguousStorageIfAvailable { p in p.allSatisfy { $0 < 0x80 } } ?? false
    }

    /// Exact comparison of int, uint and double values (no rounding through Double).
    static func compareNumbers(_ a: CELValue, _ b: CELValue) -> Order? {
        switch (a, b) {
        case (.int(let x), .int(let y)): return x < y ? .less : x == y ? .equal : .greater
        case (.uint(let x), .uint(let y)): return x < y ? .less : x == y ? .equal : .greater
        case (.double(let x), .double(let y)):
            if x < y { return .less }
            if x > y { return .greater }
            return x == y ? .equal : .unordered
        case (.int(let x), .uint(let y)):
            if x < 0 { return .less }
            let ux = UInt64(x)
            return ux < y ? .less : ux == y ? .equal : .greater
        case (.uint, .int): return flip(compareNumbers(b, a))
        case (.int(let x), .double(let y)): return compareIntDouble(x, y)
        case (.double, .int): return flip(compareNumbers(b, a))
        case (.uint(let x), .double(let y)):
            let d = Double(x)
            if d < y { return .less }
            if d > y { return .greater }
            return d == y ? .equal : .unordered
        case (.double, .uint): return flip(compareNumbers(b, a))
        default: return nil
        }
    }

    /// int/double comparison converts the int to double, as the reference
    /// implementations do (so 2^63-1 and 2^63 as a double compare equal).
    @inline(__always)
    static func compareIntDouble(_ x: Int64, _ y: Double) -> Order {
        let d = Double(x)
        if d < y { return .less }
        if d > y { return .greater }
        return d == y ? .equal : .unordered
    }

    static func flip(_ o: Order?) -> Order? {
        switch o {
        case .less: return .greater
        case .greater: return .less
        default: return o
        }
    }

    /// Ordering for `<`, `<=`, `>`, `>=`; nil when the operands have no ordering overload.
    static func order(_ a: CELValue, _ b: CELValue) -> Order? {
        switch (a, b) {
        case (.int, _), (.uint, _), (.double, _):
            return compareNumbers(a, b)
        case (.string(let x), .string(let y)):
            // CEL orders strings by code point; Swift's < on String is by Unicode
            // canonical ordering, so compare the scalars.
            return lexicographic(x.unicodeScalars.lazy.map(\.value), y.unicodeScalars.lazy.map(\.value))
        case (.bool(let x), .bool(let y)): return x == y ? .equal : (!x ? .less : .greater)
        case (.bytes(let x), .bytes(let y)): return lexicographic(x, y)
        case (.timestamp(let x), .timestamp(let y)): return x < y ? .less : x == y ? .equal : .greater
        case (.duration(let x), .duration(let y)): return x < y ? .less : x == y ? .equal : .greater
        default: return nil
        }
    }

    static func lexicographic<S: Sequence>(_ a: S, _ b: S) -> Order where S.Element: Comparable {
        var i = a.makeIterator()
        var j = b.makeIterator()
        while true {
            switch (i.next(), j.next()) {
            case (nil, nil): return .equal
            case (nil, _): return .less
            case (_, nil): return .greater
            case (let x?, let y?):
                if x < y { return .less }
                if x > y { return .greater }
            }
        }
    }

    enum Relation { case lt, le, gt, ge }

    static func relationName(_ r: Relation) -> String {
        switch r {
        case .lt: return "_<_"
        case .le: return "_<=_"
        case .gt: return "_>_"
        case .ge: return "_>=_"
        }
    }

    @inline(__always)
    static func test(_ r: Relation, _ o: Order) -> Bool {
        switch (r, o) {
        case (_, .unordered): return false
        case (.lt, .less), (.le, .less), (.le, .equal), (.gt, .greater), (.ge, .greater), (.ge, .equal): return true
        default: return false
        }
    }

    static func relation(_ r: Relation, _ a: CELValue, _ b: CELValue) throws(CELError) -> CELValue {
        guard let o = order(a, b) else { throw CELError.noOverload(relationName(r), a, b) }
        return .bool(test(r, o))
    }

    // MARK: Arithmetic

    static func add(_ a: CELValue, _ b: CELValue) throws(CELError) -> CELValue {
        switch (a, b) {
        case (.int(let x), .int(let y)):
            let (r, o) = x.addingReportingOverflow(y)
            if o { throw .overflow }
            return .int(r)
        case (.double(let x), .double(let y)): return .double(x + y)
        case (.uint(let x), .uint(let y)):
            let (r, o) = x.addingReportingOverflow(y)
            if o { throw .overflow }
            return .uint(r)
        case (.string(let x), .string(let y)): return .string(x + y)
        case (.bytes(let x), .bytes(let y)): return .bytes(x + y)
        case (.list(let x), .list(let y)): return .list(x + y)
        case (.timestamp(let t), .duration(let d)), (.duration(let d), .timestamp(let t)):
            return .timestamp(
                try CELTimestamp.normalised(seconds: t.seconds + d.seconds, nanos: Int64(t.nanos) + Int64(d.nanos)))
        case (.duration(let x), .duration(let y)):
            return .duration(try CELDuration(seconds: x.seconds + y.seconds, nanos: Int64(x.nanos) + Int64(y.nanos)))
        default: throw CELError.noOverload("_+_", a, b)
        }
    }

    static func subtract(_ a: CELValue, _ b: CELValue) throws(CELError) -> CELValue {
        switch (a, b) {
        case (.int(let x), .int(let y)):
            let (r, o) = x.subtractingReportingOverflow(y)
            if o { throw .overflow }
            return .int(r)
        case (.double(let x), .double(let y)): return .double(x - y)
        case (.uint(let x), .uint(let y)):
            let (r, o) = x.subtractingReportingOverflow(y)
            if o { throw .overflow }
            return .uint(r)
        case (.timestamp(let t), .duration(let d)):
            return .timestamp(
                try CELTimestamp.normalised(seconds: t.seconds - d.seconds, nanos: Int64(t.nanos) - Int64(d.nanos)))
        case (.timestamp(let x), .timestamp(let y)):
            return .duration(try CELDuration(seconds: x.seconds - y.seconds, nanos: Int64(x.nanos) - Int64(y.nanos)))
        case (.duration(let x), .duration(let y)):
            return .duration(try CELDuration(seconds: x.seconds - y.seconds, nanos: Int64(x.nanos) - Int64(y.nanos)))
        default: throw CELError.noOverload("_-_", a, b)
        }
    }

    static func multiply(_ a: CELValue, _ b: CELValue) throws(CELError) -> CELValue {
        switch (a, b) {
        case (.int(let x), .int(let y)):
            let (r, o) = x.multipliedReportingOverflow(by: y)
            if o { throw .overflow }
            return .int(r)
        case (.double(let x), .double(let y)): return .double(x * y)
        case (.uint(let x), .uint(let y)):
            let (r, o) = x.multipliedReportingOverflow(by: y)
            if o { throw .overflow }
            return .uint(r)
        default: throw CELError.noOverload("_*_", a, b)
        }
    }

    static func divide(_ a: CELValue, _ b: CELValue) throws(CELError) -> CELValue {
        switch (a, b) {
        case (.int(let x), .int(let y)):
            if y == 0 { throw .divideByZero }
            let (r, o) = x.dividedReportingOverflow(by: y)
            if o { throw .overflow }
            return .int(r)
        case (.double(let x), .double(let y)): return .double(x / y)
        case (.uint(let x), .uint(let y)):
            if y == 0 { throw .divideByZero }
            return .uint(x / y)
        default: throw CELError.noOverload("_/_", a, b)
        }
    }

    static func modulo(_ a: CELValue, _ b: CELValue) throws(CELError) -> CELValue {
        switch (a, b) {
        case (.int(let x), .int(let y)):
            if y == 0 { throw .moduloByZero }
            let (r, o) = x.remainderReportingOverflow(dividingBy: y)
            if o { throw .overflow }
            return .int(r)
        case (.uint(let x), .uint(let y)):
            if y == 0 { throw .moduloByZero }
            return .uint(x % y)
        default: throw CELError.noOverload("_%_", a, b)
        }
    }

    static func negate(_ a: CELValue) throws(CELError) -> CELValue {
        switch a {
        case .int(let x):
            if x == .min { throw .overflow }
            return .int(-x)
        case .double(let x): return .double(-x)
        case .duration(let d): return .duration(try CELDuration(seconds: -d.seconds, nanos: -Int64(d.nanos)))
        default: throw CELError.noOverload("-_", a)
        }
    }

    static func not(_ a: CELValue) throws(CELError) -> CELValue {
        guard case .bool(let b) = a else { throw CELError.noOverload("!_", a) }
        return .bool(!b)
    }

    // MARK: Containers

    static func index(_ c: CELValue, _ i: CELValue) throws(CELError) -> CELValue {
        switch c {
        case .list(let l):
            let n: Int64
            switch i {
            case .int(let x): n = x
            case .uint(let x):
                guard x <= UInt64(Int64.max) else { throw CELError("index out of range: \(x)") }
                n = Int64(x)
            case .double(let d):
                guard d.rounded(.towardZero) == d, abs(d) < 9.2e18 else {
                    throw CELError("invalid list index: \(formatDouble(d))")
                }
                n = Int64(d)
            default: throw CELError.noOverload("_[_]", c, i)
            }
            guard n >= 0, n < Int64(l.count) else { throw CELError("index out of range: \(n)") }
            return l[Int(n)]
        case .map(let m):
            if let v = m[i] { return v }
            switch i {
            case .string(let s): throw CELError("no such key: '\(s)'")
            case .int, .uint, .double, .bool: throw CELError("no such key: \(i)")
            default: throw CELError("no such key: unsupported key type \(i.typeName)")
            }
        default: throw CELError.noOverload("_[_]", c, i)
        }
    }

    static func contains(_ elem: CELValue, in c: CELValue) throws(CELError) -> CELValue {
        switch c {
        case .list(let l):
            for x in l where equals(elem, x) { return .bool(true) }
            return .bool(false)
        case .map(let m):
            return .bool(m[elem] != nil)
        default: throw CELError.noOverload("@in", elem, c)
        }
    }

    static func size(_ a: CELValue) throws(CELError) -> CELValue {
        switch a {
        case .string(let s): return .int(Int64(s.unicodeScalars.count))
        case .bytes(let b): return .int(Int64(b.count))
        case .list(let l): return .int(Int64(l.count))
        case .map(let m): return .int(Int64(m.count))
        default: throw CELError.noOverload("size", a)
        }
    }

    /// Field selection `a.f`: maps by string key.
    static func select(_ a: CELValue, _ field: String) throws(CELError) -> CELValue {
        guard case .map(let m) = a else {
            throw CELError("type '\(a.typeName)' does not support field selection")
        }
        guard let v = m.value(forStringKey: field) else { throw CELError("no such key: '\(field)'") }
        return v
    }

    /// `has(a.f)`.
    static func has(_ a: CELValue, _ field: String) throws(CELError) -> CELValue {
        guard case .map(let m) = a else {
            throw CELError("type '\(a.typeName)' does not support field selection")
        }
        return .bool(m.value(forStringKey: field) != nil)
    }

    // MARK: Formatting

    static func formatDouble(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
        if d == d.rounded(), abs(d) < 1e21 {
            // 1.0 → "1", like JSON and Go's %v
            if abs(d) < 1e15 { return String(Int64(d)) == "0" && d.sign == .minus ? "-0" : String(Int64(d)) }
        }
        return "\(d)"
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if c.value < 0x20 {
                    out += "\\x" + (c.value < 16 ? "0" : "") + String(c.value, radix: 16)
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        return out + "\""
    }
}
