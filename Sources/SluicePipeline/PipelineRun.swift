import SluiceConnectors
import SluiceCore
import SluiceJSON
import SluiceKafka
import SluiceSteps
import SluiceStore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How to run a pipeline: where inputs and outputs go, and run-time switches. Mirrors the
/// flags of `sluice run`.
public struct RunOptions: Sendable {
    /// Input name to file path (`-` is stdin). The key `""` binds the only input.
    public var inputs: [String: String] = [:]
    /// Output name to file path (`-` is stdout). The key `""` binds the only output.
    public var outputs: [String: String] = [:]
    /// Overrides the input format of every input.
    @usableFromInline package var format: JSONInputFormat?
    /// Overrides what every input does with an object that repeats a key.
    @usableFromInline package var duplicateKeys: DuplicateKeyPolicy?
    /// Where unread side outputs are written (`--dlq`), besides being counted.
    public var deadLetterPath: String?
    /// Measure time per step (for `--stats`).
    public var timing = false
    /// Limits for the JSON readers.
    @usableFromInline package var limits: JSONLimits = .default
    /// Inputs replaced by sources of the embedder's (``PushInput``, ``MemorySource``).
    @usableFromInline package var sources: [String: any EventSource & Sendable] = [:]
    /// Outputs replaced by sinks of the embedder's (``AsyncOutput``, ``CollectingSink``).
    @usableFromInline package var sinks: [String: any EventSink & Sendable] = [:]
    /// Keep every stream's output and every side output in memory, by name (`clean`,
    /// `clean.rejected`, `in.malformed`), read through ``PipelineRun/tapped(_:)``. For
    /// tests; unread side outputs are then collected instead of dead-lettered.
    @usableFromInline package var tapAll = false
    /// Partitions of every keyed stream (`--parallelism N`), overriding `parallelism:`.
    public var parallelism: Int?
    /// Overrides the `count` of every `generate` input (`sluice bench --events N`).
    @usableFromInline package var generateCount: Int?
    /// Receives live figures of the run (`--metrics`, the progress bar).
    package var metrics: RunMetrics?
    /// Take checkpoints in this directory and resume from the newest one found there
    /// (`--checkpoint-dir`; docs/checkpoints.md). Overrides `checkpoint: {dir:}`.
    public var checkpointDirectory: String?
    /// Time between checkpoints, in seconds (`--checkpoint-every`; 10 by default).
    public var checkpointInterval: Double?
    /// Drop the saved state of steps the pipeline no longer has, instead of refusing to
    /// start (`--allow-non-restored-state`).
    public var allowNonRestoredState = false
    /// Set in the process that runs one partition of a scale-out Kafka input
    /// (docs/kafka.md, "Scale-out"): that input reads only this partition, and the
    /// checkpoint directory, held by the partition's previous owner until it has written
    /// its last checkpoint, is waited for instead of refused.
    package var kafkaPartition: KafkaPartitionRun?
    /// Where warnings about checkpoints go (a damaged one skipped, one not written);
    /// standard error by default.
    @usableFromInline package var warn: @Sendable (String) -> Void = { message in
        var line = Array("sluice: warning: \(message)\n".utf8)
        _ = line.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }

    public init() {}

    /// Feeds input `name` from `input` instead of a file (see ``PushInput``).
    public mutating func bind(input name: String, to input: PushInput) { sources[name] = input }

    /// Sends output `name` to `output` instead of a file (see ``AsyncOutput``).
    public mutating func bind(output name: String, to output: AsyncOutput) { sinks[name] = output }
}

/// A problem starting a run: a usage mistake (`--input nope=x`), a resource that cannot
/// be opened (an output file in a missing folder), or files that clash (an output that is
/// also an input).
public struct RunError: Error, Sendable, CustomStringConvertible {
    /// What kind of problem it is.
    public enum Kind: Sendable, Equatable {
        /// The user asked for something the pipeline does not have (exit 64 in the CLI).
        case usage
        /// A resource failed (exit 1).
        case resource
        /// Two outputs write one file, or an output would overwrite an input (exit 2):
        /// found before anything is opened, so nothing was truncated.
        case fileConflict
    }

    public var kind: Kind
    public var message: String
    public var description: String { message }
    /// True for ``Kind/usage``.
    public var isUsage: Bool { kind == .usage }

