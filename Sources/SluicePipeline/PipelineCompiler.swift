import SluiceCEL
import SluiceCore
import SluiceJSON
import SluiceSteps

/// Turns a pipeline's YAML node tree into a checked ``Pipeline``.
///
/// ```
///  YAMLNode ──sections──▶ inputs / streams (steps compiled by the registry) / outputs
///           ──graph─────▶ every `from:` resolved, cycles and dangling names reported
///           ──▶ Pipeline (immutable; each run instantiates fresh step state)
/// ```
/// The compiler never stops at the first mistake: each section is read as far as it can
/// be, every problem becomes a ``Diagnostic``, and the pipeline exists only when there
/// are no errors.
struct PipelineCompiler {
    static let topLevelKeys = [
        "name", "description", "params", "limits", "time", "tables", "inputs", "streams", "outputs", "steps", "tests",
        "metrics",
        "checkpoint",
    ]
    static let inputKinds = ["stdin", "file", "generate", "store", "kafka", "rabbitmq"]
    static let inputOptions = ["format", "duplicate_keys"]
    static let outputKinds = ["stdout", "stderr", "file", "store", "project", "kafka", "rabbitmq"]

    let file: String
    let baseDirectory: String
    let registry: StepRegistry
    let ctx = ConfigContext()
    var paramOverrides: [String: String]
    /// Table name to file path, replacing the pipeline's (`sluice test` `tables:`).
    var tableOverrides: [String: String] = [:]
    /// For a recompilation: the field index of the first compilation, whose readers
    /// record the offsets this one's steps read.
    var presetFieldIndex: FieldIndex?

    var name: String?
    var params = JSONObject()
    var inputs: [InputSpec] = []
    var streams: [StreamSpec] = []
    var outputs: [OutputSpec] = []
    var shortForm = false
    var expressions: ExpressionCompiler?
    var time: EventTimeSpec?
    /// `metrics:`, the address of the metrics endpoint (docs/observability.md).
    var metrics: MetricsAddress?
    /// `checkpoint: {dir:, every:}`.
    var checkpoint: CheckpointSpec?
    /// Step ids given with `id:`, and where.
    var stepIDs: [String: SourceLocation] = [:]

    init(file: String, baseDirectory: String, registry: StepRegistry, paramOverrides: [String: String]) {
        self.file = file
        self.baseDirectory = baseDirectory
        self.registry = registry
        self.paramOverrides = paramOverrides
    }

    /// Compiles `root`; `prior` holds what the YAML loader already reported (warnings).
    /// All diagnostics come back sorted by place, with the pipeline or without it.
    mutating func compile(_ root: YAMLNode, prior: Diagnostics) -> Result<Pipeline, Diagnostics> {
        let built = build(root)
        var all = prior
        all.items += ctx.diagnostics.items
        all.items.sort {
            ($0.location?.line ?? 0, $0.location?.column ?? 0) < ($1.location?.line ?? 0, $1.location?.column ?? 0)
        }
        guard built, !all.hasErrors else { return .failure(all) }
        // Compiling the same tree again gives independent copies of every expression and
        // schema, for partition workers (see `Pipeline.recompile`).
        let (file, baseDirectory, registry, paramOverrides, tableOverrides) =
            (file, baseDirectory, registry, paramOverrides, tableOverrides)
        let index = expressions?.fieldIndex
        let recompile: @Sendable () -> Pipeline? = {
            var again = PipelineCompiler(
                file: file, baseDirectory: baseDirectory, registry: registry, paramOverrides: paramOverrides)
            again.tableOverrides = tableOverrides
            again.presetFieldIndex = index
            if case .success(let p) = again.compile(root, prior: Diagnostics()) { return p }
            return nil
        }
        return .success(
            Pipeline(
                name: name ?? "pipeline", file: file, inputs: inputs, streams: streams, outputs: outputs, time: time,
                warnings: all, fieldIndex: index, recompile: recompile, metrics: metrics,
                checkpoint: checkpoint))
    }

