import SluiceCEL
import SluiceCore
import SluiceKafka
import SluiceSteps

/// `kafka:` inputs and outputs (docs/kafka.md). Compiling reads only the YAML; the
/// brokers are contacted when the run starts.
extension PipelineCompiler {
    /// `brokers: "host:port[,host:port]"`, required and not empty.
    func readBrokers(_ c: ConfigMap, what: String) -> String? {
        guard let b = c.string("brokers", required: true) else { return nil }
        if b.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) || b.isEmpty {
            ctx.error(
                c.node("brokers")?.location ?? c.location, "\(what): 'brokers' needs host:port, got '\(b)'",
                hint: "e.g. 'brokers: \"127.0.0.1:9092\"'")
            return nil
        }
        return b
    }

    /// `client: {librdkafka.setting: value, ...}`, passed through as text.
    func readClientOptions(_ c: ConfigMap, what: String) -> [String: String] {
        guard let m = c.map("client") else { return [:] }
        var out: [String: String] = [:]
        for pair in m.pairs {
            guard let k = pair.key.text else { continue }
            m.allow([k])
            if let v = ctx.string(pair.value, what: "'\(k)' of 'client' in \(what)") { out[k] = v }
        }
        m.finish()
        return out
    }

    /// `connect_timeout: DURATION` in milliseconds (10 s when absent).
    func readConnectTimeout(_ c: ConfigMap) -> Int32 {
        guard let d = c.duration("connect_timeout", allowZero: false) else { return 10_000 }
        return Int32(clamping: max(1, d.milliseconds))
    }

    /// `start: committed | earliest | latest | {timestamp: RFC 3339}` (committed when absent).
    func readKafkaStart(_ c: ConfigMap, what: String) -> KafkaStart {
        guard let node = c.node("start") else { return .committed }
        guard node.mapping != nil else {
            return c.oneOf("start", ["committed": KafkaStart.committed, "earliest": .earliest, "latest": .latest])
                ?? .committed
        }
        guard let m = ConfigMap(node, what: "start", context: ctx) else { return .committed }
        defer { m.finish() }
        guard let text = m.string("timestamp", required: true), let t = m.node("timestamp") else { return .committed }
        do {
            let ts = try CELTimestamp(parsing: text)
            return .timestamp(ts.seconds * 1000 + Int64(ts.nanos) / 1_000_000)
        } catch {
            ctx.error(
                t.location, "\(what): start timestamp '\(text)' is not an RFC 3339 time",
                hint: "e.g. 'start: {timestamp: \"2026-12-01T00:00:00Z\"}'")
            return .committed
        }
    }

    /// `kafka: {brokers, topics, group, start, metadata, connect_timeout, idle_timeout, scale_out, client}`.
    func readKafkaInput(_ c: ConfigMap, name: String) -> KafkaInputSpec? {
        let what = "kafka input '\(name)'"
        let brokers = readBrokers(c, what: what)
        let topics = c.stringList("topics", required: true)
        if let t = topics, t.isEmpty || t.contains(where: \.isEmpty) {
            ctx.error(c.node("topics")?.location ?? c.location, "\(what): 'topics' needs at least one topic name")
        }
        let group = c.string("group", required: true)
        if group?.isEmpty == true {
            ctx.error(c.node("group")?.location ?? c.location, "\(what): 'group' is empty")
        }
        let start = readKafkaStart(c, what: what)
        let metadata = c.string("metadata")
        let timeout = readConnectTimeout(c)
        let idle = c.duration("idle_timeout", allowZero: false).map { max(1, $0.milliseconds) }
        if idle != nil, time == nil {
            ctx.warning(
                c.node("idle_timeout")?.location ?? c.location,
                "\(what): 'idle_timeout' has no effect without event time",
                hint: "it lets a silent partition stop holding the watermark back; add 'time: { field: ... }'")
        }
        let scaleOut = c.bool("scale_out") ?? false
        if scaleOut, case .timestamp = start {
            ctx.error(
                c.node("start")?.location ?? c.location,
                "\(what): 'start: {timestamp: ...}' cannot be used with 'scale_out'",
                hint:
                    "each partition's process starts from its checkpoint or the group's offset; use 'earliest', 'latest' or 'committed'"
            )
        }
        let client = readClientOptions(c, what: what)
        c.finish()
        guard let brokers, let topics, !topics.isEmpty, !topics.contains(where: \.isEmpty), let group, !group.isEmpty
        else { return nil }
        var spec = KafkaInputSpec(
            brokers: brokers, topics: topics, group: group, start: start, client: client, metadata: metadata,
            connectTimeoutMs: timeout, idleTimeoutMs: idle)
        spec.scaleOut = scaleOut
        return spec
    }

    /// Why `name` cannot be a Kafka topic (the broker's rule: at most 249 of letters,
    /// digits, `.`, `_`, `-`, and not `.` or `..`); nil when it can.
    static func topicNameProblem(_ name: String) -> String? {
        if name == "." || name == ".." { return "'.' and '..' are reserved" }
        if name.utf8.count > 249 { return "longer than 249 characters" }
        if let c = name.unicodeScalars.first(where: {
            !(("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                || ".-_".unicodeScalars.contains($0))
        }) {
            return "'\(c)' is not allowed (letters, digits, '.', '_' and '-' are)"
        }
        return nil
    }

    /// `kafka: {brokers, topic, key, headers, connect_timeout, client}`; `topic` is a name,
    /// or `{expr: CEL}` for a topic per event.
    func readKafkaOutput(_ c: ConfigMap, name: String) -> KafkaOutputSpec? {
        let what = "kafka output '\(name)'"
        let brokers = readBrokers(c, what: what)
        var topic: KafkaTopic?
        var topicFailed = false
        if let node = c.node("topic", required: true) {
            if node.mapping != nil {
                if let m = ConfigMap(node, what: "topic", context: ctx) {
                    let e = m.expression("expr", required: true)
                    m.finish()
                    if let e, let expressions, let compiled = expressions.compile(e, context: ctx) {
                        topic = .expression(compiled)
                    } else {
                        topicFailed = true
                    }
                }
            } else if let t = c.string("topic") {
                if t.isEmpty {
                    ctx.error(node.location, "\(what): 'topic' is empty")
                } else if let bad = Self.topicNameProblem(t) {
                    ctx.error(
                        node.location, "\(what): '\(t)' is not a Kafka topic name: \(bad)",
                        hint: "for a topic per event write 'topic: {expr: CEL}'")
                } else {
                    topic = .constant(t)
                }
            }
        }
        let keyNode = c.expression("key")
        var headerNodes: [(String, ConfigExpression)] = []
        if let m = c.map("headers") {
            for pair in m.pairs {
                guard let k = pair.key.text else { continue }
                m.allow([k])
                if k.isEmpty { ctx.error(pair.key.location, "\(what): a header name is empty") }
                if let e = ctx.expression(pair.value, what: "header '\(k)' of \(what)") { headerNodes.append((k, e)) }
            }
            m.finish()
        }
        let timeout = readConnectTimeout(c)
        let client = readClientOptions(c, what: what)
        c.finish()
        var key: Expression?
        if let keyNode {
            guard let expressions, let k = expressions.compile(keyNode, context: ctx) else { return nil }
            key = k
        }
        var headers: [(name: String, value: Expression)] = []
        for (k, node) in headerNodes {
            guard let expressions, let e = expressions.compile(node, context: ctx) else { return nil }
            headers.append((k, e))
        }
        guard let brokers, let topic, !topicFailed, !headers.contains(where: { $0.name.isEmpty }) else { return nil }
        return KafkaOutputSpec(
            brokers: brokers, topic: topic, key: key, headers: headers, client: client, connectTimeoutMs: timeout)
    }
}

extension Pipeline {
    /// The nodes that produce to Kafka: one per `kafka` output that is neither bound to a
    /// file nor replaced by a sink of the caller's, each a one-step stream whose
    /// `rejected` port is `OUTPUT.rejected` (the events that could not be delivered). The
    /// producers connect now, so unreachable brokers fail the start.
    func addKafkaOutputs(_ flow: Dataflow, _ options: RunOptions, bound: [String: String]) throws(RunError) -> [String:
        Dataflow.NodeID]
    {
        var nodes: [String: Dataflow.NodeID] = [:]
        for output in outputs {
            guard let spec = output.kafka, bound[output.name] == nil, options.sinks[output.name] == nil else {
                continue
            }
            let step: KafkaOutputStep
            do throws(KafkaError) {
                step = try KafkaOutputStep(name: output.name, spec: spec)
            } catch {
                throw RunError(.resource, "output '\(output.name)': \(error.message)")
            }
            nodes[output.name] = flow.addStream(
                name: output.name,
                chain: StepChain([StepChain.Entry(step: step, name: output.name, kind: "kafka")]),
                portNames: [SidePort.rejected: "\(output.name).rejected"])
        }
        return nodes
    }
}
