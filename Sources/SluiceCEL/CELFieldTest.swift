import SluiceJSON

/// A test of one variable against a constant, such as `amount > 250.0`, `country == "US"`,
/// `type in ["a", "b"]` or a bare `flag`: the leaves of the conditions that
/// ``CELProgram/evaluateCondition(_:)`` decides without building values.
///
/// An activation applies a test to its variable's value where it keeps it, through
/// ``CELActivation/test(_:)``; ``evaluate(json:)`` compares a JSON value in place, so a
/// field of a parsed event is never converted to a ``CELValue``. A test's answer is
/// exactly the comparison's CEL result; it is nil where CEL would produce an error (no
/// matching overload, or a bare variable that is not a bool), and the caller then
/// evaluates the whole expression to get that error.
///
/// A class, so that passing one to an activation copies nothing.
@usableFromInline package final class CELFieldTest: Sendable {
    @usableFromInline
    enum Operator: Sendable {
        case equal, notEqual, less, lessOrEqual, greater, greaterOrEqual
        /// The variable itself, which must be a bool.
        case truth
        /// `variable in constant` (a list or map).
        case within
    }

    /// The constant, decoded once for the common JSON comparisons (plain words, so
    /// reading it retains nothing).
    @usableFromInline
    enum Literal: Sendable {
        case double(Double)
        case int(Int64)
        /// ``text``, an ASCII string of `count` bytes: a string equals it exactly when it
        /// has the same length and Swift's `==` holds (no canonical equivalence applies).
        case ascii(count: Int)
        case other
    }

    /// The variable tested.
    @usableFromInline package let name: CELName
    /// The UTF-8 length of the variable's name, for comparing it with keys.
    @usableFromInline package let nameCount: Int
    @usableFromInline let op: Operator
    @usableFromInline let constant: CELValue
    @usableFromInline let literal: Literal
    /// The constant when it is an ASCII string compared with `==` or `!=`.
    @usableFromInline let text: String
    /// ``text``'s bytes when JSON writes them as they are (no `"`, `\\` or control
    /// byte), so that a string's raw text can be compared with them byte for byte
    /// (``evaluate(rawStringAt:in:)``); empty otherwise, and unused.
    @usableFromInline let plainText: [UInt8]
    /// Whether a raw event's field can be tested where it is: a number constant (read
    /// as a short number), or ``plainText`` (``evaluate(rawStringAt:in:)``).
    @usableFromInline package let rawComparable: Bool

    init(_ name: CELName, _ op: Operator, _ constant: CELValue) {
        self.name = name
        nameCount = name.string.utf8.count
        self.op = op
        self.constant = constant
        var text = ""
        switch (op, constant) {
        case (.truth, _), (.within, _): literal = .other
        case (_, .double(let d)): literal = .double(d)
        case (_, .int(let i)): literal = .int(i)
        case (.equal, .string(let s)) where s.utf8.allSatisfy({ $0 < 0x80 }),
            (.notEqual, .string(let s)) where s.utf8.allSatisfy({ $0 < 0x80 }):
            literal = .ascii(count: s.utf8.count)
            text = s
        default: literal = .other
        }
        self.text = text
        let plain = text.utf8.allSatisfy { $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
        plainText = plain ? Array(text.utf8) : []
        switch literal {
        case .double, .int: rawComparable = true
        case .ascii: rawComparable = plain
        case .other: rawComparable = false
        }
    }

    /// `name OP constant` for a relational operator; `flipped` for `constant OP name`.
    convenience init(_ name: CELName, _ rel: Ops.Relation, flipped: Bool, _ constant: CELValue) {
        let r = flipped ? rel.flipped : rel
        switch r {
        case .lt: self.init(name, .less, constant)
        case .le: self.init(name, .lessOrEqual, constant)
        case .gt: self.init(name, .greater, constant)
        case .ge: self.init(name, .greaterOrEqual, constant)
        }
    }

    /// The test applied to `value`: the comparison's result, or nil where CEL reports an
    /// error.
    @usableFromInline package func evaluate(_ value: CELValue) -> Bool? {
        switch op {
        case .equal: return Ops.equals(value, constant)
        case .notEqual: return !Ops.equals(value, constant)
        case .truth:
            if case .bool(let b) = value { return b }
            return nil
        case .within:
            guard case .bool(let b)? = try? Ops.contains(value, in: constant) else { return nil }
            return b
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            guard let o = Ops.order(value, constant) else { return nil }
            return apply(o)
        }
    }

    /// The test applied to a JSON value in place, as to `CELValue(json: value)`.
    /// Inlined, so that the common cases read the value where the caller keeps it.
    @inlinable @inline(__always)
    package func evaluate(json value: JSON) -> Bool? {
        let answer: Bool?
        switch value {
        case .double(let d): answer = common(double: d)
        case .int(let i): answer = common(int: i)
        case .string(let s): answer = common(string: s)
        default: answer = nil
        }
        return answer ?? evaluateOther(json: value)
    }

    /// ``evaluate(_:)``, with the common cases of ``evaluate(json:)`` inlined: a number
    /// compared with a number constant, an ASCII constant compared for equality with a
    /// string. The same comparisons as there (`CELValue(json:)` gives these values the
    /// same cases), so the same answers as ``evaluate(_:)``; `FieldTestTests` checks
    /// both on every kind of value.
    @inlinable @inline(__always)
    package func evaluate(inline value: CELValue) -> Bool? {
        switch value {
        case .double(let d): return common(double: d) ?? evaluate(value)
        case .int(let i): return common(int: i) ?? evaluate(value)
        case .string(let s): return common(string: s) ?? evaluate(value)
        default: return evaluate(value)
        }
    }

    /// The common cases, shared by ``evaluate(json:)`` and ``evaluate(inline:)``: a number
    /// against a number constant (an int compares with a double as converted to double,
    /// see Ops.compareIntDouble), ASCII text for equality. Nil where the constant is of
    /// another kind (the caller then takes the general path).
    @inlinable @inline(__always)
    func common(double d: Double) -> Bool? {
        switch literal {
        case .double(let c): return compare(d, c)
        case .int(let c): return compare(d, Double(c))
        default: return nil
        }
    }

    @inlinable @inline(__always)
    func common(int i: Int64) -> Bool? {
        switch literal {
        case .double(let c): return compare(Double(i), c)
        case .int(let c): return compare(i, c)
        default: return nil
        }
    }

    @inlinable @inline(__always)
    func common(string s: String) -> Bool? {
        guard case .ascii(let count) = literal else { return nil }
        return (s.utf8.count == count && s == text) == (op == .equal)
    }

    /// Whether the constant is a number (compared with numbers by ``evaluate(inline:)``
    /// without the general path).
    @inlinable
    package var comparesNumbers: Bool {
        switch literal {
        case .double, .int: return true
        default: return false
        }
    }

    /// The test applied to the JSON string that starts at `offset` of `bytes` (validated
    /// text, as a reader recorded the offset), read where it is: `.some(answer)` when the
    /// constant is ``plainText`` and the string has no escapes, the same answer as
    /// ``evaluate(json:)`` on the parsed value; nil when it cannot tell (another kind of
    /// value or constant, escapes), and the caller then parses the value.
    ///
    /// A string's bytes are compared with the constant's: without escapes its text is its
    /// bytes, and an ASCII constant equals a string exactly when their bytes are equal
    /// (``Literal/ascii(count:)``). When the closing quote sits right after as many bytes
    /// as the constant has, the answer holds even if escapes come first: an escaped
    /// string decodes to fewer bytes than its text, or holds a `"` (which the constant
    /// does not) when that quote is escaped. `ConditionTests` checks it against parsed
    /// events.
    @inlinable
    package func evaluate(rawStringAt offset: Int, in bytes: UnsafeRawBufferPointer) -> Bool?? {
        guard case .ascii(let count) = literal, rawComparable, offset < bytes.count,
            bytes[offset] == UInt8(ascii: "\"")
        else { return nil }
        let start = offset &+ 1
        let close = start &+ count
        let equal: Bool
        if close < bytes.count && bytes[close] == UInt8(ascii: "\"") {
            var i = 0
            while i < count && bytes[start &+ i] == plainText[i] { i &+= 1 }
            equal = i == count
        } else {
            // Another length: unequal unless escapes make up the difference.
            var i = start
            while i < bytes.count {
                let b = bytes[i]
                if b == UInt8(ascii: "\"") { break }
                if b == UInt8(ascii: "\\") { return nil }
                i &+= 1
            }
            guard i < bytes.count else { return nil }
            equal = false
        }
        return .some(equal == (op == .equal))
    }

    /// ``evaluate(json:)`` beyond the common cases.
    @usableFromInline
    func evaluateOther(json value: JSON) -> Bool? {
        if op == .truth {
            if case .bool(let b) = value { return b }
            return nil
        }
        return evaluate(CELValue(json: value))
    }

    /// The operator applied to two numbers of one type, as CEL orders them (NaN is
    /// unordered: only `!=` holds).
    @inlinable
    func compare<T: Comparable>(_ a: T, _ b: T) -> Bool {
        switch op {
        case .equal: return a == b
        case .notEqual: return a != b
        case .less: return a < b
        case .lessOrEqual: return a <= b
        case .greater: return a > b
        case .greaterOrEqual: return a >= b
        case .truth, .within: return false
        }
    }

    @inline(__always)
    func apply(_ o: Ops.Order) -> Bool {
        switch op {
        case .equal: return o == .equal
        case .notEqual: return o != .equal
        case .less: return Ops.test(.lt, o)
        case .lessOrEqual: return Ops.test(.le, o)
        case .greater: return Ops.test(.gt, o)
        case .greaterOrEqual: return Ops.test(.ge, o)
        case .truth, .within: return false
        }
    }
}

extension Ops.Relation {
    /// The relation with its operands swapped: `c < x` is `x > c`.
    var flipped: Ops.Relation {
        switch self {
        case .lt: return .gt
        case .le: return .ge
        case .gt: return .lt
        case .ge: return .le
        }
    }
}