    /// Reads every section and checks the graph; false when the file is not a mapping.
    mutating func build(_ root: YAMLNode) -> Bool {
        guard let top = ConfigMap(root, what: "pipeline", context: ctx) else { return false }
        name = top.string("name")
        _ = top.string("description")
        _ = top.node("tests")  // read by `sluice test`
        readParams(top)
        var live: [String: any LiveTable] = [:]
        let tables = readTables(top, live: &live)
        expressions = ExpressionCompiler(
            params: params, tables: tables, checkParams: true, costLimit: readLimits(top), liveTables: live)
        if let presetFieldIndex { expressions?.adoptFieldIndex(presetFieldIndex) }
        if let m = top.map("time") { readTime(m) }
        if let text = top.string("metrics"), let node = top.node("metrics") {
            switch MetricsAddress.parse(text) {
            case .success(let a): metrics = a
            case .failure(let e):
                ctx.error(
                    node.location, "\(e.text) is not a metrics address: \(e.reason)",
                    hint: "write PORT, HOST:PORT or [IPV6]:PORT, as in metrics: \"127.0.0.1:9464\"")
            }
        }
        if let m = top.map("checkpoint") {
            if let dir = m.string("dir", required: true) {
                checkpoint = CheckpointSpec(directory: resolve(dir), every: m.duration("every", allowZero: false))
            }
            m.finish(allowed: [])
        }
        let stepsNode = top.node("steps")
        let streamsNode = top.node("streams")
        if let stepsNode {
            shortForm = true
            if let s = streamsNode, let k = top.keyNode("streams") {
                ctx.error(
                    k.location, "a pipeline has either 'steps' (short form) or 'streams', not both",
                    hint: "move the steps into a stream, or drop 'streams'")
                _ = s
            }
            if let k = top.keyNode("inputs") {
                ctx.error(
                    k.location, "the short form ('steps') reads stdin; 'inputs' needs 'streams'",
                    hint: "use the full form: inputs, streams and outputs")
            }
            if let k = top.keyNode("outputs") {
                ctx.error(
                    k.location, "the short form ('steps') writes stdout; 'outputs' needs 'streams'",
                    hint: "use the full form: inputs, streams and outputs")
            }
            let here = stepsNode.location
            inputs = [InputSpec(name: "in", location: root.location, kind: .stdin, format: nil)]
            if let items = ctx.sequence(stepsNode, what: "'steps'") {
                streams = [
                    compileStream(
                        name: "main", location: here, from: [SourceRef(text: "in", location: here)], stepNodes: items)
                ]
            }
            outputs = [
                OutputSpec(
                    name: "out", location: root.location, from: [SourceRef(text: "main", location: here)], kind: .stdout
                )
            ]
        } else {
            if let m = top.map("inputs", required: true) { readInputs(m) }
            if let m = top.map("streams") { readStreams(m) }
            if let m = top.map("outputs", required: true) { readOutputs(m) }
        }
        top.finish(allowed: Self.topLevelKeys)
        checkGraph()
        return true
    }

    // MARK: Sections

    mutating func readParams(_ top: ConfigMap) {
        if let node = top.node("params") {
            if let p = node.mapping {
                for pair in p {
                    guard let k = pair.key.text else { continue }
                    if let v = ctx.json(pair.value, what: "param '\(k)'") { params[k] = v }
                }
            } else {
                ctx.typeMismatch(node, expected: "a mapping", what: "'params'")
            }
        }
        let declared = params.keys
        for (k, text) in paramOverrides.sorted(by: { $0.key < $1.key }) {
            // Only declared parameters can be set: a typo in `--set` (or a test's
            // `params:`) would otherwise be silently ignored.
            guard params[k] != nil else {
                ctx.error(
                    top.keyNode("params")?.location ?? top.location,
                    "cannot set parameter '\(k)': the pipeline declares no such parameter\(didYouMean(k, among: declared))",
                    hint: declared.isEmpty
                        ? "declare it under 'params:' with its default value"
                        : "declared parameters: \(quotedList(declared, or: false))")
                continue
            }
            // `--set k=v`: a value that reads as JSON (number, bool, quoted string, ...) is
            // that value; anything else is a string, so `--set country=US` works.
            let value = (try? JSONParser.parse(text)) ?? .string(text)
            params[k] = value
        }
    }

    /// `limits: {cel_cost: N}`: the cost budget of one expression evaluation.
    func readLimits(_ top: ConfigMap) -> Int {
        guard let m = top.map("limits") else { return CELOptions.defaultCostLimit }
        let cost = m.int("cel_cost", range: 1...Int(Int32.max) * 1000)
        m.finish()
        return cost ?? CELOptions.defaultCostLimit
    }

