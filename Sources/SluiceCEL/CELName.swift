/// A variable name as seen by an activation, interned when the expression is compiled.
///
/// `id` is stable for the lifetime of the ``CELEnvironment`` that compiled the program,
/// so an activation can map ids to slots once and then resolve names without hashing
/// strings. Qualified names (`"a.b.c"`) are single names.
public struct CELName: Sendable, Hashable {
    /// The full name, e.g. `"amount"` or `"com.example.y"`.
    public let string: String
    /// A small integer unique to `string` within one environment.
    public let id: Int

    /// Creates a name; normally obtained from ``CELEnvironment/name(_:)``.
    public init(string: String, id: Int) {
        self.string = string
        self.id = id
    }

    /// Names are identified by their string; ids are a lookup aid.
    public static func == (lhs: CELName, rhs: CELName) -> Bool { lhs.string == rhs.string }

    /// Hashes the string.
    public func hash(into hasher: inout Hasher) { hasher.combine(string) }
}
