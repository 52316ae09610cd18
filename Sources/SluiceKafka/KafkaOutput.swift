import SluiceCore
import SluiceJSON
import SluiceSteps

/// Where a Kafka output's messages go: one topic, or a topic per event.
package enum KafkaTopic: Sendable {
    /// `topic: NAME`.
    case constant(String)
    /// `topic: {expr: CEL}`: the topic of each event; an event for which it fails, or
    /// gives no non-empty string, goes to `OUTPUT.rejected`.
    case expression(Expression)
}

/// `outputs: {NAME: {from: [...], kafka: {...}}}` as the pipeline wrote it.
package struct KafkaOutputSpec: Sendable {
    package var brokers: String
    package var topic: KafkaTopic
    /// `key:`: the message key (a string as its text, a number or bool as JSON); nil, a
    /// missing field, null or a failed evaluation give no key.
    package var key: Expression?
    /// `headers: {NAME: CEL}`: a header per name, its value as `key` says; one whose
    /// value is null, missing or fails is left out.
    package var headers: [(name: String, value: Expression)]
    /// `client:` settings for librdkafka; they override the defaults (`acks=all`,
    /// `enable.idempotence=true`), and `linger.ms`, `batch.size` go here too.
    package var client: [String: String]
    package var connectTimeoutMs: Int32

    package init(
        brokers: String, topic: KafkaTopic, key: Expression? = nil, headers: [(name: String, value: Expression)] = [],
        client: [String: String] = [:], connectTimeoutMs: Int32 = 10_000
    ) {
        self.brokers = brokers
        self.topic = topic
        self.key = key
        self.headers = headers
        self.client = client
        self.connectTimeoutMs = connectTimeoutMs
    }

    /// The topic's name, or its expression's text, for messages and the graph.
    package var topicText: String {
        switch topic {
        case .constant(let t): t
        case .expression(let e): "{expr: \(e.source)}"
        }
    }
}