    /// `tables: {NAME: {file: PATH, key: FIELD, format: csv|jsonl|json}}`, loaded now so
    /// that `sluice check` reports a missing or broken table file.
    func readTables(_ top: ConfigMap, live: inout [String: any LiveTable]) -> [String: CELValue] {
        guard let m = top.map("tables") else { return [:] }
        var tables: [String: CELValue] = [:]
        for pair in m.pairs {
            guard let name = pair.key.text else { continue }
            m.allow([name])
            checkName(name, at: pair.key.location, what: "table")
            guard let c = ConfigMap(pair.value, what: "table '\(name)'", context: ctx) else { continue }
            if c.contains("projection") && tableOverrides[name] == nil {
                if let t = readProjectionTable(c, name: name) { live[name] = t }
                continue
            }
            // A projection's table replaced by a file (`sluice test`): keyed by `key`, or
            // the projection's default key column.
            let projection = c.contains("projection")
            if projection { c.allow(["sqlite", "refresh"]) }
            let file = projection ? nil : c.string("file", required: true)
            let key = c.string("key", required: !projection) ?? (projection ? "key" : nil)
            let format = c.oneOf(
                "format", Dictionary(uniqueKeysWithValues: TableLoader.Format.allCases.map { ($0.rawValue, $0) }))
            c.finish()
            guard let key, let path = tableOverrides[name] ?? file.map(resolve) else { continue }
            switch TableLoader.load(path: path, format: format, key: key) {
            case .success(let t): tables[name] = t
            case .failure(let e):
                ctx.error(c.node("file")?.location ?? pair.key.location, "table '\(name)': \(e.message)")
            }
        }
        return tables
    }

    mutating func readTime(_ m: ConfigMap) {
        guard let expressions else { return }
        let field = m.expression("field", required: true)
        let unit =
            m.oneOf("unit", Dictionary(uniqueKeysWithValues: EventTimeSpec.Unit.allCases.map { ($0.rawValue, $0) }))
            ?? .ms
        let lateness = m.duration("lateness") ?? .zero
        m.finish()
        guard let field, let compiled = expressions.compile(field, context: ctx) else { return }
        time = EventTimeSpec(
            expression: compiled, fieldName: isPlainFieldName(field.source) ? field.source : nil,
            unit: unit, lateness: lateness.milliseconds, compiler: expressions)
    }

    mutating func readInputs(_ m: ConfigMap) {
        for pair in m.pairs {
            guard let name = pair.key.text else { continue }
            m.allow([name])
            checkName(name, at: pair.key.location, what: "input")
            guard let conf = ConfigMap(pair.value, what: "input '\(name)'", context: ctx) else { continue }
            let format = conf.oneOf(
                "format", Dictionary(uniqueKeysWithValues: JSONInputFormat.allCases.map { ($0.rawValue, $0) }))
            let duplicateKeys = conf.oneOf(
                "duplicate_keys",
                Dictionary(uniqueKeysWithValues: DuplicateKeyPolicy.allCases.map { ($0.rawValue, $0) }))
            let kinds = conf.keys.filter { Self.inputKinds.contains($0) }
            guard kinds.count == 1, let kind = kinds.first else {
                if kinds.isEmpty {
                    ctx.error(
                        pair.value.location, "input '\(name)' needs a kind: \(quotedList(Self.inputKinds, or: true))",
                        hint: "e.g. '\(name): { file: { path: events.jsonl } }'")
                } else {
                    ctx.error(
                        pair.value.location, "input '\(name)' has more than one kind: \(quotedList(kinds, or: false))")
                }
                conf.allow(Self.inputKinds)
                conf.finish(allowed: Self.inputOptions)
                continue
            }
            var spec: InputSpec?
            switch kind {
            case "stdin":
                if let node = conf.node("stdin"), let c = ConfigMap(node, what: "stdin", context: ctx) {
                    c.finish(allowed: [])
                }
                spec = InputSpec(name: name, location: pair.key.location, kind: .stdin, format: format)
            case "generate":
                if let c = conf.map("generate"), let g = readGenerate(c) {
                    spec = InputSpec(name: name, location: pair.key.location, kind: .generate(g), format: nil)
                }
            case "store":
                if let c = conf.map("store"), let s = readStoreInput(c, name: name) {
                    spec = InputSpec(name: name, location: pair.key.location, kind: .store(s), format: nil)
                }
            case "kafka":
                if let c = conf.map("kafka"), let k = readKafkaInput(c, name: name) {
                    spec = InputSpec(name: name, location: pair.key.location, kind: .kafka(k), format: nil)
                }
            case "rabbitmq":
                if let c = conf.map("rabbitmq"), let r = readRabbitMQInput(c) {
                    spec = InputSpec(name: name, location: pair.key.location, kind: .rabbitmq(r), format: nil)
                }
            default:
                if let paths = readFilePaths(conf.node("file"), what: "file") {
                    spec = InputSpec(name: name, location: pair.key.location, kind: .files(paths), format: format)
                }
            }
            conf.finish(allowed: Self.inputOptions)
            spec?.duplicateKeys = duplicateKeys
            if let spec { inputs.append(spec) }
        }
        // Each partition of a scale-out input runs as a pipeline of its own: another
        // input would be read whole by every one of them.
        for input in inputs where inputs.count > 1 {
            if case .kafka(let k) = input.kind, k.scaleOut {
                ctx.error(
                    input.location,
                    "kafka input '\(input.name)' has 'scale_out: true', which runs each of its partitions as a pipeline of its own, so it must be the pipeline's only input",
                    hint: "run the other inputs in a pipeline of their own")
            }
        }
    }

