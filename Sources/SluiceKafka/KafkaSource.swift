import SluiceCore
import SluiceJSON
import Synchronization

/// `inputs: {NAME: {kafka: {...}}}` as the pipeline wrote it (docs/kafka.md).
package struct KafkaInputSpec: Sendable, Equatable {
    /// `bootstrap.servers`: `host:port[,host:port...]`.
    package var brokers: String
    /// Topic names; one starting with `^` is a regex (librdkafka's subscription).
    package var topics: [String]
    package var group: String
    package var start: KafkaStart
    /// `client:` settings, passed to librdkafka as they are (TLS, SASL, timeouts...).
    package var client: [String: String]
    /// `metadata: FIELD`: adds `{topic, partition, offset, timestamp, key, headers}` to each event
    /// under that field; nil adds nothing (the event is the message value as it is).
    package var metadata: String?
    /// How long to try reaching the brokers at start (`connect_timeout`).
    package var connectTimeoutMs: Int32

    package init(
        brokers: String, topics: [String], group: String, start: KafkaStart = .committed,
        client: [String: String] = [:],
        metadata: String? = nil, connectTimeoutMs: Int32 = 10_000
    ) {
        self.brokers = brokers
        self.topics = topics
        self.group = group
        self.start = start
        self.client = client
        self.metadata = metadata
        self.connectTimeoutMs = connectTimeoutMs
    }
}

