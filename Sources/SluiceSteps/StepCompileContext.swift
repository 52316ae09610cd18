import SluiceCore
import SluiceJSON

/// What a step definition sees while it compiles one step of a pipeline: its
/// configuration, a place to report problems, and the pipeline around it.
public final class StepCompileContext {
    /// The step as written: kind, config node, `name:` and `when:`.
    @usableFromInline package let spec: StepSpec
    /// Where diagnostics go; `config` readers report into it.
    @usableFromInline package let context: ConfigContext
    /// The folder of the pipeline file, for relative paths (`schema_file`).
    public let baseDirectory: String
    /// The pipeline's expression environment (parameters, tables, functions).
    @usableFromInline package let expressions: ExpressionCompiler
    /// Whether the pipeline has event time (`time:`); steps that need time use it.
    public let hasEventTime: Bool
    /// The name of the stream the step belongs to.
    public let streamName: String
    /// The steps before this one in its stream, as written (a `saga` reads an earlier
    /// `validate` step's schema to check its conditions).
    @usableFromInline package var precedingSteps: [StepSpec] = []
    /// Lines `sluice graph` shows under the step's name (a saga's steps); empty for most.
    @usableFromInline package var graphDetail: [String] = []
    /// Side outputs the step declared, by name, with their port numbers.
    @usableFromInline package private(set) var declaredSidePorts: [String: Int] = [:]
    private let allocatePort: (String) -> Int

    @usableFromInline package init(
        spec: StepSpec, context: ConfigContext, baseDirectory: String, expressions: ExpressionCompiler,
        hasEventTime: Bool, streamName: String, allocatePort: @escaping (String) -> Int
    ) {
        self.spec = spec
        self.context = context
        self.baseDirectory = baseDirectory
        self.expressions = expressions
        self.hasEventTime = hasEventTime
        self.streamName = streamName
        self.allocatePort = allocatePort
    }

    /// The step's display name: `name:` when given, else its kind.
    public var stepName: String { spec.name ?? spec.kind }

    /// The configuration node (the value of the kind key).
    @usableFromInline package var config: YAMLNode { spec.config }

    /// The configuration as a mapping, with unknown-key checking; nil (with a
    /// diagnostic) when it is not a mapping.
    public func map() -> ConfigMap? {
        ConfigMap(spec.config, what: spec.kind, context: context)
    }

    /// The configuration as one compiled CEL expression (`- filter: EXPR`), or nil
    /// with a diagnostic.
    @usableFromInline package func singleExpression() -> Expression? {
        guard let expr = context.expression(spec.config, what: "'\(spec.kind)'") else { return nil }
        return expressions.compile(expr, context: context)
    }

    /// Declares a side output `STREAM.name` that this step writes, and returns its port.
    /// `rejected`, `late` and `timeouts` have fixed ports.
    public func sidePort(named name: String) -> Int {
        let port: Int
        switch name {
        case "rejected": port = SidePort.rejected
        case "late": port = SidePort.late
        case "timeouts": port = SidePort.timeouts
        default: port = allocatePort(name)
        }
        declaredSidePorts[name] = port
        return port
    }

    /// Reports an error at `location`.
    public func error(_ location: SourceLocation?, _ message: String, hint: String? = nil) {
        context.error(location, message, hint: hint)
    }

    /// Resolves a path relative to the pipeline file.
    public func resolvePath(_ path: String) -> String {
        if path.hasPrefix("/") || baseDirectory.isEmpty { return path }
        return baseDirectory + "/" + path
    }
}
