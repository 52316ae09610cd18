/// A compiled expression: a tree of closures built once, evaluated many times.
///
/// Programs are immutable and `Sendable`; evaluate one from any number of threads.
public struct CELProgram: Sendable {
    let root: Eval
    let constant: CELValue?
    /// The variable names the expression may look up, in first-use order.
    public let referencedNames: [CELName]
    /// The statically inferred result type (`"bool"`, `"dyn"`...).
    public let resultTypeName: String

    init(root: @escaping Eval, constant: CELValue?, names: [CELName], resultTypeName: String) {
        self.root = root
        self.constant = constant
        self.referencedNames = names
        self.resultTypeName = resultTypeName
    }

    /// Evaluates against `activation`. Throws the error value the expression produced.
    public func evaluate(_ activation: some CELActivation) throws(CELError) -> CELValue {
        if let constant { return constant }
        return try root(Frame(activation: activation, locals: nil))
    }

    /// Evaluates and requires a `bool` result (for filters and conditions).
    public func evaluateBool(_ activation: some CELActivation) throws(CELError) -> Bool {
        let v = try evaluate(activation)
        guard case .bool(let b) = v else { throw CELError("expected bool result, got \(v.typeName)") }
        return b
    }
}

/// What closures see during one evaluation: the activation and the comprehension
/// variables (created lazily by the first comprehension that runs).
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

typealias Eval = @Sendable (Frame) throws(CELError) -> CELValue
