import SluiceJSON

/// A total order over JSON values, as jq orders them: null < false < true < numbers <
/// strings < arrays < objects. Numbers compare by value (integers exactly), strings by
/// Unicode scalars, arrays element by element, objects by their compact text.
@usableFromInline package enum JSONOrder {
    static func rank(_ v: JSON) -> Int {
        switch v {
        case .null: 0
        case .bool(let b): b ? 2 : 1
        case .int, .double: 3
        case .string: 4
        case .array: 5
        case .object: 6
        }
    }

    /// True when `a` sorts before `b`.
    @usableFromInline package static func less(_ a: JSON, _ b: JSON) -> Bool {
        switch (a, b) {
        case (.int(let x), .int(let y)): return x < y
        case (.int(let x), .double(let y)): return Double(x) < y
        case (.double(let x), .int(let y)): return x < Double(y)
        case (.double(let x), .double(let y)): return x < y
        case (.string(let x), .string(let y)): return x.unicodeScalars.lexicographicallyPrecedes(y.unicodeScalars)
        case (.array(let x), .array(let y)):
            for (p, q) in zip(x, y) {
                if less(p, q) { return true }
                if less(q, p) { return false }
            }
            return x.count < y.count
        case (.object, .object): return JSONWriter.string(a) < JSONWriter.string(b)
        default: return rank(a) < rank(b)
        }
    }
}
