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
        let start =
            c.oneOf(
                "start", Dictionary(uniqueKeysWithValues: KafkaStart.allCases.map { ($0.rawValue, $0) })) ?? .committed
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

    /// `kafka: {brokers, topic, key, connect_timeout, client}`.
    func readKafkaOutput(_ c: ConfigMap, name: String) -> KafkaOutputSpec? {
        let what = "kafka output '\(name)'"
        let brokers = readBrokers(c, what: what)
        let topic = c.string("topic", required: true)
        if topic?.isEmpty == true { ctx.error(c.node("topic")?.location ?? c.location, "\(what): 'topic' is empty") }
        let keyNode = c.expression("key")
        let timeout = readConnectTimeout(c)
        let client = readClientOptions(c, what: what)
        c.finish()
        var key: Expression?
        if let keyNode {
            guard let expressions, let k = expressions.compile(keyNode, context: ctx) else { return nil }
            key = k
        }
        guard let brokers, let topic, !topic.isEmpty else { return nil }
        return KafkaOutputSpec(brokers: brokers, topic: topic, key: key, client: client, connectTimeoutMs: timeout)
    }
}
