/// An evaluation error, such as `no such key: 'amount'` or `integer overflow`.
///
/// CEL treats errors as values during evaluation (`&&`, `||` and the macros may absorb
/// them); an error that reaches the top of the expression is thrown from
/// ``CELProgram/evaluate(_:)``.
@usableFromInline package struct CELError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A message for people, e.g. `no matching overload for '_>_' applied to (string, int)`.
    @usableFromInline package var message: String

    /// Creates an error with `message`.
    @usableFromInline package init(_ message: String) {
        self.message = message
    }

    /// The message.
    @usableFromInline package var description: String { message }

    static let overflow = CELError("integer overflow")
    static let divideByZero = CELError("division by zero")
    static let moduloByZero = CELError("modulus by zero")

    static func noOverload(_ function: String, _ args: CELValue...) -> CELError {
        CELError("no matching overload for '\(function)' applied to (\(args.map(\.typeName).joined(separator: ", ")))")
    }

    static func noOverload(_ function: String, types: [CELValue]) -> CELError {
        CELError("no matching overload for '\(function)' applied to (\(types.map(\.typeName).joined(separator: ", ")))")
    }
}
