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

    /// A plan of one variable, alone or under one operator with one constant, and at most
    /// one conversion after (`int(amount * 100.0)`, `amount - 1`, `double(n)`), is run
    /// without the stack, its loop and the dispatch on each operation: the same steps,
    /// in the same order (``runGeneral(_:)`` is the reference; `ArithmeticTests` compares
    /// both with full evaluation).
    @usableFromInline
    enum Shape { case general, variable, variableFirst, constantFirst }

    @usableFromInline
    enum Conversion { case none, toInt, toDouble }

    @usableFromInline let shape: Shape
    /// For a shaped plan: its variable (a stored `let`, so passing it to `resolve`
    /// retains nothing), its operator and constant, and its conversion.
    @usableFromInline let variable: CELName
    @usableFromInline let shapeOperator: Operator
    @usableFromInline let shapeConstant: Number
    @usableFromInline let conversion: Conversion

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
        // The shapes run without the stack: [load] or [load, c, op] or [c, load, op],
        // then at most one conversion.
        var body = ops[...]
        var conversion = Conversion.none
        switch body.last {
        case .toInt?:
            conversion = .toInt
            body = body.dropLast()
        case .toDouble?:
            conversion = .toDouble
            body = body.dropLast()
        default: break
        }
        func constant(_ op: Op) -> Number? {
            switch op {
            case .int(let i): return .int(i)
            case .double(let d): return .double(d)
            default: return nil
            }
        }
        var shape = Shape.general
        var shapeOperator = Operator.add
        var shapeConstant = Number.int(0)
        let b = Array(body)
        if names.count == 1 {
            if b.count == 1, case .load = b[0] {
                shape = .variable
            } else if b.count == 3, case .binary(let op) = b[2] {
                if case .load = b[0], let c = constant(b[1]) {
                    (shape, shapeOperator, shapeConstant) = (.variableFirst, op, c)
                } else if case .load = b[1], let c = constant(b[0]) {
                    (shape, shapeOperator, shapeConstant) = (.constantFirst, op, c)
                }
            }
        }
        self.shape = shape
        self.variable = names.first ?? CELName(string: "", id: -1)
        self.shapeOperator = shapeOperator
        self.shapeConstant = shapeConstant
        self.conversion = shape == .general ? .none : conversion
    }

    deinit { ops.deallocate() }

    /// The value, as ``CELProgram/evaluate(_:)`` would give it, or nil (see
    /// ``Arithmetic``). Inlined, so that a call with a concrete activation type reaches
    /// its `resolve` without dynamic dispatch.
    @inlinable
    func run<A: CELActivation>(_ activation: A) -> CELValue? {
        if shape == .general { return runGeneral(activation) }
        let x: Number
        switch activation.resolve(variable) {
        case .int(let v)?: x = .int(v)
        case .double(let v)?: x = .double(v)
        default: return nil
        }
        var r: Number
        switch shape {
        case .variableFirst:
            guard let v = Self.apply(shapeOperator, x, shapeConstant) else { return nil }
            r = v
        case .constantFirst:
            guard let v = Self.apply(shapeOperator, shapeConstant, x) else { return nil }
            r = v
        case .variable, .general: r = x
        }
        switch conversion {
        case .none: break
        case .toInt:
            guard let v = Self.toInt(r) else { return nil }
            r = v
        case .toDouble:
            if case .int(let i) = r { r = .double(Double(i)) }
        }
        switch r {
        case .int(let v): return .int(v)
        case .double(let v): return .double(v)
        }
    }

    /// `int()` of a number on the stack, nil out of range.
    @inlinable @inline(__always)
    static func toInt(_ n: Number) -> Number? {
        switch n {
        case .int: return n
        case .double(let d):
            // Conversions.toInt's range: both ends exclusive; NaN fails both.
            guard d > -9.223372036854775808e18, d < 9.223372036854775807e18 else { return nil }
            return .int(Int64(d))
        }
    }

    /// ``run(_:)`` for any plan: its operations in order over a stack.
    @inlinable
    func runGeneral<A: CELActivation>(_ activation: A) -> CELValue? {
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
                    guard let v = Self.toInt(s[n - 1]) else { return nil }
                    s[n - 1] = v
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
