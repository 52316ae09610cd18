/// One entry of `aggregate:`.
@usableFromInline package struct WindowAggregate: Sendable {
    /// The output field.
    @usableFromInline package var name: String
    /// The function.
    @usableFromInline package var function: AggregateFunction
    /// Index into ``WindowConfig/inputs``, or -1 for `count()`.
    @usableFromInline package var input: Int
    /// The call as written, for messages: `sum(amount)`.
    @usableFromInline package var label: String

    /// An aggregate reading input `input` (-1 for `count()`).
    @usableFromInline package init(name: String, function: AggregateFunction, input: Int, label: String) {
        self.name = name
        self.function = function
        self.input = input
        self.label = label
    }
}
