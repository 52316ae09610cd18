import SluiceConnectors
import SluiceCore
import SluiceJSON
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
            if let c = totals.sinkEvents[n], c > 0 { out.append((n, c)) }
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
        let flow = Dataflow()
        if time == nil { flow.processingTimeTick = 200_000_000 }
        let inputPaths = try bind(options.inputs, names: inputNames, what: "input")
        let outputPaths = try bind(options.outputs, names: outputNames, what: "output")
        try checkEmbedderBindings(options, inputPaths: inputPaths, outputPaths: outputPaths)

        // Where each input reads (nil: a generator) and each output writes, checked for
        // clashes before any output is opened (opening truncates).
        var locations: [String: FileSource.Location] = [:]
        for input in inputs where options.sources[input.name] == nil {
            if let p = inputPaths[input.name] {
                // Expanded like the paths of `file:` (`--input 'logs/*.jsonl'`).
                locations[input.name] = p == "-" ? .stdin : .files(expandGlobs([p]))
                continue
            }
            switch input.kind {
            case .stdin: locations[input.name] = .stdin
            case .files(let patterns): locations[input.name] = .files(expandGlobs(patterns))
            case .generate, .store: break
            }
        }
        var targets: [String: JSONLinesSink.Target] = [:]
        for output in outputs where options.sinks[output.name] == nil {
            if let p = outputPaths[output.name] {
                targets[output.name] = p == "-" ? .stdout : .file(path: p, append: false)
                continue
            }
            switch output.kind {
            case .stdout: targets[output.name] = .stdout
            case .stderr: targets[output.name] = .stderr
            case .file(let path, let append): targets[output.name] = .file(path: path, append: append)
            case .store: break  // appended by a node of its own (`addStoreOutputs`)
            }
        }
        try checkFiles(locations, targets, deadLetterPath: options.deadLetterPath)

        var inputNodes: [String: Dataflow.NodeID] = [:]
        for input in inputs {
            var generator: GenerateSpec?
            var store: StoreReadSpec?
            if inputPaths[input.name] == nil {
                if case .generate(let g) = input.kind { generator = g }
                if case .store(let s) = input.kind { store = s }
            }
            let location = locations[input.name] ?? .stdin
            let format = options.format ?? input.format ?? .jsonl
            let source: any EventSource
            if let given = options.sources[input.name] {
                source = given
            } else if let store {
                source = StoreSource(name: input.name, spec: store)
            } else if let generator {
                source = GenerateSource(name: input.name, spec: generator, countOverride: options.generateCount)
            } else {
                source = FileSource(
                    name: input.name, location: location, format: format, limits: options.limits,
                    fieldIndex: fieldIndex,
                    duplicateKeys: options.duplicateKeys ?? input.duplicateKeys ?? .reject)
            }
            inputNodes[input.name] = flow.addSource(source, time: time?.policy() ?? .processingTime)
        }
        // A stream is one node, or with parallelism a partitioner feeding N nodes that
        // each run their own copy of the steps: `entry` is where inputs connect,
        // `workers` where outputs leave.
        var streamNodes: [String: (entry: Dataflow.NodeID, workers: [Dataflow.NodeID], spec: StreamSpec)] = [:]
        for stream in streams {
            var names: [Int: String] = [:]
            for (n, p) in stream.sidePorts { names[p] = "\(stream.name).\(n)" }
            let n = stream.key == nil ? 1 : (options.parallelism ?? stream.parallelism)
            func worker(_ i: Int) -> Dataflow.NodeID {
                // Built on the worker's own thread. Worker 0 uses this compilation, the
                // others their own (see `recompile`).
                let (steps, name, recompile) = (stream.steps, stream.name, recompile)
                return flow.addStream(name: n == 1 ? stream.name : "\(stream.name)#\(i)", portNames: names) {
                    var specs = steps
                    if i > 0, let copy = recompile?()?.streams.first(where: { $0.name == name }),
                        copy.steps.count == specs.count
                    {
                        specs = copy.steps
                    }
                    return StepChain(
                        specs.map {
                            StepChain.Entry(step: $0.factory(), name: $0.name, kind: $0.kind, traits: $0.traits)
                        })
                }
            }
            if n <= 1 {
                let node = worker(0)
                streamNodes[stream.name] = (node, [node], stream)
            } else if let key = stream.key {

                // Steps that keep nothing between events hold no key's state, so the
                // partitions may take whole batches by load (put back in order by the
                // sinks): a trait of each step's definition.
                let stateless = stream.steps.allSatisfy { $0.traits.contains(.stateless) }
                // Made on the thread that hashes, which alone uses it.
                let part = flow.addPartitioner(name: stream.name, count: n, dealsByLoad: stateless) {
                    let hasher = KeyHasher(key: key, compiler: key.compiler)
                    return { hasher.hash($0) }
                }
                var workers: [Dataflow.NodeID] = []
                for i in 0..<n {
                    let w = worker(i)
                    flow.connect(part, port: i, to: w)
                    workers.append(w)
                }
                streamNodes[stream.name] = (part, workers, stream)
            }
        }

        let storeNodes = try addStoreOutputs(flow, options, bound: outputPaths)

        func endpoints(_ ref: SourceRef) -> [(Dataflow.NodeID, Int)] {
            if let n = storeNodes[ref.base] { return ref.port == "rejected" ? [(n, SidePort.rejected)] : [] }
            if let n = inputNodes[ref.base] {
                return [(n, ref.port == nil ? SourcePort.main : SourcePort.malformed)]
            }
            if let s = streamNodes[ref.base] {
                guard let port = ref.port else { return s.workers.map { ($0, Dataflow.mainPort) } }
                guard let p = s.spec.sidePorts[port] else { return [] }
                return s.workers.map { ($0, p) }
            }
            return []
        }

        var read = Set<String>()
        for stream in streams {
            guard let node = streamNodes[stream.name]?.entry else { continue }
            for r in stream.from {
                for (src, port) in endpoints(r) { flow.connect(src, port: port, to: node) }
                read.insert(r.text)
            }
        }
        for output in outputs {
            if let node = storeNodes[output.name] {
                for r in output.from {
                    for (src, port) in endpoints(r) { flow.connect(src, port: port, to: node) }
                    read.insert(r.text)
                }
                continue
            }
            let target = targets[output.name] ?? .stdout
            let sink: any EventSink
            if let given = options.sinks[output.name] {
                sink = given
            } else {
                do {
                    sink = try JSONLinesSink(name: output.name, target: target)
                } catch {
                    throw RunError(isUsage: false, message: "output '\(output.name)': \(error)")
                }
            }
            let node = flow.addSink(sink)
            for r in output.from {
                for (src, port) in endpoints(r) { flow.connect(src, port: port, to: node) }
                read.insert(r.text)
            }
        }

        // Every side output nothing reads goes to the dead-letter counters (and file).
        let dlq: DeadLetterFile
        do {
            dlq = try DeadLetterFile(path: options.deadLetterPath)
        } catch {
            throw RunError(isUsage: false, message: "--dlq: \(error)")
        }
        var deadLetterNames: [String] = []
        var deadLetterSinks: [String: DeadLetterSink] = [:]
        var taps: [String: CollectingSink] = [:]
        func deadLetter(_ name: String, _ srcs: [Dataflow.NodeID], _ port: Int) {
            if options.tapAll {
                let tap = CollectingSink(name: name)
                taps[name] = tap
                let node = flow.addSink(tap)
                for src in srcs { flow.connect(src, port: port, to: node) }
                return
            }
            guard !read.contains(name) else { return }
            let sink = DeadLetterSink(port: name, file: dlq)
            let node = flow.addSink(sink)
            for src in srcs { flow.connect(src, port: port, to: node) }
            deadLetterNames.append(name)
            deadLetterSinks[name] = sink
        }
        if options.tapAll {
            for stream in streams {
                guard let workers = streamNodes[stream.name]?.workers else { continue }
                let tap = CollectingSink(name: stream.name)
                taps[stream.name] = tap
                let node = flow.addSink(tap)
                for w in workers { flow.connect(w, port: Dataflow.mainPort, to: node) }
            }
        }
        for input in inputs {
            if let n = inputNodes[input.name] { deadLetter("\(input.name).malformed", [n], SourcePort.malformed) }
        }
        for stream in streams {
            guard let s = streamNodes[stream.name] else { continue }
            for (name, port) in s.spec.sidePorts.sorted(by: { $0.value < $1.value }) {
                deadLetter("\(stream.name).\(name)", s.workers, port)
            }
        }
        for (name, node) in storeNodes.sorted(by: { $0.key < $1.key }) {
            deadLetter("\(name).rejected", [node], SidePort.rejected)
        }

        let execution = Execution(flow, timing: options.timing)
        return PipelineRun(
            execution: execution, deadLetterNames: deadLetterNames, deadLetterSinks: deadLetterSinks,
            deadLetterPath: options.deadLetterPath, taps: taps)
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