/// The work of a `kafka` output, as a one-step stream whose `rejected` port is
/// `OUTPUT.rejected`: writes each event as a JSON message (its original bytes when it
/// was not changed) and keeps it until librdkafka's delivery report comes back.
///
/// librdkafka retries a failed delivery until `message.timeout.ms`; a message that still
/// failed, one librdkafka refused outright (larger than `message.max.bytes`), and an
/// event whose topic expression gave no topic go to `rejected` with the reason:
/// `{"error": {"step": OUTPUT, "message": ..., "topic": ...}, "event": ...}`. Before a
/// checkpoint barrier passes and at the end (``drain(into:)``) it waits for every
/// delivery report, so a checkpoint never covers a message not yet in Kafka or not yet
/// reported. A fatal producer error (its idempotence broken) stops the run.
package final class KafkaOutputStep: DrainingStep {
    let name: String
    let spec: KafkaOutputSpec
    let producer: KafkaProducer
    let activation: EventActivation?
    /// Events produced and not yet reported, with their topic, in slots: a message's id
    /// is its slot's index + 1. A slot is reused once its report came (``free``), so a
    /// report finds its event without hashing, and the table grows no larger than the
    /// most messages in flight at once.
    var inFlight: [(event: Event, topic: String)?] = []
    var free: [Int] = []
    var scratch: [UInt8] = []
    var keyBytes: [UInt8] = []
    private(set) var produced = 0
    private(set) var failed = 0

    /// Connects (the brokers must answer within `connect_timeout`).
    package init(name: String, spec: KafkaOutputSpec) throws(KafkaError) {
        self.name = name
        self.spec = spec
        producer = try KafkaProducer(
            brokers: spec.brokers, client: spec.client.sorted { $0.key < $1.key },
            connectTimeoutMs: spec.connectTimeoutMs)
        var all = spec.headers.map(\.value)
        if let k = spec.key { all.append(k) }
        if case .expression(let t) = spec.topic { all.append(t) }
        activation = all.first.map { $0.compiler.activation(prefetching: all) }
    }

    deinit { producer.close() }

    package var counters: [(name: String, value: Int)] { [("produced", produced), ("failed", failed)] }

    package func process(_ event: Event, into out: inout StepOutput) {
        process(batch: [event], into: &out)
    }

    package func process(batch events: [Event], into out: inout StepOutput) {
        for e in events {
            activation?.event = e
            let topic: String
            switch spec.topic {
            case .constant(let t): topic = t
            case .expression(let expr):
                guard let activation else { continue }
                let v: JSON
                do {
                    v = try expr.evaluateJSON(activation)
                } catch {
                    reject(e, "topic '\(expr.source)': \(error.message)", topic: nil, &out)
                    continue
                }
                guard case .string(let t) = v, !t.isEmpty else {
                    reject(
                        e, "topic '\(expr.source)' must give a non-empty string, got \(v.kindName)", topic: nil, &out)
                    continue
                }
                topic = t
            }
            scratch.removeAll(keepingCapacity: true)
            e.write(into: &scratch)
            let hasKey = key(of: e)
            let headers = self.headers()
            let slot = free.popLast() ?? inFlight.count
            if slot == inFlight.count { inFlight.append(nil) }
            let id = UInt(slot + 1)
            let refused = scratch.withUnsafeBytes { v in
                hasKey
                    ? keyBytes.withUnsafeBytes { k in
                        producer.produce(topic: topic, value: v, key: k, headers: headers, id: id)
                    } : producer.produce(topic: topic, value: v, key: nil, headers: headers, id: id)
            }
            if let refused {
                // Refused outright: no report will come for this id.
                free.append(slot)
                reject(e, "cannot produce: \(refused)", topic: topic, &out)
                if refused.fatal { out.stop("output '\(name)': the Kafka producer failed for good: \(refused)") }
                continue
            }
            inFlight[slot] = (e, topic)
            produced += 1
        }
        producer.serve()
        collect(into: &out)
    }

    package func advance(watermark: Int64, into out: inout StepOutput) {
        producer.serve()
        collect(into: &out)
    }

    /// Waits for every delivery report (at-least-once: what a checkpoint covers is in
    /// Kafka, or in `rejected`).
    package func drain(into out: inout StepOutput) {
        producer.flush()
        collect(into: &out)
    }

    /// Takes the delivery reports in: delivered messages are forgotten, failed ones go
    /// to `rejected` with the reason.
    func collect(into out: inout StepOutput) {
        for r in producer.takeReports() {
            let slot = Int(r.id) - 1
            guard inFlight.indices.contains(slot), let (event, topic) = inFlight[slot] else { continue }
            inFlight[slot] = nil
            free.append(slot)
            guard let error = r.error else { continue }
            produced -= 1
            reject(event, "delivery failed: \(error)", topic: topic, &out)
            if error.fatal { out.stop("output '\(name)': the Kafka producer failed for good: \(error)") }
        }
    }

    /// `{"error": {"step": OUTPUT, "message": ..., "topic": ...}, "event": ...}` to `rejected`.
    func reject(_ event: Event, _ message: String, topic: String?, _ out: inout StepOutput) {
        failed += 1
        var err = JSONObject(minimumCapacity: 3)
        err.appendUnchecked(key: "step", value: .string(name))
        err.appendUnchecked(key: "message", value: .string(message))
        if let topic { err.appendUnchecked(key: "topic", value: .string(topic)) }
        var o = JSONObject(minimumCapacity: 2)
        o.appendUnchecked(key: "error", value: .object(err))
        o.appendUnchecked(key: "event", value: event.value)
        out.side(SidePort.rejected, Event(.object(o), time: event.time, line: event.line))
        out.rejectedCount += 1
    }

    /// Sets ``keyBytes`` to the key of the current event; false when it has none.
    func key(of event: Event) -> Bool {
        guard let expr = spec.key, let activation else { return false }
        return Self.text(expr, activation, into: &keyBytes)
    }

    /// The headers of the current event.
    func headers() -> [KafkaHeader] {
        guard !spec.headers.isEmpty, let activation else { return [] }
        var out: [KafkaHeader] = []
        var bytes: [UInt8] = []
        for h in spec.headers {
            bytes.removeAll(keepingCapacity: true)
            if Self.text(h.value, activation, into: &bytes) { out.append(KafkaHeader(h.name, bytes)) }
        }
        return out
    }

    /// `expr`'s value as message bytes: a string as its text, another value as its JSON
    /// text; false for null and a failed evaluation.
    static func text(_ expr: Expression, _ activation: EventActivation, into bytes: inout [UInt8]) -> Bool {
        guard let v = try? expr.evaluateJSON(activation) else { return false }
        bytes.removeAll(keepingCapacity: true)
        switch v {
        case .null: return false
        case .string(let s): bytes.append(contentsOf: s.utf8)
        default: JSONWriter.write(v, into: &bytes)
        }
        return true
    }
}