/// Reads JSON events from Kafka topics as a member of a consumer group.
///
/// Offsets are never committed automatically. With checkpoints, the next offset of each
/// partition read goes into each barrier's position, a restore starts there, and the
/// offsets of a checkpoint are committed to the group once it is on disk
/// (``CheckpointListener``). Without checkpoints, the offsets read are committed once,
/// when the run is over and every output was flushed and closed (``RunEndListener``).
/// Messages that are not JSON go to `malformed` with topic, partition and offset.
package final class KafkaSource: CheckpointedSource, CheckpointListener, RunEndListener, @unchecked Sendable {
    // `restored` is set before `run` and read by it only; the rest is behind `shared`.
    package let name: String
    let spec: KafkaInputSpec
    let maxDepth: Int
    /// A message larger than this (bytes) goes to `malformed`, as an oversized line of a file.
    let maxEventSize: Int
    package var restored: [TopicPartition: Int64] = [:]

    struct Shared {
        var consumer: KafkaConsumer?
        /// The next offset to read, per partition read so far (and still assigned).
        var positions: [TopicPartition: Int64] = [:]
        /// Positions sent with barriers, by barrier id, not yet committed.
        var barriers: [(id: Int, positions: [TopicPartition: Int64])] = []
        var checkpointing = false
    }
    let shared = Mutex(Shared())

    package init(
        name: String, spec: KafkaInputSpec, maxDepth: Int = 512, maxEventSize: Int = JSONLimits.default.maxEventSize
    ) {
        self.maxEventSize = maxEventSize
        self.name = name
        self.spec = spec
        self.maxDepth = maxDepth
    }

    /// A checkpoint's position: a version, then topic, partition and next offset per
    /// partition.
    package static func encode(_ positions: [TopicPartition: Int64]) -> [UInt8] {
        var w = StateWriter()
        w.write(1)
        w.write(positions.count)
        for (tp, o) in positions.sorted(by: { $0.key < $1.key }) {
            w.write(tp.topic)
            w.write(Int(tp.partition))
            w.write(o)
        }
        return w.bytes
    }

    package func resume(from position: [UInt8]) throws(SourceError) {
        var r = StateReader(position)
        var out: [TopicPartition: Int64] = [:]
        do throws(StateError) {
            guard try r.readInt() == 1 else { throw StateError("unknown position version") }
            let n = try r.readInt()
            guard n >= 0, n <= 1_000_000 else { throw StateError("invalid partition count") }
            for _ in 0..<n {
                let topic = try r.readString()
                let partition = try r.readInt()
                let offset = try r.readInt64()
                guard let p = Int32(exactly: partition), offset >= 0 else { throw StateError("invalid partition") }
                out[TopicPartition(topic, p)] = offset
            }
        } catch {
            throw SourceError("input '\(name)': the checkpoint's Kafka offsets are unreadable (\(error.message))")
        }
        restored = out
    }

    package func run(_ out: SourceOutput) throws {
        let checkpointing = out.checkpointing
        let consumer: KafkaConsumer
        do throws(KafkaError) {
            consumer = try KafkaConsumer(
                brokers: spec.brokers, group: spec.group, topics: spec.topics, start: spec.start,
                client: spec.client.sorted { $0.key < $1.key }, restored: restored,
                connectTimeoutMs: spec.connectTimeoutMs, batchSize: 1024,
                onRevoke: { [weak self] tps in
                    // Read on by another member now: no longer this run's to commit.
                    self?.shared.withLock { s in for tp in tps { s.positions[tp] = nil } }
                })
        } catch {
            throw SourceError("input '\(name)': \(error.message)")
        }
        shared.withLock {
            $0.consumer = consumer
            $0.checkpointing = checkpointing
        }
        let metadata = spec.metadata
        var values: [UInt8] = []
        var spans: [(start: Int, count: Int)] = []
        var parsed: [Event] = []
        var bad: [Event] = []
        var read: [TopicPartition: Int64] = [:]
        var fatal: String?
        var warned = Set<String>()
        var lagReported: UInt64 = 0
        while !out.isCancelled {
            values.removeAll(keepingCapacity: true)
            spans.removeAll(keepingCapacity: true)
            parsed.removeAll(keepingCapacity: true)
            bad.removeAll(keepingCapacity: true)
            read.removeAll(keepingCapacity: true)
            let n = consumer.poll(timeoutMs: 100) { m in
                read[TopicPartition(m.topic, m.partition)] = m.offset + 1
                if m.value.count > maxEventSize {
                    bad.append(Self.malformed(m, reason: "event larger than the \(maxEventSize)-byte limit"))
                } else if let field = metadata {
                    switch Self.withMetadata(m, field: field, maxDepth: maxDepth) {
                    case .success(let e): parsed.append(e)
                    case .failure(let reason): bad.append(Self.malformed(m, reason: reason.message))
                    }
                } else if let err = JSONParser.validate(m.value, maxDepth: maxDepth) {
                    bad.append(Self.malformed(m, reason: "not JSON: \(err)"))
                } else {
                    spans.append((values.count, m.value.count))
                    values.append(contentsOf: m.value)
                }
            } onError: { isFatal, text in
                if isFatal {
                    fatal = fatal ?? text
                } else if warned.insert(text).inserted {
                    warnLine("input '\(name)': Kafka: \(text) (librdkafka retries)")
                }
            }
            if let fatal { throw SourceError("input '\(name)': Kafka: \(fatal)") }
            if n > 0 {
                var events = parsed
                if !spans.isEmpty {
                    let buffer = ByteBuffer(capacity: values.count)
                    values.withUnsafeBytes { b in
                        if let base = b.baseAddress { buffer.base.copyMemory(from: base, byteCount: b.count) }
                    }
                    for s in spans { events.append(Event(raw: buffer, start: s.start, count: s.count)) }
                }
                out.emit(events)
                out.emit(port: SourcePort.malformed, bad)
                if !read.isEmpty {
                    shared.withLock { s in for (tp, o) in read { s.positions[tp] = o } }
                }
            }
            if checkpointing { barrierIfDue(out) }
            reportLag(consumer, out, last: &lagReported)
        }
        if checkpointing { barrierIfDue(out) }
    }

    /// Sends the barriers due with the offsets read so far, and keeps them to commit when
    /// the checkpoint is written.
    func barrierIfDue(_ out: SourceOutput) {
        out.checkpointIfDue(positionAt: { id in
            shared.withLock { s in
                s.barriers.append((id, s.positions))
                return Self.encode(s.positions)
            }
        })
    }

    /// Commits the offsets of the newest barrier that checkpoint `id` covers.
    package func checkpointCompleted(_ id: Int) {
        let (consumer, offsets) = shared.withLock { s -> (KafkaConsumer?, [TopicPartition: Int64]?) in
            let covered = s.barriers.last { $0.id <= id }?.positions
            s.barriers.removeAll { $0.id <= id }
            return (s.consumer, covered)
        }
        guard let consumer, let offsets else { return }
        if let err = consumer.commit(offsets, async: false) {
            warnLine("input '\(name)': committing the offsets of checkpoint \(id) failed: \(err)")
        }
    }

    /// Without checkpoints, commits what was read once every output has flushed and
    /// closed (not after a failure); then leaves the group.
    package func runEnded(_ outcome: RunOutcome) {
        let (consumer, checkpointing, positions) = shared.withLock { s in
            defer { s.consumer = nil }
            return (s.consumer, s.checkpointing, s.positions)
        }
        guard let consumer else { return }
        if !checkpointing && outcome == .completed, let err = consumer.commit(positions, async: false) {
            warnLine("input '\(name)': committing the offsets read failed: \(err)")
        }
        consumer.close()
    }

    /// The message as an object with `{topic, partition, offset, timestamp, key, headers}`
    /// added under `field`; a key or header value that is not UTF-8 makes it malformed.
    static func withMetadata(_ m: KafkaMessage, field: String, maxDepth: Int) -> Result<Event, SourceError> {
        let value: JSON
        do {
            value = try JSONParser.parse(m.value, maxDepth: maxDepth)
        } catch {
            return .failure(SourceError("not JSON: \(error)"))
        }
        guard case .object(var o) = value else {
            return .failure(SourceError("not a JSON object (metadata goes into a field of an object)"))
        }
        var meta = JSONObject(minimumCapacity: 6)
        meta.appendUnchecked(key: "topic", value: .string(m.topic))
        meta.appendUnchecked(key: "partition", value: .int(Int64(m.partition)))
        meta.appendUnchecked(key: "offset", value: .int(m.offset))
        meta.appendUnchecked(key: "timestamp", value: m.timestamp.map { .int($0) } ?? .null)
        var key = JSON.null
        if let k = m.key {
            guard let s = String(validating: k, as: UTF8.self) else {
                return .failure(SourceError("the message key is not UTF-8"))
            }
            key = .string(s)
        }
        meta.appendUnchecked(key: "key", value: key)
        var headers = JSONObject()
        for h in m.headers() {
            guard let name = h.name else { return .failure(SourceError("a header name is not UTF-8")) }
            var v = JSON.null
            if let b = h.value {
                guard let s = String(validating: b, as: UTF8.self) else {
                    return .failure(SourceError("the value of header '\(name)' is not UTF-8"))
                }
                v = .string(s)
            }
            headers[name] = v
        }
        meta.appendUnchecked(key: "headers", value: .object(headers))
        o[field] = .object(meta)
        return .success(Event(.object(o)))
    }

    /// `{"error": {message, topic, partition, offset[, truncated]}, "raw": VALUE AS TEXT}`,
    /// the text cut to the first ``JSONStreamReader/rawLimit`` bytes as for a file's lines.
    static func malformed(_ m: KafkaMessage, reason: String) -> Event {
        let limit = JSONStreamReader.rawLimit
        var err = JSONObject(minimumCapacity: 5)
        err.appendUnchecked(key: "message", value: .string(reason))
        err.appendUnchecked(key: "topic", value: .string(m.topic))
        err.appendUnchecked(key: "partition", value: .int(Int64(m.partition)))
        err.appendUnchecked(key: "offset", value: .int(m.offset))
        if m.value.count > limit { err.appendUnchecked(key: "truncated", value: .bool(true)) }
        var o = JSONObject(minimumCapacity: 2)
        o.appendUnchecked(key: "error", value: .object(err))
        o.appendUnchecked(
            key: "raw",
            value: .string(String(decoding: UnsafeRawBufferPointer(rebasing: m.value.prefix(limit)), as: UTF8.self)))
        return Event(.object(o))
    }
}