    package init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    package init(isUsage: Bool, message: String) {
        self.init(isUsage ? .usage : .resource, message)
    }
}

/// A running pipeline.
public final class PipelineRun: Sendable {
    /// The runtime underneath (progress counters, cancellation).
    @usableFromInline package let execution: Execution
    let deadLetterNames: [String]
    let deadLetterSinks: [String: DeadLetterSink]
    @usableFromInline package let deadLetterPath: String?
    let taps: [String: CollectingSink]

    init(
        execution: Execution, deadLetterNames: [String], deadLetterSinks: [String: DeadLetterSink] = [:],
        deadLetterPath: String?, taps: [String: CollectingSink]
    ) {
        self.execution = execution
        self.deadLetterNames = deadLetterNames
        self.deadLetterSinks = deadLetterSinks
        self.deadLetterPath = deadLetterPath
        self.taps = taps
    }

    /// With ``RunOptions/tapAll``: the events of stream or side output `name` so far.
    @usableFromInline package func tapped(_ name: String) -> [Event]? { taps[name]?.events }

    /// Names of everything tapped.
    @usableFromInline package var tappedNames: [String] { taps.keys.sorted() }

    /// Blocks until the run is over.
    public func wait() -> RunOutcome { execution.wait() }

    /// Suspends until the run is over (for async code, instead of blocking in ``wait()``).
    /// Cancelling the waiting task cancels the run (``Execution/cancel()``): it stops
    /// reading, drains, and this returns once it has finished.
    public func finished() async -> RunOutcome {
        let execution = self.execution
        return await withTaskCancellationHandler {
            await withCheckedContinuation { c in execution.onFinish { c.resume(returning: $0) } }
        } onCancel: {
            execution.cancel()
        }
    }

    /// Stops the run: inputs stop, what was read is written, nothing open is fired.
    public func cancel() { execution.cancel() }

    /// Events that went to side outputs nothing reads, by `STREAM.NAME`, with the
    /// events of streams nothing reads; only non-zero counts. Complete after ``wait()``.
    public var deadLetters: [(name: String, count: Int)] {
        let totals = execution.totals
        var out: [(String, Int)] = []
        for n in deadLetterNames {
            // Counted by each side output's sink (in a checkpointed run they share one node).
            if let c = deadLetterSinks[n]?.count ?? totals.sinkEvents[n], c > 0 { out.append((n, c)) }
        }
        for (n, c) in totals.unread.sorted(by: { $0.key < $1.key }) where c > 0 { out.append((n, c)) }
        return out
    }

    /// Why events went to the unread side output `name` (`main.rejected`): the reasons
    /// with their counts and first input lines. Complete after ``wait()``.
    @usableFromInline package func deadLetterReasons(_ name: String) -> DeadLetterReasons? {
        deadLetterSinks[name]?.reasons
    }
}

extension Pipeline {
    /// Starts the pipeline with `options` and suspends until the run is over.
    /// Cancelling the waiting task cancels the run.
    public func run(_ options: RunOptions = RunOptions()) async throws(RunError) -> RunOutcome {
        let run = try start(options)
        return await run.finished()
    }

    /// Starts the pipeline: opens every output, builds fresh step state and starts
    /// reading. Returns at once; call ``PipelineRun/wait()``.
    public func start(_ options: RunOptions = RunOptions()) throws(RunError) -> PipelineRun {
        if options.deadLetterPath == "-" {
            // Dead letters on stdout would interleave with the outputs that write there.
            throw RunError(
                isUsage: true,
                message:
                    "--dlq -: dead letters go to a file, not stdout (where outputs write); give a path, or /dev/stderr to see them"
            )
        }
        let built = try FlowBuilder(pipeline: self, options: options).build()
        let execution = Execution(
            built.flow, timing: options.timing, metrics: options.metrics,
            checkpoints: built.checkpoints)
        return PipelineRun(
            execution: execution, deadLetterNames: built.deadLetterNames, deadLetterSinks: built.deadLetterSinks,
            deadLetterPath: options.deadLetterPath, taps: built.taps)
    }