    func readGenerate(_ c: ConfigMap) -> GenerateSpec? {
        let count = c.int("count", range: 0...Int.max)
        let rate = c.int("rate", range: 1...100_000_000)
        let seed = c.int("seed", range: 0...Int.max) ?? 42
        var sources: [(String, String)] = []
        let env = GenerateSpec.environment(state: GeneratorState(seed: 0))
        if let fields = c.node("fields", required: true) {
            if let pairs = fields.mapping {
                for pair in pairs {
                    guard let k = pair.key.text, let e = ctx.expression(pair.value, what: "field '\(k)' of 'generate'")
                    else { continue }
                    do {
                        let program = try env.compile(e.source)
                        try ExpressionCompiler.checkParams(program, source: e.source, declared: params.keys)
                        sources.append((k, e.source))
                    } catch {
                        let cut = e.node.scalar?.style == .plain && ExpressionCompiler.hasUnclosedBracket(e.source)
                        ctx.error(
                            e.location(ofOffset: error.offset), "in expression: \(error.message)",
                            hint: cut ? ExpressionCompiler.flowCommaHint : nil)
                    }
                }
                if pairs.isEmpty { ctx.error(fields.location, "'fields' of 'generate' is empty") }
            } else {
                ctx.typeMismatch(
                    fields, expected: "a mapping of field names to expressions", what: "'fields' of 'generate'")
            }
        }
        c.finish()
        guard !sources.isEmpty else { return nil }
        return GenerateSpec(
            count: count, rate: rate, seed: UInt64(seed), fieldSources: sources, params: CELValue(json: .object(params))
        )
    }

    /// `file: PATH`, `file: {path: PATH}` or `file: {paths: [...]}`; globs allowed.
    func readFilePaths(_ node: YAMLNode?, what: String) -> [String]? {
        guard let node else { return nil }
        if let s = node.text, node.mapping == nil { return [resolve(s)] }
        guard let c = ConfigMap(node, what: what, context: ctx) else { return nil }
        var paths: [String] = []
        if let p = c.string("path") { paths.append(resolve(p)) }
        if let ps = c.stringList("paths") { paths += ps.map(resolve) }
        if paths.isEmpty { ctx.error(node.location, "'\(what)' needs 'path' (or 'paths')") }
        c.finish(allowed: [])
        return paths.isEmpty ? nil : paths
    }

    func resolve(_ path: String) -> String {
        if path.hasPrefix("/") || baseDirectory.isEmpty || path == "-" { return path }
        return baseDirectory + "/" + path
    }

    mutating func readStreams(_ m: ConfigMap) {
        for pair in m.pairs {
            guard let name = pair.key.text else { continue }
            m.allow([name])
            checkName(name, at: pair.key.location, what: "stream")
            guard let conf = ConfigMap(pair.value, what: "stream '\(name)'", context: ctx) else { continue }
            let from = readFrom(conf, what: "stream '\(name)'")
            let items = conf.sequence("steps") ?? []
            let parallelism = conf.int("parallelism", range: 1...256)
            let keyExpr = conf.expression("key")
            conf.finish(allowed: [])
            var stream = compileStream(name: name, location: pair.key.location, from: from, stepNodes: items)
            if let keyExpr, let expressions { stream.key = expressions.compile(keyExpr, context: ctx) }
            if let parallelism {
                stream.parallelism = parallelism
                if parallelism > 1 && keyExpr == nil, let k = conf.keyNode("parallelism") {
                    ctx.error(
                        k.location, "stream '\(name)' has 'parallelism' but no 'key'",
                        hint: "partitions split by key, so that each key's events stay in order; add 'key: FIELD'")
                }
            }
            streams.append(stream)
        }
    }

