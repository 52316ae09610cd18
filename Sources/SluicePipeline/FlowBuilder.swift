import SluiceConnectors
import SluiceCore
import SluiceJSON
import SluiceKafka
import SluiceRabbitMQ
import SluiceSteps
import SluiceStore

/// Turns a compiled pipeline and the options of one run into the ``Dataflow`` that run
/// executes: one source per input, each stream as one node or as a partitioner feeding
/// `parallelism` copies, one sink per output, and a dead-letter sink (or, for tests, a
/// tap) on every side output nothing reads. Nothing runs here: the flow is a value
/// that ``Execution`` plans (``ExecutionPlan``) and starts.
///
/// ```
///  input ─▶ source ──▶ stream ──────────────────────────▶ sink (output)
///                 ╲ malformed ─▶ dead-letter sink
///  input ─▶ source ──▶ partitioner ─port i─▶ stream#i ──▶ sink (output)
///                                              ╲ side port ─▶ dead-letter sink
/// ```
package struct FlowBuilder {
    /// What was built: the flow, and what the run reports about it.
    package struct Built {
        package var flow: Dataflow
        /// Side outputs nothing reads, in the order their sinks were added.
        package var deadLetterNames: [String]
        package var deadLetterSinks: [String: DeadLetterSink]
        /// With ``RunOptions/tapAll``: every stream and side output, by name.
        package var taps: [String: CollectingSink]
        /// With checkpoints: the coordinator, and the checkpoint the run resumes from.
        package var checkpoints: CheckpointCoordinator? = nil
        package var restored: Checkpoint? = nil
    }

    let pipeline: Pipeline
    let options: RunOptions
    /// How often a run without checkpoints whose input acks after durable output (a
    /// `rabbitmq` input) makes its outputs durable: 200 ms, in nanoseconds. The input
    /// also asks for a round when half its prefetch window waits.
    static let flushOnlyInterval: UInt64 = 200_000_000

    package init(pipeline: Pipeline, options: RunOptions) {
        self.pipeline = pipeline
        self.options = options
    }

    /// Binds inputs and outputs, checks files for clashes, opens every output and builds
    /// the flow.
    package func build() throws(RunError) -> Built {
        let options = self.options
        let flow = Dataflow()
        if pipeline.time == nil { flow.processingTimeTick = 200_000_000 }
        let inputPaths = try pipeline.bind(options.inputs, names: pipeline.inputNames, what: "input")
        let outputPaths = try pipeline.bind(options.outputs, names: pipeline.outputNames, what: "output")
        try pipeline.checkEmbedderBindings(options, inputPaths: inputPaths, outputPaths: outputPaths)

        // Where each input reads (nil: a generator) and each output writes, checked for
        // clashes before any output is opened (opening truncates).
        var locations: [String: FileSource.Location] = [:]
        for input in pipeline.inputs where options.sources[input.name] == nil {
            if let p = inputPaths[input.name] {
                // Expanded like the paths of `file:` (`--input 'logs/*.jsonl'`).
                locations[input.name] = p == "-" ? .stdin : .files(expandGlobs([p]))
                continue
            }
            switch input.kind {
            case .stdin: locations[input.name] = .stdin
            case .files(let patterns): locations[input.name] = .files(expandGlobs(patterns))
            case .generate, .store, .kafka, .rabbitmq: break
            }
        }
        var targets: [String: JSONLinesSink.Target] = [:]
        for output in pipeline.outputs where options.sinks[output.name] == nil {
            if let p = outputPaths[output.name] {
                targets[output.name] = p == "-" ? .stdout : .file(path: p, append: false)
                continue
            }
            switch output.kind {
            case .stdout: targets[output.name] = .stdout
            case .stderr: targets[output.name] = .stderr
            case .file(let path, let append): targets[output.name] = .file(path: path, append: append)
            case .store: break  // appended by a node of its own (`addStoreOutputs`)
            case .kafka: break
            case .rabbitmq: break  // published by a `RabbitMQSink`
            }
        }
        try pipeline.checkFiles(locations, targets, deadLetterPath: options.deadLetterPath)
        let checkpointing = try checkpointSetup(locations)
        let restored = checkpointing?.restored

        var inputNodes: [String: Dataflow.NodeID] = [:]
        // An input that acks what the outputs have made durable: without checkpoints,
        // the run still sends barriers, which only flush (``flushOnlyInterval``).
        var acksAfterFlush = false
        for input in pipeline.inputs {
            var generator: GenerateSpec?
            var store: StoreReadSpec?
            var kafka: KafkaInputSpec?
            var rabbitmq: RabbitMQInputConfig?
            if inputPaths[input.name] == nil {
                if case .generate(let g) = input.kind { generator = g }
                if case .store(let s) = input.kind { store = s }
                if case .kafka(var k) = input.kind {
                    k.partition = options.kafkaPartition
                    kafka = k
                }
                if case .rabbitmq(let r) = input.kind { rabbitmq = r }
            }
            let location = locations[input.name] ?? .stdin
            let format = options.format ?? input.format ?? .jsonl
            let source: any EventSource
            if let given = options.sources[input.name] {
                source = given
            } else if let kafka {
                source = KafkaSource(
                    name: input.name, spec: kafka, maxDepth: options.limits.maxDepth,
                    maxEventSize: options.limits.maxEventSize)
            } else if let rabbitmq {
                // Deliveries are acked when a checkpoint covering their results is on disk,
                // or without checkpoints, when every output has made them durable.
                source = RabbitMQSource(name: input.name, config: rabbitmq)
                acksAfterFlush = true
            } else if let store {
                source = StoreSource(name: input.name, spec: store)
            } else if let generator {
                source = GenerateSource(name: input.name, spec: generator, countOverride: options.generateCount)
            } else {
                source = FileSource(
                    name: input.name, location: location, format: format, limits: options.limits,
                    fieldIndex: pipeline.fieldIndex,
                    duplicateKeys: options.duplicateKeys ?? input.duplicateKeys ?? .reject)
            }
            let node = flow.addSource(source, time: pipeline.time?.policy() ?? .processingTime)
            inputNodes[input.name] = node
            if let saved = restored?.sources[input.name] {
                flow.restoredSources[node.index] = saved
                if let position = saved.position, let source = source as? any CheckpointedSource {
                    do throws(SourceError) {
                        try source.resume(from: position)
                    } catch {
                        throw RunError(.resource, error.message)
                    }
                }
            }
        }
        // A stream is one node, or with parallelism a partitioner feeding N nodes that
        // each run their own copy of the steps: `entry` is where inputs connect,
        // `workers` where outputs leave.
        var streamNodes: [String: (entry: Dataflow.NodeID, workers: [Dataflow.NodeID], spec: StreamSpec)] = [:]
        for stream in pipeline.streams {
            var names: [Int: String] = [:]
            for (n, p) in stream.sidePorts { names[p] = "\(stream.name).\(n)" }
            let n = stream.key == nil ? 1 : (options.parallelism ?? stream.parallelism)
            let old = restored?.stages(ofStream: stream.name) ?? []
            func worker(_ i: Int) -> Dataflow.NodeID {
                defer {
                    if checkpointing != nil {
                        // Copy for copy at the same parallelism; else every old copy's
                        // state, of which the copy keeps the key groups it now owns.
                        let parts =
                            old.count == n && old.allSatisfy({ $0.copies == n }) ? old.filter { $0.copy == i } : old
                        flow.stages[flow.nodeSummaries.count - 1] = StageIdentity(
                            stream: stream.name, copy: i, copies: n, keyText: stream.key?.source, restore: parts)
                    }
                }
                // Built on the worker's own thread. Worker 0 uses this compilation, the
                // others their own (see `recompile`).
                let (steps, name, recompile) = (stream.steps, stream.name, pipeline.recompile)
                return flow.addStream(name: n == 1 ? stream.name : "\(stream.name)#\(i)", portNames: names) {
                    var specs = steps
                    if i > 0, let copy = recompile?()?.streams.first(where: { $0.name == name }),
                        copy.steps.count == specs.count
                    {
                        specs = copy.steps
                    }
                    return StepChain(
                        specs.map {
                            StepChain.Entry(
                                step: $0.factory(), name: $0.name, kind: $0.kind, traits: $0.traits, id: $0.id)
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

        var storeNodes = try pipeline.addStoreOutputs(flow, options, bound: outputPaths)
        storeNodes.merge(try pipeline.addProjectOutputs(flow, options, bound: outputPaths)) { a, _ in a }
        storeNodes.merge(try pipeline.addKafkaOutputs(flow, options, bound: outputPaths)) { a, _ in a }

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
        for stream in pipeline.streams {
            guard let node = streamNodes[stream.name]?.entry else { continue }
            for r in stream.from {
                for (src, port) in endpoints(r) { flow.connect(src, port: port, to: node) }
                read.insert(r.text)
            }
        }
        for output in pipeline.outputs {
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
            } else if let r = output.rabbitmq, outputPaths[output.name] == nil {
                sink = r.makeSink(name: output.name)
            } else {
                do {
                    sink = try JSONLinesSink(
                        name: output.name, target: target, resumeAt: restored?.sinks[output.name])
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
            dlq = try DeadLetterFile(
                path: options.deadLetterPath, resumeAt: restored?.sinks[DeadLetterCollector.sinkName])
        } catch {
            throw RunError(isUsage: false, message: "--dlq: \(error)")
        }
        var deadLetterNames: [String] = []
        var deadLetterSinks: [String: DeadLetterSink] = [:]
        var taps: [String: CollectingSink] = [:]
        var collected: [(Dataflow.NodeID, Int, DeadLetterSink)] = []
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
            deadLetterNames.append(name)
            if checkpointing != nil {
                // One sink for all of them, added at the end (``DeadLetterCollector``).
                for src in srcs { collected.append((src, port, sink)) }
                deadLetterSinks[name] = sink
                return
            }
            let node = flow.addSink(sink)
            for src in srcs { flow.connect(src, port: port, to: node) }
            deadLetterSinks[name] = sink
        }
        if options.tapAll {
            for stream in pipeline.streams {
                guard let workers = streamNodes[stream.name]?.workers else { continue }
                let tap = CollectingSink(name: stream.name)
                taps[stream.name] = tap
                let node = flow.addSink(tap)
                for w in workers { flow.connect(w, port: Dataflow.mainPort, to: node) }
            }
        }
        for input in pipeline.inputs {
            if let n = inputNodes[input.name] { deadLetter("\(input.name).malformed", [n], SourcePort.malformed) }
        }
        for stream in pipeline.streams {
            guard let s = streamNodes[stream.name] else { continue }
            for (name, port) in s.spec.sidePorts.sorted(by: { $0.value < $1.value }) {
                deadLetter("\(stream.name).\(name)", s.workers, port)
            }
        }
        for (name, node) in storeNodes.sorted(by: { $0.key < $1.key }) {
            deadLetter("\(name).rejected", [node], SidePort.rejected)
        }

        if !collected.isEmpty {
            let node = flow.addSink(DeadLetterCollector(file: dlq, inputs: collected.map(\.2)))
            for (src, port, _) in collected { flow.connect(src, port: port, to: node) }
        }
        var built = Built(flow: flow, deadLetterNames: deadLetterNames, deadLetterSinks: deadLetterSinks, taps: taps)
        if let checkpointing {
            // Store outputs are one-step streams too: they take part, with no state.
            for (i, node) in flow.nodeSummaries.enumerated() where node.hasPrefix("stream ") && flow.stages[i] == nil {
                flow.stages[i] = StageIdentity(stream: String(node.dropFirst("stream ".count)))
            }
            built.checkpoints = CheckpointCoordinator(
                config: checkpointing.config, store: checkpointing.store, after: restored?.id ?? 0, warn: options.warn)
            built.restored = restored
        } else if acksAfterFlush {
            built.checkpoints = CheckpointCoordinator(
                config: CheckpointConfig(
                    directory: "", interval: Self.flushOnlyInterval, fingerprint: pipeline.fingerprint),
                store: nil, warn: options.warn)
        }
        return built
    }
}
