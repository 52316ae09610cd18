import SluiceCEL
import SluiceCore
import SluiceJSON

/// A checked `window:` configuration.
@usableFromInline package struct WindowConfig: Sendable {
    /// How windows are assigned.
    @usableFromInline package var kind: WindowKind
    /// The key.
    @usableFromInline package var key: WindowKey
    /// The distinct aggregate arguments (each evaluated once per event).
    @usableFromInline package var inputs: [WindowInput]
    /// The aggregates, in output order.
    @usableFromInline package var aggregates: [WindowAggregate]
    /// `having:`, over the result.
    @usableFromInline package var having: Expression?
    /// `allowed_lateness` in ms.
    @usableFromInline package var allowedLateness: Int64
    /// `max_open_windows`.
    @usableFromInline package var maxOpenWindows: Int

    /// A configuration built in code (YAML goes through the step definition instead).
    @usableFromInline package init(
        kind: WindowKind, key: WindowKey, inputs: [WindowInput], aggregates: [WindowAggregate],
        having: Expression? = nil,
        allowedLateness: Int64 = 0, maxOpenWindows: Int = WindowConfig.defaultMaxOpenWindows
    ) {
        self.kind = kind
        self.key = key
        self.inputs = inputs
        self.aggregates = aggregates
        self.having = having
        self.allowedLateness = allowedLateness
        self.maxOpenWindows = maxOpenWindows
    }

    /// The default of `max_open_windows`.
    @usableFromInline package static let defaultMaxOpenWindows = 100_000
    /// The most windows one event may belong to in a hopping window (`size / every`).
    @usableFromInline package static let maxWindowsPerEvent = 1000

    /// Every key `window:` accepts.
    @usableFromInline package static let keys = [
        "key", "tumbling", "hopping", "session", "count", "aggregate", "having", "allowed_lateness", "max_open_windows",
    ]
}