    func readFrom(_ conf: ConfigMap, what: String) -> [SourceRef] {
        guard let node = conf.node("from", required: true) else { return [] }
        if let items = node.sequence {
            return items.compactMap { item in
                ctx.string(item, what: "'from' of \(what)").map { SourceRef(text: $0, location: item.location) }
            }
        }
        guard let s = ctx.string(node, what: "'from' of \(what)") else { return [] }
        return [SourceRef(text: s, location: node.location)]
    }

    mutating func readOutputs(_ m: ConfigMap) {
        var files: [String: SourceLocation] = [:]
        for pair in m.pairs {
            guard let name = pair.key.text else { continue }
            m.allow([name])
            checkName(name, at: pair.key.location, what: "output")
            guard let conf = ConfigMap(pair.value, what: "output '\(name)'", context: ctx) else { continue }
            let from = readFrom(conf, what: "output '\(name)'")
            let kinds = conf.keys.filter { Self.outputKinds.contains($0) }
            conf.allow(Self.outputKinds)
            guard kinds.count == 1, let kind = kinds.first else {
                if kinds.isEmpty {
                    ctx.error(
                        pair.value.location, "output '\(name)' needs a kind: \(quotedList(Self.outputKinds, or: true))",
                        hint: "e.g. '\(name): { from: [main], stdout: {} }'")
                } else {
                    ctx.error(
                        pair.value.location, "output '\(name)' has more than one kind: \(quotedList(kinds, or: false))")
                }
                conf.finish(allowed: [])
                continue
            }
            var spec: OutputSpec?
            switch kind {
            case "stdout", "stderr":
                if let node = conf.node(kind), let c = ConfigMap(node, what: kind, context: ctx) {
                    c.finish(allowed: [])
                }
                spec = OutputSpec(
                    name: name, location: pair.key.location, from: from, kind: kind == "stdout" ? .stdout : .stderr)
            case "store":
                if let c = conf.map("store"), let (location, store) = readStoreOutput(c, name: name) {
                    spec = OutputSpec(
                        name: name, location: pair.key.location, from: from, kind: .store(location), store: store)
                }
            case "project":
                if let c = conf.map("project"), let (path, projection) = readProjectOutput(c, name: name) {
                    spec = OutputSpec(
                        name: name, location: pair.key.location, from: from, kind: .store(.sqlite(path)),
                        project: projection)
                }
            case "kafka":
                if let c = conf.map("kafka"), let k = readKafkaOutput(c, name: name) {
                    spec = OutputSpec(
                        name: name, location: pair.key.location, from: from, kind: .kafka(topic: k.topicText), kafka: k)
                }
            case "rabbitmq":
                if let c = conf.map("rabbitmq"), let r = readRabbitMQOutput(c, name: name) {
                    spec = OutputSpec(
                        name: name, location: pair.key.location, from: from, kind: .rabbitmq, rabbitmq: r)
                }
            default:
                guard let node = conf.node("file") else { break }
                var path: String?
                var append = false
                if let s = node.text, node.mapping == nil {
                    path = s
                } else if let c = ConfigMap(node, what: "file", context: ctx) {
                    path = c.string("path", required: true)
                    append = c.bool("append") ?? false
                    c.finish(allowed: [])
                }
                if let path {
                    let full = resolve(path)
                    if let other = files[full] {
                        ctx.error(
                            node.location, "output '\(name)' writes '\(path)', which another output already writes",
                            hint: "first written at \(other); read both streams from one output instead")
                    } else {
                        files[full] = node.location
                    }
                    spec = OutputSpec(
                        name: name, location: pair.key.location, from: from, kind: .file(path: full, append: append))
                }
            }
            conf.finish(allowed: [])
            if let spec { outputs.append(spec) }
        }
    }

    func checkName(_ name: String, at location: SourceLocation, what: String) {
        if name.isEmpty || name.contains(".") || name.contains(" ") {
            ctx.error(
                location, "\(what) name '\(name)' must be a non-empty word without '.' or spaces",
                hint: "'.' separates a stream from its side output, as in 'clean.rejected'")
        }
    }

