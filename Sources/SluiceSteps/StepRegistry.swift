import Synchronization
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
    /// Reads and checks the configuration, reporting problems through the context, and
    /// returns a factory, or nil when the configuration has errors.
    public var compile: @Sendable (StepCompileContext) -> StepFactory?

    public init(
        kind: String,
        summary: String,
        keys: [String] = [],
        compile: @escaping @Sendable (StepCompileContext) -> StepFactory?
    ) {
        self.kind = kind
        self.summary = summary
        self.keys = keys
        self.compile = compile
    }
}

/// The step kinds a compiler knows. ``standard`` holds the built-in steps; embedders
/// register their own steps on a copy (or on ``standard`` itself) before compiling.
public final class StepRegistry: Sendable {
    private let definitions: Mutex<[String: StepDefinition]>

    /// A registry with the given definitions.
    public init(_ definitions: [StepDefinition] = []) {
        var d: [String: StepDefinition] = [:]
        for def in definitions { d[def.kind] = def }
        self.definitions = Mutex(d)
    }

    /// Adds or replaces the definition for `definition.kind`.
    public func register(_ definition: StepDefinition) {
        definitions.withLock { $0[definition.kind] = definition }
    }

    /// The definition of `kind`, if registered.
    public func definition(_ kind: String) -> StepDefinition? {
        definitions.withLock { $0[kind] }
    }

    /// Every registered kind, sorted.
    public var kinds: [String] {
        definitions.withLock { Array($0.keys).sorted() }
    }

    /// Every definition, sorted by kind.
    public var all: [StepDefinition] {
        definitions.withLock { d in d.keys.sorted().compactMap { d[$0] } }
    }

    /// A new registry with the same definitions.
    public func copy() -> StepRegistry {
        StepRegistry(all)
    }

    /// The built-in steps.
    public static var standard: StepRegistry { StepRegistry(BuiltinSteps.all) }
}
