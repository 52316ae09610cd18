import SluiceCore
import SluiceJSON
import SluiceSteps

/// `outputs: {NAME: {from: [...], kafka: {...}}}` as the pipeline wrote it.
package struct KafkaOutputSpec: Sendable {
    package var brokers: String
    package var topic: String
    /// `key:`: the message key (a string as its text, a number or bool as JSON); nil, a
    /// missing field, null or a failed evaluation give no key.
    package var key: Expression?
    /// `client:` settings for librdkafka; they override the defaults (`acks=all`,
    /// `enable.idempotence=true`), and `linger.ms`, `batch.size` go here too.
    package var client: [String: String]
    package var connectTimeoutMs: Int32

    package init(
        brokers: String, topic: String, key: Expression? = nil, client: [String: String] = [:],
        connectTimeoutMs: Int32 = 10_000
    ) {
        self.brokers = brokers
        self.topic = topic
        self.key = key
        self.client = client
        self.connectTimeoutMs = connectTimeoutMs
    }
}

/// Writes each event as a JSON message to a Kafka topic.
///
/// At each checkpoint barrier (``commit()``) it waits until librdkafka has a delivery
/// report for every message produced so far, so a checkpoint never covers a message not
/// yet in Kafka; at the end it does the same. A message librdkafka gave up on (after its
/// retries, within `message.timeout.ms`) stops the run with the count and the reason.
package final class KafkaSink: CheckpointedSink {
    package let name: String
    let spec: KafkaOutputSpec
    let producer: KafkaProducer
    let activation: EventActivation?
    var scratch: [UInt8] = []
    var keyBytes: [UInt8] = []

    /// Connects (the brokers must answer within `connect_timeout`).
    package init(name: String, spec: KafkaOutputSpec) throws(KafkaError) {
        self.name = name
        self.spec = spec
        producer = try KafkaProducer(
            brokers: spec.brokers, client: spec.client.sorted { $0.key < $1.key },
            connectTimeoutMs: spec.connectTimeoutMs)
        activation = spec.key.map { $0.compiler.activation(prefetching: [$0]) }
    }

    package func write(_ events: [Event]) throws {
        for e in events {
            scratch.removeAll(keepingCapacity: true)
            e.write(into: &scratch)
            let hasKey = key(of: e)
            var failure: KafkaError?
            scratch.withUnsafeBytes { v in
                do throws(KafkaError) {
                    if hasKey {
                        keyBytes.withUnsafeBytes { k in
                            do throws(KafkaError) {
                                try producer.produce(topic: spec.topic, value: v, key: k)
                            } catch {
                                failure = error
                            }
                        }
                    } else {
                        try producer.produce(topic: spec.topic, value: v, key: nil)
                    }
                } catch {
                    failure = error
                }
            }
            if let failure { throw SinkError.failed("output '\(name)': \(failure.message)") }
        }
        producer.serve()
    }

    /// Sets ``keyBytes`` to the key of `event`; false when it has none.
    func key(of event: Event) -> Bool {
        guard let expr = spec.key, let activation else { return false }
        activation.event = event
        guard let v = try? expr.evaluateJSON(activation) else { return false }
        keyBytes.removeAll(keepingCapacity: true)
        switch v {
        case .null: return false
        case .string(let s): keyBytes.append(contentsOf: s.utf8)
        default: JSONWriter.write(v, into: &keyBytes)
        }
        return true
    }

    package func flush() throws { producer.serve() }

    /// Waits for every delivery report (at-least-once: what a checkpoint covers is in Kafka).
    package func commit() throws -> [UInt8] {
        do throws(KafkaError) {
            try producer.flush()
        } catch {
            throw SinkError.failed("output '\(name)': topic '\(spec.topic)': \(error.message)")
        }
        return []
    }

    package func close() throws {
        defer { producer.close() }
        _ = try commit()
    }
}