    // MARK: Steps

    mutating func compileStream(name: String, location: SourceLocation, from: [SourceRef], stepNodes: [YAMLNode])
        -> StreamSpec
    {
        var steps: [CompiledStep] = []
        var sidePorts: [String: Int] = ["rejected": SidePort.rejected]
        var nextPort = SidePort.firstCustom
        let kinds = registry.kinds
        var preceding: [StepSpec] = []
        for node in stepNodes {
            guard let spec = ctx.step(node, knownKinds: kinds, commonKeys: ["when", "name", "id"]) else { continue }
            // A stable id for checkpoints: `id:`, or the stream, position and kind.
            var id = "\(name)[\(preceding.count)].\(spec.kind)"
            if let p = spec.common.first(where: { $0.key.text == "id" }) {
                if let s = ctx.string(p.value, what: "'id' of step '\(spec.kind)'") {
                    if s.isEmpty {
                        ctx.error(p.value.location, "the 'id' of a step must not be empty")
                    } else if let first = stepIDs[s] {
                        ctx.error(
                            p.value.location, "duplicate step id '\(s)'",
                            hint:
                                "first used at \(first); each step's id names its state in checkpoints, so ids are unique"
                        )
                    } else {
                        stepIDs[s] = p.value.location
                    }
                    id = s
                }
            }
            defer { preceding.append(spec) }
            guard let def = registry.definition(spec.kind) else { continue }
            guard let expressions else { continue }
            let sc = StepCompileContext(
                spec: spec, context: ctx, baseDirectory: baseDirectory, expressions: expressions,
                hasEventTime: time != nil, streamName: name,
                allocatePort: { portName in
                    if let p = sidePorts[portName] { return p }
                    defer { nextPort += 1 }
                    sidePorts[portName] = nextPort
                    return nextPort
                })
            sc.precedingSteps = preceding
            let before = ctx.diagnostics.items.count
            let factory = def.compile(sc)
            for (n, p) in sc.declaredSidePorts { sidePorts[n] = p }
            guard var factory else {
                if ctx.diagnostics.items.count == before {
                    ctx.error(spec.kindLocation, "step '\(spec.kind)' could not be compiled")
                }
                continue
            }
            if let when = spec.when, let predicate = expressions.compile(when, context: ctx) {
                let inner = factory
                let stepName = spec.name ?? spec.kind
                factory = { [expressions] in
                    WhenStep(predicate: predicate, compiler: expressions, inner: inner(), stepName: stepName)
                }
            }
            steps.append(
                CompiledStep(
                    kind: spec.kind, name: spec.name ?? spec.kind, location: spec.kindLocation, factory: factory,
                    traits: def.traits, graphDetail: sc.graphDetail, id: id))
        }
        return StreamSpec(name: name, location: location, from: from, steps: steps, sidePorts: sidePorts)
    }

    // MARK: Graph

