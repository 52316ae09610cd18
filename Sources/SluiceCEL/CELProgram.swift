/// A compiled expression: a tree of closures built once, evaluated many times.
///
/// Programs are immutable and `Sendable`; evaluate one from any number of threads.
@usableFromInline package struct CELProgram: Sendable {
    @usableFromInline let root: Eval
    @usableFromInline let constant: CELValue?
    /// For a condition of the shapes ``Condition`` covers: its flat form.
    @usableFromInline let plan: ConditionPlan?
    /// `plan`, unretained (a plain word, so reading it from a program costs no retain).
    @usableFromInline let planRef: Unmanaged<ConditionPlan>?
    /// For arithmetic of the shapes ``Arithmetic`` covers: its flat form.
    @usableFromInline let arithmetic: ArithmeticPlan?
    /// `arithmetic`, unretained.
    @usableFromInline let arithmeticRef: Unmanaged<ArithmeticPlan>?
    /// The value of an expression that is a constant (folded when compiled), else nil.
    package var constantValue: CELValue? { constant }
    /// For a map literal with distinct string-literal keys, its entries with each value
    /// compiled on its own (see ``CELEnvironment/mapFields(_:)``): a step that writes
    /// the map as JSON evaluates the values one by one instead of building the map.
    @usableFromInline package internal(set) var mapFields: [(key: String, program: CELProgram)]?
    /// For an expression that is one bare variable (`user`), its name: a step may
    /// resolve it itself, which is what evaluating does (an absent one is the error
    /// ``noSuchAttribute(_:)``), without the truth test its condition plan would try
    /// first.
    @usableFromInline package internal(set) var variable: CELName?

    /// The error evaluating a bare variable gives when the activation has no such name.
    package static func noSuchAttribute(_ name: CELName) -> CELError {
        CELError("no such attribute: '\(name.string)'")
    }
    /// The variable names the expression may look up, in first-use order.
    @usableFromInline package let referencedNames: [CELName]
    /// The statically inferred result type (`"bool"`, `"dyn"`...).
    @usableFromInline package let resultTypeName: String
    /// The evaluation cost budget (``CELOptions/costLimit``) when the expression has
    /// anything to meter (a comprehension, `replace`, `join`); nil otherwise, and then
    /// evaluating it meters nothing at all.
    @usableFromInline let costLimit: Int?
    /// How the expression's cost grows with the size of its input, estimated statically.
    @usableFromInline package let costEstimate: CELCostEstimate

    init(
        root: @escaping Eval, constant: CELValue?, condition: Condition? = nil, arithmetic: Arithmetic? = nil,
        asciiEquality: (name: CELName, text: String)? = nil, names: [CELName],
        resultTypeName: String,
        costLimit: Int? = nil, costEstimate: CELCostEstimate = CELCostEstimate()
    ) {
        self.root = root
        self.constant = constant
        // A metered expression is evaluated in full, under one budget: a condition plan
        // would run its parts separately and could decide past an exceeded budget.
        plan =
            constant == nil && costLimit == nil ? condition.flatMap { $0.isSpecialised ? ConditionPlan($0) : nil } : nil
        planRef = plan.map { Unmanaged.passUnretained($0) }
        self.arithmetic = constant == nil && costLimit == nil ? arithmetic.map { ArithmeticPlan($0) } : nil
        arithmeticRef = self.arithmetic.map { Unmanaged.passUnretained($0) }
        self.asciiEquality = constant == nil && costLimit == nil ? asciiEquality : nil
        self.referencedNames = names
        self.resultTypeName = resultTypeName
        self.costLimit = constant == nil ? costLimit : nil
        self.costEstimate = costEstimate
    }

    /// Evaluates against `activation`. Throws the error value the expression produced,
    /// or ``CELError`` `evaluation cost ...` when the evaluation went over its cost
    /// budget (whatever the expression would have absorbed).
    @usableFromInline package func evaluate(_ activation: some CELActivation) throws(CELError) -> CELValue {
        if let constant { return constant }
        guard let costLimit else { return try root(Frame(activation: activation, locals: nil)) }
        let meter = Locals(costLimit: costLimit)
        do throws(CELError) {
            let v = try root(Frame(activation: activation, locals: meter))
            if meter.exceeded { throw meter.costError }
            return v
        } catch {
            // `&&`, `||` and `all`/`exists` absorb errors; an exceeded budget is never absorbed.
            if meter.exceeded { throw meter.costError }
            throw error
        }
    }

    /// Evaluates and requires a `bool` result (for filters and conditions).
    @inlinable
    package func evaluateBool(_ activation: some CELActivation) throws(CELError) -> Bool {
        if let b = evaluateCondition(activation) { return b }
        let v = try evaluate(activation)
        guard case .bool(let b) = v else { throw CELError("expected bool result, got \(v.typeName)") }
        return b
    }

    /// The expression's bool result when it is a condition that can be decided without
    /// building values, or nil when it must be evaluated in full with ``evaluate(_:)``.
    ///
    /// Decided here: `&&`, `||` and `!` over comparisons of a variable with a constant
    /// (`amount > 250.0`, `country == "US"`, `type in ["a", "b"]`) and bare variables,
    /// each leaf applied in place through ``CELActivation/test(_:)``; other operands are
    /// evaluated as usual. Nil means the expression is of another shape, or it produced an
    /// error or a non-bool (which ``evaluate(_:)`` then reports); a non-nil answer is
    /// always the one ``evaluate(_:)`` would give. Inlined, so that a call with a concrete
    /// activation type reaches its `test` without dynamic dispatch.
    @inlinable
    package func evaluateCondition(_ activation: some CELActivation) -> Bool? {
        guard let planRef else { return nil }
        return planRef._withUnsafeGuaranteedRef { $0.run(activation) }
    }

    /// The expression's value when it is arithmetic that can be computed without
    /// building values (`int(amount * 100.0)`: `+`, `-`, `*`, `/`, `int()` and `double()`
    /// over variables and numeric constants), an int or a double; nil when it must be
    /// evaluated with ``evaluate(_:)`` (another shape, or an error such as an absent
    /// variable, mixed types or an overflow, which ``evaluate(_:)`` then reports). A
    /// non-nil answer is always the one ``evaluate(_:)`` would give.
    @inlinable
    package func evaluateNumber(_ activation: some CELActivation) -> CELValue? {
        guard let arithmeticRef else { return nil }
        return arithmeticRef._withUnsafeGuaranteedRef { $0.run(activation) }
    }

    /// Whether ``evaluateNumber(_:)`` can give a value.
    package var hasArithmetic: Bool { arithmetic != nil }

    /// When the whole expression is `NAME == "TEXT"` (either way round) of a name and an
    /// ASCII string (`type == "order_placed"`): the name and the string. Whenever the
    /// activation has a string value `v` for the name, the expression is exactly
    /// `v.utf8.count == text.utf8.count && v == text`; any other value (absent, not a
    /// string) is left to ``evaluateBool(_:)``. Also for a name that shadows a type name
    /// (`type`), which is not a plain variable (absent, it is the type).
    package let asciiEquality: (name: CELName, text: String)?
    /// Tests `NAME == "TEXT"` of a name and an ASCII string that the expression is false
    /// without: the expression itself when it is one (``asciiEquality``), or operands of
    /// an `&&` chain. Whenever the activation has a string value `v` for a guard's name
    /// that is not its text (`v.utf8.count != text.utf8.count || v != text`), the
    /// expression is false (`&&` absorbs any error of the other operands). Empty for a
    /// constant or metered expression.
    package internal(set) var asciiGuards: [(name: CELName, text: String)] = []
    /// When the whole expression is `NAME.FIELD`, a name not declared and no container:
    /// evaluating it gives the activation's value of `whole` (the dotted name `NAME.FIELD`)
    /// when it has one, else field `field` of its value of `variable` (`NAME`), which is
    /// an error when the activation has neither or that value has no such field. Nil for
    /// anything else, a constant or a metered expression.
    package internal(set) var selection: (whole: CELName, variable: CELName, field: String)?
    /// When the whole expression is `GUARD && REST` (either way round) where `GUARD` is an
    /// ``asciiEquality``: that guard and `REST` compiled on its own. Whenever the guard
    /// holds (the activation's value of its name is the string `text`), the expression's
    /// result is exactly `REST`'s: `true && x` is `x`, its value, error or non-bool.
    /// Nil for any other shape, a constant or a metered expression.
    package internal(set) var guardedRest: GuardedRest?
}

