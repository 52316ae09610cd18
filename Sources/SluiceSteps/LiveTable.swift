import SluiceCEL

/// A lookup table whose rows change while the pipeline runs (a projection's read model,
/// docs/event-sourcing.md): ``current`` is the table as it is now, a CEL map from key to
/// row, read by `lookup(TABLE, KEY)` on any stage thread.
@usableFromInline package protocol LiveTable: AnyObject, Sendable {
    /// The table now (within the table's own staleness bound).
    var current: CELValue { get }
}
