/// One entry of `aggregate:`.
public struct WindowAggregate: Sendable {
    /// The output field.
    public var name: String
    /// The function.
    public var function: AggregateFunction
    /// Index into ``WindowConfig/inputs``, or -1 for `count()`.
    public var input: Int
    /// The call as written, for messages: `sum(amount)`.
    public var label: String

    /// An aggregate reading input `input` (-1 for `count()`).
    public init(name: String, function: AggregateFunction, input: Int, label: String) {
        self.name = name
        self.function = function
        self.input = input
        self.label = label
    }
}
