/// The numeric form of a compiled subexpression, for computing a number without the
/// closures and without building intermediate ``CELValue``s: `+`, `-`, `*` and `/` over
/// variables and int or double constants, and `int()` and `double()` of those
/// (`int(amount * 100.0)`).
///
/// The invariant that makes it exact, as for ``Condition``: when the plan yields a
/// value, evaluating the subexpression in full yields that same value; when it yields
/// nil (a variable is absent or not an int or a double, the operands' types differ, an
/// int overflows or is divided by zero, a double is out of `int()`'s range), nothing is
/// claimed and the caller evaluates in full, which reports the error.
indirect enum Arithmetic {
    case variable(CELName)
    case int(Int64)
    case double(Double)
    case binary(ArithmeticPlan.Operator, Arithmetic, Arithmetic)
    case toInt(Arithmetic)
    case toDouble(Arithmetic)
}

extension Node {
    /// This node as arithmetic: its own, a bare variable, an int or double constant, or
    /// nil.
    var asArithmetic: Arithmetic? {
        if let arithmetic { return arithmetic }
        if let variable { return .variable(variable) }
        switch constant {
        case .int(let i)?: return .int(i)
        case .double(let d)?: return .double(d)
        default: return nil
        }
    }
}

/// An ``Arithmetic`` laid out flat, in postfix order, and run over a small stack.
/// Immutable after construction, so one plan serves any number of threads; the buffer is
/// owned here and freed with it.
@usableFromInline
final class ArithmeticPlan: @unchecked Sendable {
    @usableFromInline
    enum Operator: Sendable { case add, subtract, multiply, divide }

    @usableFromInline
    enum Op {
        /// Push the value of `names[k]`.
        case load(Int)
        case int(Int64)
        case double(Double)
        case binary(Operator)
        case toInt
        case toDouble
    }

    /// A number on the stack.
    @usableFromInline
    enum Number {
        case int(Int64)
        case double(Double)
    }

    @usableFromInline let ops: UnsafeMutableBufferPointer<Op>
    @usableFromInline let names: [CELName]
    /// The most numbers on the stack at once.
    @usableFromInline let depth: Int

    init(_ arithmetic: Arithmetic) {
        var ops: [Op] = []
        var names: [CELName] = []
        var depth = 0
        var height = 0
        func push() {
            height += 1
            depth = max(depth, height)
        }
        func lay(_ a: Arithmetic) {
            switch a {
            case .variable(let name):
                if let k = names.firstIndex(where: { $0.id == name.id }) {
                    ops.append(.load(k))
                } else {
                    ops.append(.load(names.count))
                    names.append(name)
                }
                push()
            case .int(let i):
                ops.append(.int(i))
                push()
            case .double(let d):
                ops.append(.double(d))
                push()
            case .binary(let op, let l, let r):
                lay(l)
                lay(r)
                ops.append(.binary(op))
                height -= 1
            case .toInt(let x):
                lay(x)
                ops.append(.toInt)
            case .toDouble(let x):
                lay(x)
                ops.append(.toDouble)
            }
        }
        lay(arithmetic)
        self.ops = .allocate(capacity: ops.count)
        _ = self.ops.initialize(from: ops)
        self.names = names
        self.depth = max(1, depth)
    }

    deinit { ops.deallocate() }

    /// The value, as ``CELProgram/evaluate(_:)`` would give it, or nil (see
    /// ``Arithmetic``). Inlined, so that a call with a concrete activation type reaches
    /// its `resolve` without dynamic dispatch.
    @inlinable
    func run<A: CELActivation>(_ activation: A) -> CELValue? {
        withUnsafeTemporaryAllocation(of: Number.self, capacity: depth) { stack -> CELValue? in
            guard let s = stack.baseAddress else { return nil }
            var n = 0
            for i in 0..<ops.count {
                switch ops[i] {
                case .load(let k):
                    switch activation.resolve(names[k]) {
                    case .int(let x)?: (s + n).initialize(to: .int(x))
                    case .double(let x)?: (s + n).initialize(to: .double(x))
                    default: return nil
                    }
                    n += 1
                case .int(let x):
                    (s + n).initialize(to: .int(x))
                    n += 1
                case .double(let x):
                    (s + n).initialize(to: .double(x))
                    n += 1
                case .binary(let op):
                    n -= 1
                    guard let r = Self.apply(op, s[n - 1], s[n]) else { return nil }
                    s[n - 1] = r
                case .toInt:
                    switch s[n - 1] {
                    case .int: break
                    case .double(let d):
                        // Conversions.toInt's range: both ends exclusive; NaN fails both.
                        guard d > -9.223372036854775808e18, d < 9.223372036854775807e18 else { return nil }
                        s[n - 1] = .int(Int64(d))
                    }
                case .toDouble:
                    if case .int(let x) = s[n - 1] { s[n - 1] = .double(Double(x)) }
                }
            }
            guard n == 1 else { return nil }
            switch s[0] {
            case .int(let x): return .int(x)
            case .double(let x): return .double(x)
            }
        }
    }

    /// `a op b` as ``Ops`` computes it for two ints or two doubles; nil for mixed types
    /// and where ``Ops`` throws (overflow, division by zero).
    @inlinable @inline(__always)
    static func apply(_ op: Operator, _ a: Number, _ b: Number) -> Number? {
        switch (a, b) {
        case (.int(let x), .int(let y)):
            let (r, o): (Int64, Bool)
            switch op {
            case .add: (r, o) = x.addingReportingOverflow(y)
            case .subtract: (r, o) = x.subtractingReportingOverflow(y)
            case .multiply: (r, o) = x.multipliedReportingOverflow(by: y)
            case .divide:
                if y == 0 { return nil }
                (r, o) = x.dividedReportingOverflow(by: y)
            }
            return o ? nil : .int(r)
        case (.double(let x), .double(let y)):
            switch op {
            case .add: return .double(x + y)
            case .subtract: return .double(x - y)
            case .multiply: return .double(x * y)
            case .divide: return .double(x / y)
            }
        default: return nil
        }
    }
}
