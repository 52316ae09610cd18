import SluiceCEL
import SluiceCore
import SluiceJSON

/// A checked `window:` configuration.
public struct WindowConfig: Sendable {
    /// How windows are assigned.
    public var kind: WindowKind
    /// The key.
    public var key: WindowKey
    /// The distinct aggregate arguments (each evaluated once per event).
    public var inputs: [WindowInput]
    /// The aggregates, in output order.
    public var aggregates: [WindowAggregate]
    /// `having:`, over the result.
    public var having: Expression?
    /// `allowed_lateness` in ms.
    public var allowedLateness: Int64
    /// `max_open_windows`.
    public var maxOpenWindows: Int

    /// A configuration built in code (YAML goes through the step definition instead).
    public init(
        kind: WindowKind, key: WindowKey, inputs: [WindowInput], aggregates: [WindowAggregate], having: Expression? = nil,
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
    public static let defaultMaxOpenWindows = 100_000
    /// The most windows one event may belong to in a hopping window (`size / every`).
    public static let maxWindowsPerEvent = 1000

    /// Every key `window:` accepts.
    public static let keys = [
        "key", "tumbling", "hopping", "session", "count", "aggregate", "having", "allowed_lateness", "max_open_windows",
    ]
}