    /// Runs the pipeline to the end over in-memory inputs and returns every output,
    /// stream and side output by name (outputs under their own names). Inputs not given
    /// are empty (`generate` inputs not given run their generator). The convenience behind `sluice test` and many tests.
    public func collect(_ inputs: [String: [InputItem]]) throws(RunError) -> (
        outputs: [String: [Event]], outcome: RunOutcome
    ) {
        var options = RunOptions()
        options.tapAll = true
        for input in self.inputs {
            // A `generate` input keeps generating unless the caller gives its events.
            if case .generate = input.kind, inputs[input.name] == nil { continue }
            options.sources[input.name] = MemorySource(name: input.name, items: inputs[input.name] ?? [])
        }
        var sinks: [String: CollectingSink] = [:]
        for name in outputNames {
            let s = CollectingSink(name: name)
            sinks[name] = s
            options.sinks[name] = s
        }
        let run = try start(options)
        let outcome = run.wait()
        var all: [String: [Event]] = [:]
        for name in run.tappedNames { all[name] = run.tapped(name) }
        for (name, s) in sinks { all[name] = s.events }
        return (all, outcome)
    }

    /// Fails when ``RunOptions/sources`` or ``RunOptions/sinks`` names an input or output
    /// the pipeline does not have (a misspelling would leave the real one reading the
    /// process's stdin or writing its stdout), or, once an embedder binds any of them,
    /// leaves one that would fall back to stdin or stdout unbound. Reading stdin or
    /// writing stdout is then asked for explicitly, with `inputs[NAME] = "-"` or
    /// `outputs[NAME] = "-"`.
    func checkEmbedderBindings(
        _ options: RunOptions, inputPaths: [String: String], outputPaths: [String: String]
    ) throws(RunError) {
        for name in options.sources.keys.sorted() where !inputNames.contains(name) {
            throw RunError(
                .usage,
                "RunOptions.sources binds '\(name)', which is no input of the pipeline\(didYouMean(name, among: inputNames)) (it has: \(inputNames.joined(separator: ", ")))"
            )
        }
        for name in options.sinks.keys.sorted() where !outputNames.contains(name) {
            throw RunError(
                .usage,
                "RunOptions.sinks binds '\(name)', which is no output of the pipeline\(didYouMean(name, among: outputNames)) (it has: \(outputNames.joined(separator: ", ")))"
            )
        }
        if !options.sources.isEmpty {
            for input in inputs where options.sources[input.name] == nil && inputPaths[input.name] == nil {
                guard case .stdin = input.kind else { continue }
                throw RunError(
                    .usage,
                    "input '\(input.name)' is not bound: RunOptions.sources binds other inputs, and this one would read the process's standard input; bind it in RunOptions.sources, or set RunOptions.inputs[\"\(input.name)\"] = \"-\" to read standard input"
                )
            }
        }
        if !options.sinks.isEmpty {
            for output in outputs where options.sinks[output.name] == nil && outputPaths[output.name] == nil {
                guard case .stdout = output.kind else { continue }
                throw RunError(
                    .usage,
                    "output '\(output.name)' is not bound: RunOptions.sinks binds other outputs, and this one would write the process's standard output; bind it in RunOptions.sinks, or set RunOptions.outputs[\"\(output.name)\"] = \"-\" to write standard output"
                )
            }
        }
    }

    /// Fails when two outputs (or an output and `--dlq`) write one file, or an output
    /// writes a file an input reads (see ``FileConflicts``).
    func checkFiles(
        _ locations: [String: FileSource.Location], _ targets: [String: JSONLinesSink.Target], deadLetterPath: String?
    ) throws(RunError) {
        var files = FileConflicts()
        for input in inputs {
            switch locations[input.name] {
            case .stdin?: files.read("-", as: "input '\(input.name)'")
            case .files(let paths)?: for p in paths { files.read(p, as: "input '\(input.name)'") }
            case nil: break
            }
        }
        for output in outputs {
            switch targets[output.name] {
            case .stdout?: files.write("-", as: "output '\(output.name)'")
            case .file(let path, _)?: files.write(path, as: "output '\(output.name)'")
            case .stderr?, nil: break
            }
        }
        if let deadLetterPath { files.write(deadLetterPath, as: "--dlq") }
        if let conflict = files.check() { throw RunError(.fileConflict, conflict) }
    }