    func checkGraph() {
        let inputNames = Set(inputs.map(\.name))
        var streamIndex: [String: Int] = [:]
        for (i, s) in streams.enumerated() {
            if inputNames.contains(s.name) {
                ctx.error(s.location, "stream '\(s.name)' has the same name as an input")
            }
            if streamIndex[s.name] != nil { ctx.error(s.location, "duplicate stream name '\(s.name)'") }
            streamIndex[s.name] = i
        }
        // A `store` output has one side output, `OUTPUT.rejected` (version conflicts and
        // events whose stream, id or type cannot be computed); so has a `kafka` output
        // (messages that could not be delivered).
        let storeOutputs = Set(outputs.filter { $0.store != nil || $0.project != nil || $0.kafka != nil }.map(\.name))
        func noun(_ name: String) -> String {
            outputs.contains { $0.name == name && $0.kafka != nil } ? "kafka output" : "store output"
        }
        for o in outputs where storeOutputs.contains(o.name) {
            if inputNames.contains(o.name) || streamIndex[o.name] != nil {
                ctx.error(
                    o.location, "\(noun(o.name)) '\(o.name)' has the same name as an input or stream",
                    hint: "its side output is read as '\(o.name).rejected', so the name must be free")
            }
        }
        let known = Array(inputNames) + streams.map(\.name)

        func check(_ ref: SourceRef, reader: String) {
            if inputNames.contains(ref.base) {
                if let port = ref.port, port != "malformed" {
                    ctx.error(
                        ref.location, "input '\(ref.base)' has no side output '\(port)'",
                        hint: "an input has one side output: '\(ref.base).malformed'")
                }
            } else if storeOutputs.contains(ref.base), streamIndex[ref.base] == nil {
                if ref.port != "rejected" {
                    ctx.error(
                        ref.location, "\(noun(ref.base)) '\(ref.base)' can only be read as '\(ref.base).rejected'",
                        hint: noun(ref.base) == "kafka output"
                            ? "the events it could not deliver go there"
                            : "its rejected events (version conflicts, failed expressions) go there")
                }
            } else if let si = streamIndex[ref.base] {
                if let port = ref.port, streams[si].sidePorts[port] == nil {
                    let ports = streams[si].sidePorts.keys.sorted()
                    ctx.error(
                        ref.location,
                        "no step of stream '\(ref.base)' produces side output '\(port)'\(didYouMean(port, among: ports))",
                        hint: "stream '\(ref.base)' has: \(quotedList(ports.map { "\(ref.base).\($0)" }, or: false))")
                }
            } else {
                ctx.error(
                    ref.location, "unknown source '\(ref.text)' in \(reader)\(didYouMean(ref.base, among: known))",
                    hint: known.isEmpty ? nil : "sources here: \(quotedList(known.sorted(), or: false))")
            }
        }
        for s in streams {
            if s.from.isEmpty { continue }
            for r in s.from { check(r, reader: "stream '\(s.name)'") }
        }
        for o in outputs { for r in o.from { check(r, reader: "output '\(o.name)'") } }

        // Cycles: a stream that (through main or side outputs) reads itself.
        var state = Array(repeating: 0, count: streams.count)  // 0 new, 1 visiting, 2 done
        func visit(_ i: Int, _ path: [String]) {
            if state[i] == 2 { return }
            if state[i] == 1 {
                let cycle = (path + [streams[i].name]).drop { $0 != streams[i].name }
                ctx.error(
                    streams[i].location, "streams form a cycle: \(cycle.joined(separator: " -> "))",
                    hint: "a stream cannot read its own output, directly or through other streams")
                return
            }
            state[i] = 1
            for r in streams[i].from { if let j = streamIndex[r.base] { visit(j, path + [streams[i].name]) } }
            state[i] = 2
        }
        for i in streams.indices { visit(i, []) }
        // Through a store output: a stream that reads `OUT.rejected` cannot also feed OUT.
        for o in outputs where storeOutputs.contains(o.name) {
            for r in o.from where r.base == o.name {
                ctx.error(
                    r.location, "\(noun(o.name)) '\(o.name)' reads its own '\(r.text)': a cycle",
                    hint: "read '\(r.text)' in another output")
            }
            var upstream = Set<String>()
            var todo = o.from.map(\.base)
            while let n = todo.popLast() {
                guard upstream.insert(n).inserted, let i = streamIndex[n] else { continue }
                todo += streams[i].from.map(\.base)
            }
            for s in streams where upstream.contains(s.name) {
                for r in s.from where r.base == o.name {
                    ctx.error(
                        r.location,
                        "stream '\(s.name)' reads '\(r.text)' but also feeds \(noun(o.name)) '\(o.name)': a cycle",
                        hint: "read '\(r.text)' in a stream or output that does not feed '\(o.name)'")
                }
            }
        }

        // Unused streams and inputs: warnings, since nothing is lost (their events are
        // counted) but the pipeline is probably not what was meant.
        var read = Set<String>()
        for s in streams { for r in s.from where r.port == nil { read.insert(r.base) } }
        for o in outputs { for r in o.from where r.port == nil { read.insert(r.base) } }
        // A stream whose results are side outputs (a saga's `commands` and `log`) is used
        // when one of those is read; its error outputs alone do not count.
        var resultsRead = read
        for r in streams.flatMap(\.from) + outputs.flatMap(\.from) {
            if let p = r.port, !["rejected", "late", "malformed"].contains(p) { resultsRead.insert(r.base) }
        }
        for s in streams where !resultsRead.contains(s.name) {
            ctx.warning(
                s.location, "stream '\(s.name)' is not read by any output or stream",
                hint: "its events are counted and dropped; add it to an output's 'from'")
        }
        for i in inputs where !read.contains(i.name) && !shortForm {
            ctx.warning(i.location, "input '\(i.name)' is not read by any stream or output")
        }
    }
}
