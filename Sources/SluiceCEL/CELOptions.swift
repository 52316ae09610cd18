/// Settings that change how expressions compile.
@usableFromInline package struct CELOptions: Sendable {
    /// Type-check at compile time: unknown functions, wrong argument counts and operator
    /// misuse on known types become compile errors. When false, those surface as
    /// evaluation errors instead (as CEL's `disable_check` conformance cases expect).
    @usableFromInline package var typeCheck: Bool = true
    /// Reject identifiers that are neither declared variables, type names nor
    /// comprehension variables. Off by default: Sluice resolves unknown identifiers at
    /// evaluation time through the activation.
    @usableFromInline package var strictIdentifiers: Bool = false
    /// Expand the macros `has`, `all`, `exists`, `exists_one`, `map`, `filter`.
    @usableFromInline package var macros: Bool = true
    /// Enable Sluice's list aggregates: receiver `sum()`, `min()`, `max()`, `avg()` and
    /// global `min(a, b, ...)`/`max(...)` (also `min(list)`).
    @usableFromInline package var listExtensions: Bool = true
    /// The namespace used to resolve names, e.g. `"com.example"`: `y` is looked up as
    /// `com.example.y`, then `com.y`, then `y`.
    @usableFromInline package var container: String = ""

    /// When true, an identifier that is also a type name (`type`, `int`, `string`...)
    /// reads the variable of that name when the activation has one, and means the type
    /// only otherwise. Sluice turns this on so that an event field called `type` works
    /// (`type == "login"`); standard CEL resolves such names to types.
    @usableFromInline package var variablesShadowTypeNames: Bool = false

    /// The most one evaluation may cost before it fails with `evaluation cost exceeded`:
    /// one unit per comprehension iteration, per element of a list a comprehension
    /// builds, and, inside comprehensions, per element of a list or map and per ten
    /// bytes of a string that is built or read from a variable; `replace` and `join`
    /// count the size of their result anywhere. Like cel-go's runtime cost limit, it
    /// stops an expression such as five nested comprehensions from running for minutes
    /// on one event. Expressions without comprehensions, `replace` or `join` are not
    /// metered at all.
    @usableFromInline package var costLimit: Int = CELOptions.defaultCostLimit

    /// The default ``costLimit``: a million (about a tenth of a second of work).
    @usableFromInline package static let defaultCostLimit = 1_000_000

    /// The defaults: checking on, lenient identifiers, macros and list extensions on.
    @usableFromInline package init() {}
}
