/// How a `window` step groups events.
@usableFromInline package enum WindowKind: Sendable, Equatable {
    /// Back-to-back windows of `size` ms, aligned to the epoch plus `offset`.
    case tumbling(size: Int64, offset: Int64)
    /// Windows of `size` ms starting every `every` ms, aligned to the epoch plus `offset`.
    case hopping(size: Int64, every: Int64, offset: Int64)
    /// A window per burst of activity: it ends `gap` ms after its last event.
    case session(gap: Int64)
    /// Windows of `size` events, one starting every `every` events (arrival order).
    case count(size: Int64, every: Int64)
}
