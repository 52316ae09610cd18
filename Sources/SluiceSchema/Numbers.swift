import SluiceJSON

/// JSON Schema's value semantics on top of ``JSON``: numbers compare by value across
/// `.int` and `.double`, objects ignore key order, `true` is not `1`.
enum Semantics {
    /// Orders two numbers exactly (no rounding of large integers through `Double`);
    /// nil when either is not a number or is NaN.
    static func compare(_ a: JSON, _ b: JSON) -> Int? {
        switch (a, b) {
        case (.int(let x), .int(let y)): return x < y ? -1 : (x > y ? 1 : 0)
        case (.double(let x), .double(let y)):
            if x.isNaN || y.isNaN { return nil }
            return x < y ? -1 : (x > y ? 1 : 0)
        case (.int(let x), .double(let y)): return compare(x, y)
        case (.double(let x), .int(let y)): return compare(y, x).map { -$0 }
        default: return nil
        }
    }

    /// Orders an integer against a double exactly.
    static func compare(_ i: Int64, _ d: Double) -> Int? {
        if d.isNaN { return nil }
        if d >= 9_223_372_036_854_775_808.0 { return -1 }
        if d < -9_223_372_036_854_775_808.0 { return 1 }
        let t = d.rounded(.towardZero)
        let ti = Int64(t)
        if i < ti { return -1 }
        if i > ti { return 1 }
        let frac = d - t
        return frac > 0 ? -1 : (frac < 0 ? 1 : 0)
    }

    /// Deep equality as JSON Schema defines it for `const`, `enum` and `uniqueItems`.
    static func equal(_ a: JSON, _ b: JSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int, .int), (.int, .double), (.double, .int), (.double, .double):
            return compare(a, b) == 0
        case (.string(let x), .string(let y)): return x.utf8.elementsEqual(y.utf8)
        case (.array(let x), .array(let y)):
            guard x.count == y.count else { return false }
            for i in x.indices where !equal(x[i], y[i]) { return false }
            return true
        case (.object(let x), .object(let y)):
            guard x.count == y.count else { return false }
            for (k, v) in x {
                guard let w = y[k], equal(v, w) else { return false }
            }
            return true
        default: return false
        }
    }

    /// A hash consistent with ``equal(_:_:)``.
    static func hash(_ v: JSON, into h: inout Hasher) {
        switch v {
        case .null: h.combine(0 as UInt8)
        case .bool(let b):
            h.combine(1 as UInt8)
            h.combine(b)
        case .int(let i):
            h.combine(2 as UInt8)
            h.combine(Double(i))
        case .double(let d):
            h.combine(2 as UInt8)
            h.combine(d)
        case .string(let s):
            h.combine(3 as UInt8)
            h.combine(s)
        case .array(let a):
            h.combine(4 as UInt8)
            h.combine(a.count)
            for e in a { hash(e, into: &h) }
        case .object(let o):
            h.combine(5 as UInt8)
            h.combine(o.count)
            var acc = 0
            for (k, e) in o {
                var eh = Hasher()
                eh.combine(k)
                hash(e, into: &eh)
                acc = acc &+ eh.finalize()
            }
            h.combine(acc)
        }
    }

    /// The first pair of equal elements, or nil when all are distinct.
    static func firstDuplicate(_ items: [JSON]) -> (Int, Int)? {
        if items.count < 2 { return nil }
        if items.count <= 16 {
            for j in 1..<items.count {
                for i in 0..<j where equal(items[i], items[j]) { return (i, j) }
            }
            return nil
        }
        var buckets: [Int: [Int]] = [:]
        for j in items.indices {
            var h = Hasher()
            hash(items[j], into: &h)
            let key = h.finalize()
            if let seen = buckets[key] {
                for i in seen where equal(items[i], items[j]) { return (i, j) }
            }
            buckets[key, default: []].append(j)
        }
        return nil
    }

    /// Whether a value is an integer in JSON Schema's sense (`1.0` is one).
    @inline(__always)
    static func isInteger(_ v: JSON) -> Bool {
        switch v {
        case .int: return true
        case .double(let d): return d.isFinite && d.rounded(.towardZero) == d
        default: return false
        }
    }

    /// A non-negative integer keyword value (`minLength: 3`, also `3.0`).
    static func nonNegativeInt(_ v: JSON) -> Int? {
        switch v {
        case .int(let i) where i >= 0: return Int(clamping: i)
        case .double(let d) where d >= 0 && d.isFinite && d.rounded(.towardZero) == d:
            return d >= 9.2e18 ? Int.max : Int(d)
        default: return nil
        }
    }
}

