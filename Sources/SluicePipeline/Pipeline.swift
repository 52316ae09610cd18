import SluiceCore
import SluiceJSON
import SluiceSteps

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A compiled pipeline: checked, immutable, and ready to run any number of times.
///
/// ```swift
/// let pipeline = try Pipeline.load(path: "pipelines/quickstart.yaml")  // throws Diagnostics
/// let outcome = try await pipeline.run(RunOptions())                   // throws RunError
/// ```
public final class Pipeline: Sendable {
    /// `name:` from the file, or `pipeline`.
    public let name: String
    /// The file it was compiled from (as given), or the name passed for YAML text.
    @usableFromInline package let file: String
    /// Warnings found while compiling (unused streams, ...).
    public let warnings: Diagnostics
    package let inputs: [InputSpec]
    package let streams: [StreamSpec]
    let outputs: [OutputSpec]
    let time: EventTimeSpec?
    /// The top-level fields the pipeline's expressions read, whose places file inputs
    /// record while validating each event (see ``FieldIndex``).
    let fieldIndex: FieldIndex?
    /// Compiles the pipeline's source again. Partition workers each run steps built
    /// from their own compilation: compiled expressions and schemas are shared,
    /// immutable objects whose reference counts every evaluation touches, and two
    /// threads touching one count for every event serialize on its cache line.
    let recompile: (@Sendable () -> Pipeline?)?
    /// `metrics:` in the file: where `sluice run` serves its metrics endpoint.
    package let metricsAddress: MetricsAddress?
    /// `checkpoint:` from the file.
    let checkpoint: CheckpointSpec?

    init(
        name: String, file: String, inputs: [InputSpec], streams: [StreamSpec], outputs: [OutputSpec],
        time: EventTimeSpec?, warnings: Diagnostics, fieldIndex: FieldIndex? = nil,
        recompile: (@Sendable () -> Pipeline?)? = nil, metrics: MetricsAddress? = nil,
        checkpoint: CheckpointSpec? = nil
    ) {
        self.metricsAddress = metrics
        self.checkpoint = checkpoint
        self.name = name
        self.fieldIndex = fieldIndex
        self.recompile = recompile
        self.time = time
        self.file = file
        self.inputs = inputs
        self.streams = streams
        self.outputs = outputs
        self.warnings = warnings
    }

    /// Input names, in file order.
    public var inputNames: [String] { inputs.map(\.name) }
    /// Output names, in file order.
    public var outputNames: [String] { outputs.map(\.name) }
    /// True when the pipeline has a `time:` section (event time); false means
    /// processing time.
    @usableFromInline package var hasEventTime: Bool { time != nil }

    /// Stream names, in file order.
    @usableFromInline package var streamNames: [String] { streams.map(\.name) }

    /// Compiles the pipeline file at `path`. `params` are `--set` overrides.
    /// `tables` replaces table files by name (paths as given, not relative to the file).
    public static func load(
        path: String, registry: StepRegistry = .standard, params: [String: String] = [:], tables: [String: String] = [:]
    ) throws(Diagnostics) -> Pipeline {
        let (root, loadDiagnostics) = YAMLLoader.load(path: path, displayName: path)
        guard let root, !loadDiagnostics.hasErrors else { throw loadDiagnostics }
        return try compile(
            root: root, file: path, baseDirectory: directory(of: path), registry: registry, params: params,
            tables: tables, prior: loadDiagnostics
        ).get()
    }

    /// Compiles pipeline YAML text. `file` names it in diagnostics; relative paths in it
    /// are resolved against `baseDirectory`.
    public static func compile(
        yaml: String, file: String = "<pipeline>", baseDirectory: String = ".",
        registry: StepRegistry = .standard, params: [String: String] = [:], tables: [String: String] = [:]
    ) throws(Diagnostics) -> Pipeline {
        let (root, loadDiagnostics) = YAMLLoader.load(text: yaml, file: file)
        guard let root, !loadDiagnostics.hasErrors else { throw loadDiagnostics }
        return try compile(
            root: root, file: file, baseDirectory: baseDirectory, registry: registry, params: params,
            tables: tables, prior: loadDiagnostics
        ).get()
    }

    /// Compiles an already loaded node tree (for tools that read other keys of the same
    /// file, such as `sluice test`).
    @usableFromInline package static func compile(
        root: YAMLNode, file: String, baseDirectory: String, registry: StepRegistry = .standard,
        params: [String: String] = [:], tables: [String: String] = [:], prior: Diagnostics = Diagnostics()
    ) -> Result<Pipeline, Diagnostics> {
        var compiler = PipelineCompiler(
            file: file, baseDirectory: baseDirectory, registry: registry, paramOverrides: params)
        compiler.tableOverrides = tables
        return compiler.compile(root, prior: prior)
    }

    /// Fresh instances of the steps of `stream`, in order (for tests and embedders that
    /// drive steps directly).
    @usableFromInline package func makeSteps(stream: String) -> [any Step] {
        streams.first { $0.name == stream }?.steps.map { $0.factory() } ?? []
    }

    /// A fresh chain of the steps of `stream`, each with its name, kind and traits, as a
    /// run builds it (for benchmarks that drive a stream's steps without a run).
    @usableFromInline package func makeChain(stream: String) -> StepChain {
        let steps = streams.first { $0.name == stream }?.steps ?? []
        return StepChain(
            steps.map { StepChain.Entry(step: $0.factory(), name: $0.name, kind: $0.kind, traits: $0.traits) })
    }

    package static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }
}
