/// A variable name as seen by an activation, interned when the expression is compiled.
///
/// `id` is stable for the lifetime of the ``CELEnvironment`` that compiled the program,
/// so an activation can map ids to slots once and then resolve names without hashing
/// strings. Qualified names (`"a.b.c"`) are single names.
@usableFromInline package struct CELName: Sendable, Hashable {
    /// The full name, e.g. `"amount"` or `"com.example.y"`.
    @usableFromInline package let string: String
    /// A small integer unique to `string` within one environment.
    @usableFromInline package let id: Int

    /// Creates a name; normally obtained from ``CELEnvironment/name(_:)``.
    @usableFromInline package init(string: String, id: Int) {
        self.string = string
        self.id = id
    }

    /// Names are identified by their string; ids are a lookup aid.
    @usableFromInline package static func == (lhs: CELName, rhs: CELName) -> Bool { lhs.string == rhs.string }

    /// Hashes the string.
    @usableFromInline package func hash(into hasher: inout Hasher) { hasher.combine(string) }
}
