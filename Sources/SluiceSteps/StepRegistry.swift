import SluiceCore

/// Makes a fresh instance of a compiled step. Called once per stream partition per run,
/// so each instance owns its state; everything compiled (expressions, schemas) is shared.
public typealias StepFactory = @Sendable () -> any Step

/// A kind of step that pipelines can use by name: `filter`, `window`, or a custom one.
public struct StepDefinition: Sendable {
    /// The YAML key (`- KIND: CONFIG`).
    public var kind: String
    /// One line for `--help` and the reference docs.
    public var summary: String
    /// Every configuration key the step accepts, for the reference docs and
    /// "did you mean" hints. Empty for steps whose config is a single expression.
    public var keys: [String]
    /// What the runtime may assume about every step of this kind (``StepTraits``).
    public var traits: StepTraits
    /// Reads and checks the configuration, reporting problems through the context, and
    /// returns a factory, or nil when the configuration has errors.
    public var compile: @Sendable (StepCompileContext) -> StepFactory?

    public init(
        kind: String,
        summary: String,
        keys: [String] = [],
        traits: StepTraits = [],
        compile: @escaping @Sendable (StepCompileContext) -> StepFactory?
    ) {
        self.kind = kind
        self.summary = summary
        self.keys = keys
        self.traits = traits
        self.compile = compile
    }
}

/// The step kinds a compiler knows: a value you build and pass to the compiler
/// (`Pipeline.compile(yaml:registry:)`, `Pipeline.load(path:registry:)`).
///
/// ``standard`` is a fresh value holding the built-in steps. To add steps of your own,
/// take a copy into a variable, register on it, and pass it:
///
/// ```swift
/// var registry = StepRegistry.standard
/// registry.register(myStep)
/// let pipeline = Pipeline.compile(yaml: text, registry: registry)
/// ```
///
/// Being a value, a registry is never changed behind a compiler's back, and there is no
/// global registry to change: `StepRegistry.standard.register(...)` does not compile.
public struct StepRegistry: Sendable {
    private var definitions: [String: StepDefinition]

    /// A registry with the given definitions.
    public init(_ definitions: [StepDefinition] = []) {
        var d: [String: StepDefinition] = [:]
        for def in definitions { d[def.kind] = def }
        self.definitions = d
    }

    /// Adds or replaces the definition for `definition.kind`.
    public mutating func register(_ definition: StepDefinition) {
        definitions[definition.kind] = definition
    }

    /// The definition of `kind`, if registered.
    public func definition(_ kind: String) -> StepDefinition? {
        definitions[kind]
    }

    /// Every registered kind, sorted.
    public var kinds: [String] {
        definitions.keys.sorted()
    }

    /// Every definition, sorted by kind.
    public var all: [StepDefinition] {
        definitions.keys.sorted().compactMap { definitions[$0] }
    }

    /// The built-in steps (a new value each time: register on a copy of it).
    public static var standard: StepRegistry { StepRegistry(BuiltinSteps.all) }
}