/// ``CELProgram/guardedRest``: a guard (`name == "text"`) and the rest of an `&&`.
package final class GuardedRest: Sendable {
    package let name: CELName
    package let text: String
    package let rest: CELProgram

    init(name: CELName, text: String, rest: CELProgram) {
        self.name = name
        self.text = text
        self.rest = rest
    }
}

/// What closures see during one evaluation: the activation and the comprehension
/// variables (created lazily by the first comprehension that runs).
@usableFromInline
struct Frame {
    let activation: any CELActivation
    let locals: Locals?
}

/// Comprehension variable slots, indexed by numbers the compiler assigns, and the
/// evaluation's cost meter (see ``CELOptions/costLimit``).
final class Locals {
    var slots: [CELValue] = []
    /// Cost so far: comprehension iterations, plus sizes of lists and strings built or
    /// read inside comprehensions (see ``charge(_:)``).
    var cost = 0
    let costLimit: Int

    init(costLimit: Int) {
        self.costLimit = costLimit
    }

    @inline(__always)
    var exceeded: Bool { cost > costLimit }

    var costError: CELError {
        CELError(
            "evaluation cost exceeded the limit of \(costLimit) (comprehension iterations plus sizes of lists and strings built; see limits: cel_cost)"
        )
    }

    /// Adds `n` to the cost; throws once the total is over the limit.
    @inline(__always)
    func charge(_ n: Int) throws(CELError) {
        cost &+= n
        if cost > costLimit { throw costError }
    }

    /// Throws when the budget is spent already (before starting costly work).
    @inline(__always)
    func check() throws(CELError) {
        if cost > costLimit { throw costError }
    }

    /// The cost of building or reading `v`: one per element of a list or map, one per
    /// ten bytes of a string or bytes, nothing for scalars.
    @inline(__always)
    static func size(_ v: CELValue) -> Int {
        switch v {
        case .list(let l): return l.count
        case .map(let m): return m.count
        case .string(let s): return (s.utf8.count + 9) / 10
        case .bytes(let b): return (b.count + 9) / 10
        default: return 0
        }
    }

    @inline(__always)
    func set(_ i: Int, _ v: CELValue) {
        if i >= slots.count { slots.append(contentsOf: repeatElement(.null, count: i - slots.count + 1)) }
        slots[i] = v
    }
}

@usableFromInline
typealias Eval = @Sendable (Frame) throws(CELError) -> CELValue