    /// The nodes that append to event stores: one per `store` output that no sink of the
    /// caller's replaces, each a one-step stream whose `rejected` port is `OUTPUT.rejected`.
    /// The stores are opened (and their tables created) now, so a bad file fails the start.
    func addStoreOutputs(_ flow: Dataflow, _ options: RunOptions, bound: [String: String]) throws(RunError) -> [String:
        Dataflow.NodeID]
    {
        var nodes: [String: Dataflow.NodeID] = [:]
        for output in outputs {
            guard let spec = output.store, case .store(let location) = output.kind, options.sinks[output.name] == nil
            else {
                continue
            }
            if let p = bound[output.name] {
                throw RunError(
                    isUsage: true,
                    message: "output '\(output.name)' appends to the store '\(location)'; it cannot be bound to '\(p)'")
            }
            let store: any EventStoreBackend
            do {
                store = try location.openForAppend()
            } catch {
                throw RunError(isUsage: false, message: "output '\(output.name)': \(error.message)")
            }
            nodes[output.name] = flow.addStream(
                name: output.name, portNames: [SidePort.rejected: "\(output.name).rejected"]
            ) {
                StepChain([
                    StepChain.Entry(step: StoreAppendStep(spec: spec, store: store), name: output.name, kind: "store")
                ])
            }
        }
        return nodes
    }

    package func bind(_ given: [String: String], names: [String], what: String) throws(RunError) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in given {
            if k.isEmpty {
                guard names.count == 1, let only = names.first else {
                    throw RunError(
                        isUsage: true,
                        message:
                            "the pipeline has \(names.count) \(what)s (\(names.joined(separator: ", "))); write --\(what) NAME=FILE"
                    )
                }
                out[only] = v
            } else {
                guard names.contains(k) else {
                    throw RunError(
                        isUsage: true,
                        message:
                            "the pipeline has no \(what) '\(k)'\(didYouMean(k, among: names)) (it has: \(names.joined(separator: ", ")))"
                    )
                }
                out[k] = v
            }
        }
        return out
    }
}

/// Expands `*`, `?` and `[...]` patterns with glob(3); files come back sorted, so a
/// glob reads in a stable order. A pattern with no match stays as written, so the run
/// reports the missing file instead of silently reading nothing.
package func expandGlobs(_ patterns: [String]) -> [String] {
    var out: [String] = []
    for p in patterns {
        guard p.contains(where: { "*?[".contains($0) }) else {
            out.append(p)
            continue
        }
        var g = glob_t()
        defer { globfree(&g) }
        if glob(p, 0, nil, &g) == 0 {
            var found: [String] = []
            for i in 0..<Int(g.gl_pathc) {
                if let c = g.gl_pathv[i] { found.append(String(cString: c)) }
            }
            out += found.sorted()
        } else {
            out.append(p)
        }
    }
    return out
}

/// Hashes a stream's `key:` for partitioning. Made and used on one thread (the
/// partitioner's, or its source's), so not `Sendable`.
final class KeyHasher {
    let key: Expression
    let fieldName: String?
    let activation: EventActivation
    /// The readers' field index and the key field's slot in it, when the key is a plain
    /// field the index holds: looked up once, not per event.
    let indexed: (index: FieldIndex, slot: Int)?

    init(key: Expression, compiler: ExpressionCompiler) {
        self.key = key
        fieldName = isPlainFieldName(key.source) ? key.source : nil
        activation = compiler.activation()
        let index = compiler.fieldIndex
        indexed = fieldName.flatMap { name in index.slot(of: name).map { (index, $0) } }
    }

    /// The key's hash; an event whose key cannot be read goes to partition 0, where its
    /// steps report whatever is wrong with it.
    func hash(_ e: Event) -> UInt64 {
        if let fieldName {
            // A plain string key is hashed where the reader found it, without parsing.
            if let (index, slot) = indexed,
                let h = e.withIndexedFieldBytes(slot: slot, of: index, JSONKeyHash.rawString),
                let h
            {
                return h
            }
            guard let v = e.field(fieldName) else { return 0 }
            return JSONKeyHash.hash(v)
        }
        activation.event = e
        guard let v = try? key.evaluateJSON(activation) else { return 0 }
        return JSONKeyHash.hash(v)
    }
}
