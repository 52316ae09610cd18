/// The `key:` of a window.
@usableFromInline package enum WindowKey: Sendable {
    /// No key: one global window sequence.
    case global
    /// One value, output under `name` (the field's name, or `key` for an expression).
    case single(name: String, WindowInput)
    /// `{name: EXPR, ...}`: several values, output under their names.
    case named([(name: String, input: WindowInput)])

    /// The output field names of the key, in order.
    @usableFromInline package var fieldNames: [String] {
        switch self {
        case .global: []
        case .single(let name, _): [name]
        case .named(let parts): parts.map(\.name)
        }
    }
}
