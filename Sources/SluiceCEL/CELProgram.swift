/// A compiled expression: a tree of closures built once, evaluated many times.
///
/// Programs are immutable and `Sendable`; evaluate one from any number of threads.
public struct CELProgram: Sendable {
    @usableFromInline let root: Eval
    @usableFromInline let constant: CELValue?
    /// For a condition of the shapes ``Condition`` covers: its flat form.
    @usableFromInline let plan: ConditionPlan?
    /// `plan`, unretained (a plain word, so reading it from a program costs no retain).
    @usableFromInline let planRef: Unmanaged<ConditionPlan>?
    /// The variable names the expression may look up, in first-use order.
    public let referencedNames: [CELName]
    /// The statically inferred result type (`"bool"`, `"dyn"`...).
    public let resultTypeName: String

    init(root: @escaping Eval, constant: CELValue?, condition: Condition? = nil, names: [CELName], resultTypeName: String) {
        self.root = root
        self.constant = constant
        plan = constant == nil ? condition.flatMap { $0.isSpecialised ? ConditionPlan($0) : nil } : nil
        planRef = plan.map { Unmanaged.passUnretained($0) }
        self.referencedNames = names
        self.resultTypeName = resultTypeName
    }

    /// Evaluates against `activation`. Throws the error value the expression produced.
    public func evaluate(_ activation: some CELActivation) throws(CELError) -> CELValue {
        if let constant { return constant }
        return try root(Frame(activation: activation, locals: nil))
    }

    /// Evaluates and requires a `bool` result (for filters and conditions).
    @inlinable
    public func evaluateBool(_ activation: some CELActivation) throws(CELError) -> Bool {
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
    public func evaluateCondition(_ activation: some CELActivation) -> Bool? {
        guard let planRef else { return nil }
        return planRef._withUnsafeGuaranteedRef { $0.run(activation) }
    }
}

/// What closures see during one evaluation: the activation and the comprehension
/// variables (created lazily by the first comprehension that runs).
@usableFromInline
struct Frame {
    let activation: any CELActivation
    let locals: Locals?
}

/// Comprehension variable slots, indexed by numbers the compiler assigns.
final class Locals {
    var slots: [CELValue] = []

    @inline(__always)
    func set(_ i: Int, _ v: CELValue) {
        if i >= slots.count { slots.append(contentsOf: repeatElement(.null, count: i - slots.count + 1)) }
        slots[i] = v
    }
}

@usableFromInline
typealias Eval = @Sendable (Frame) throws(CELError) -> CELValue
