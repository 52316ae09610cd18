/// The boolean form of a compiled subexpression, for deciding conditions without
/// building ``CELValue``s: `&&`, `||` and `!` over tests of variables against constants
/// (``CELFieldTest``), with anything else as an opaque closure.
///
/// The invariant that makes it exact: when a condition yields `b`, the subexpression
/// evaluates to `.bool(b)`; when it yields nil, nothing is claimed (the subexpression may
/// be an error, a non-bool, or just not decidable here), and the caller evaluates the
/// whole expression in full. `&&` yields false as soon as one operand does (CEL's
/// commutative absorption makes any false operand decisive, whatever errors the others
/// produce), true when all operands do, and nil otherwise; `||` likewise with true.
indirect enum Condition {
    case test(CELFieldTest)
    case all([Condition])
    case any([Condition])
    case not(Condition)
    case opaque(Eval)

    /// The operands of an `&&` (or `||`) chain, nested chains flattened.
    static func flatten(_ isAnd: Bool, _ parts: [Condition]) -> [Condition] {
        var out: [Condition] = []
        for p in parts {
            switch p {
            case .all(let xs) where isAnd: out += xs
            case .any(let xs) where !isAnd: out += xs
            default: out.append(p)
            }
        }
        return out
    }

    /// True when deciding it reads no opaque closure at the top: worth a plan of its own.
    var isSpecialised: Bool {
        if case .opaque = self { return false }
        return true
    }
}

extension Node {
    /// This node as a condition: its own, a truth test of a bare variable, or opaque.
    var asCondition: Condition {
        if let condition { return condition }
        if let variable { return .test(CELFieldTest(variable, .truth, .null)) }
        return .opaque(eval)
    }
}

/// A ``Condition`` laid out flat for evaluation: operations in prefix order, each `&&`
/// and `||` with the index just past its operands (to skip them once decided), leaves and
/// closures in side tables. Immutable after construction, so one plan serves any number
/// of threads; the buffers are owned here and freed with it.
@usableFromInline
final class ConditionPlan: @unchecked Sendable {
    @usableFromInline
    enum Op {
        case test(Int)
        case all(end: Int)
        case any(end: Int)
        case not
        case opaque(Int)
    }

    /// A plan that is just tests under one `&&` (or one `||`, or a single test) is run
    /// as a loop over `leaves`, without walking `ops`.
    @usableFromInline
    enum Shape { case general, allTests, anyTests }

    @usableFromInline let shape: Shape
    @usableFromInline let ops: UnsafeMutableBufferPointer<Op>
    /// The tests, unretained: `tests` owns them for the plan's lifetime.
    @usableFromInline let leaves: UnsafeMutableBufferPointer<Unmanaged<CELFieldTest>>
    let tests: [CELFieldTest]
    let opaques: [Eval]

    init(_ condition: Condition) {
        var ops: [Op] = []
        var tests: [CELFieldTest] = []
        var opaques: [Eval] = []
        func lay(_ c: Condition) {
            switch c {
            case .test(let test):
                ops.append(.test(tests.count))
                tests.append(test)
            case .all(let xs), .any(let xs):
                let at = ops.count
                ops.append(.not)
                for x in xs { lay(x) }
                if case .all = c { ops[at] = .all(end: ops.count) } else { ops[at] = .any(end: ops.count) }
            case .not(let x):
                ops.append(.not)
                lay(x)
            case .opaque(let e):
                ops.append(.opaque(opaques.count))
                opaques.append(e)
            }
        }
        lay(condition)
        switch condition {
        case .test: shape = .allTests
        case .all(let xs) where xs.allSatisfy({ if case .test = $0 { true } else { false } }): shape = .allTests
        case .any(let xs) where xs.allSatisfy({ if case .test = $0 { true } else { false } }): shape = .anyTests
        default: shape = .general
        }
        self.ops = .allocate(capacity: ops.count)
        _ = self.ops.initialize(from: ops)
        leaves = .allocate(capacity: tests.count)
        _ = leaves.initialize(from: tests.map { Unmanaged.passUnretained($0) })
        self.tests = tests
        self.opaques = opaques
    }

    deinit {
        ops.deallocate()
        leaves.deallocate()
    }

    /// Decides the condition.
    @inlinable
    func run<A: CELActivation>(_ activation: A) -> Bool? {
        switch shape {
        case .allTests, .anyTests:
            let decisive = shape == .anyTests
            var unknown = false
            for k in 0..<leaves.count {
                switch leaves[k]._withUnsafeGuaranteedRef({ activation.test($0) }) {
                case decisive?: return decisive
                case nil: unknown = true
                default: break
                }
            }
            return unknown ? nil : !decisive
        case .general:
            var i = 0
            return run(activation, &i)
        }
    }

    /// `&&` (`decidedBy` false) or `||` (true) over the operations from `i + 1` to `end`:
    /// the first operand equal to `decidedBy` decides (and skips the rest); otherwise an
    /// unknown operand makes the whole unknown, and else the result is `!decidedBy`.
    @inlinable
    func group<A: CELActivation>(_ activation: A, _ i: inout Int, end: Int, decidedBy: Bool) -> Bool? {
        i += 1
        var unknown = false
        while i < end {
            switch run(activation, &i) {
            case decidedBy?:
                i = end
                return decidedBy
            case nil: unknown = true
            case _?: break
            }
        }
        return unknown ? nil : !decidedBy
    }

    /// Decides the operation at `i` and its operands, leaving `i` just past them.
    @inlinable
    func run<A: CELActivation>(_ activation: A, _ i: inout Int) -> Bool? {
        switch ops[i] {
        case .test(let k):
            i += 1
            return leaves[k]._withUnsafeGuaranteedRef { activation.test($0) }
        case .all(let end):
            return group(activation, &i, end: end, decidedBy: false)
        case .any(let end):
            return group(activation, &i, end: end, decidedBy: true)
        case .not:
            i += 1
            return run(activation, &i).map { !$0 }
        case .opaque(let k):
            i += 1
            return runOpaque(k, activation)
        }
    }

    /// An opaque operand: its value when that is a bool, nil for anything else.
    @usableFromInline
    func runOpaque(_ k: Int, _ activation: any CELActivation) -> Bool? {
        do throws(CELError) {
            if case .bool(let b) = try opaques[k](Frame(activation: activation, locals: nil)) { return b }
            return nil
        } catch {
            return nil
        }
    }
}
