import SluiceCore
import SluiceJSON

/// One window's result, produced when the window fires.
@usableFromInline package struct WindowResult: Sendable {
    /// The key (null for the global window; an array of values for a map key).
    @usableFromInline package var key: JSON
    /// Start of the window in epoch ms (count windows: earliest event time; ``Event/noTime`` when unknown).
    @usableFromInline package var start: Int64
    /// End of the window in epoch ms, exclusive (count windows: latest event time).
    @usableFromInline package var end: Int64
    /// True when the window fired before and this result replaces that one.
    @usableFromInline package var update: Bool
    /// The aggregates in the order written; null where ``errors`` has an entry.
    @usableFromInline package var values: [JSON]
    /// Aggregates that could not be computed (index, message), e.g. an integer overflow.
    @usableFromInline package var errors: [(index: Int, message: String)]
}
