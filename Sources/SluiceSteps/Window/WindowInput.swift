/// Where a key part or an aggregate argument comes from.
@usableFromInline package enum WindowInput: Sendable {
    /// A top-level field, read directly (no CEL): a missing field reads as null.
    case field(String)
    /// A CEL expression over the event.
    case expression(Expression)
}