/// A finite number as `mantissa × 10^exponent` (sign dropped), with no trailing zeros
/// in the mantissa, taken from the shortest decimal text that reads back to the same
/// double. `multipleOf` works on these so that `0.0075` is a multiple of `0.0001`.
struct DecimalNumber: Sendable, Equatable {
    var mantissa: UInt64
    var exponent: Int

    init(mantissa: UInt64, exponent: Int) {
        var m = mantissa
        var e = exponent
        while m != 0 && m % 10 == 0 {
            m /= 10
            e += 1
        }
        if m == 0 { e = 0 }
        self.mantissa = m
        self.exponent = e
    }

    /// The decimal form of a JSON number; nil for non-numbers and non-finite doubles.
    init?(_ v: JSON) {
        switch v {
        case .int(let i): self.init(mantissa: i.magnitude, exponent: 0)
        case .double(let d):
            guard d.isFinite else { return nil }
            self.init(text: d.magnitude.description)
        default: return nil
        }
    }

    /// Parses `digits[.digits][e[+-]digits]`, as `Double.description` prints.
    init?(text: String) {
        var mantissa: UInt64 = 0
        var exp = 0
        var sawDigit = false
        var afterPoint = false
        var u = text.utf8[...]
        while let b = u.first, b != UInt8(ascii: "e"), b != UInt8(ascii: "E") {
            u = u.dropFirst()
            if b == UInt8(ascii: ".") {
                if afterPoint { return nil }
                afterPoint = true
                continue
            }
            guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") else { return nil }
            sawDigit = true
            let (m1, o1) = mantissa.multipliedReportingOverflow(by: 10)
            let (m2, o2) = m1.addingReportingOverflow(UInt64(b - UInt8(ascii: "0")))
            if o1 || o2 {
                // More digits than fit: drop them (only reached for non-shortest text).
                if !afterPoint { exp += 1 }
                continue
            }
            mantissa = m2
            if afterPoint { exp -= 1 }
        }
        guard sawDigit else { return nil }
        if !u.isEmpty {
            u = u.dropFirst()
            var neg = false
            if let s = u.first, s == UInt8(ascii: "+") || s == UInt8(ascii: "-") {
                neg = s == UInt8(ascii: "-")
                u = u.dropFirst()
            }
            guard !u.isEmpty, let e = Int(String(decoding: u, as: UTF8.self)) else { return nil }
            exp += neg ? -e : e
        }
        self.init(mantissa: mantissa, exponent: exp)
    }

    /// Whether `self` is an integer multiple of `divisor` (which must not be zero).
    func isMultiple(of divisor: DecimalNumber) -> Bool {
        if mantissa == 0 { return true }
        let b = divisor.mantissa
        if b == 0 { return false }
        if exponent >= divisor.exponent {
            // (a · 10^k) mod b
            let k = exponent - divisor.exponent
            return Self.mulmod(mantissa % b, Self.powmod(10, k, b), b) == 0
        }
        // a / (b · 10^k) with k ≥ 1: a has no trailing zero, so it is not divisible by 10.
        return false
    }

    private static func mulmod(_ x: UInt64, _ y: UInt64, _ m: UInt64) -> UInt64 {
        let p = x.multipliedFullWidth(by: y)
        return m.dividingFullWidth((p.high, p.low)).remainder
    }

    private static func powmod(_ base: UInt64, _ exp: Int, _ m: UInt64) -> UInt64 {
        if m == 1 { return 0 }
        var result: UInt64 = 1
        var b = base % m
        var e = exp
        while e > 0 {
            if e & 1 == 1 { result = mulmod(result, b, m) }
            b = mulmod(b, b, m)
            e >>= 1
        }
        return result
    }
}

/// `value` is a multiple of `divisor`: exact on decimals; for anything without a decimal
/// form, the remainder of the quotient within a relative epsilon.
func isMultiple(_ value: JSON, of divisor: JSON, decimal: DecimalNumber?) -> Bool {
    if let d = decimal, let v = DecimalNumber(value) { return v.isMultiple(of: d) }
    guard let x = value.numberValue, let y = divisor.numberValue, y != 0 else { return false }
    let q = x / y
    guard q.isFinite else { return false }
    return abs(q - q.rounded()) <= 1e-9 * max(1, abs(q))
}
