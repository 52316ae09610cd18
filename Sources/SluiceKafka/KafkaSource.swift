import SluiceCore
import SluiceJSON
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

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
    /// `idle_timeout`: with event time, a partition silent this long (ms) no longer holds
    /// the input's watermark back; nil: a silent partition holds it until it has events.
    package var idleTimeoutMs: Int64?
    /// `scale_out: true`: each process of the group runs every partition it is assigned
    /// in a process of its own, with its own checkpoints and files (docs/kafka.md,
    /// "Scale-out").
    package var scaleOut = false
    /// Set in such a partition's process: the one partition it reads, outside the group.
    package var partition: KafkaPartitionRun?

    package init(
        brokers: String, topics: [String], group: String, start: KafkaStart = .committed,
        client: [String: String] = [:],
        metadata: String? = nil, connectTimeoutMs: Int32 = 10_000, idleTimeoutMs: Int64? = nil
    ) {
        self.brokers = brokers
        self.topics = topics
        self.group = group
        self.start = start
        self.client = client
        self.metadata = metadata
        self.connectTimeoutMs = connectTimeoutMs
        self.idleTimeoutMs = idleTimeoutMs
    }
}

/// The partition that one process of a scale-out member runs, and the member that started
/// it (docs/kafka.md, "Scale-out"). It travels from the member to the process in the
/// environment variable ``KafkaPartitionRun/environmentName``, as `PID:PARTITION:TOPIC`.
package struct KafkaPartitionRun: Sendable, Equatable {
    package static let environmentName = "SLUICE_KAFKA_PARTITION"
    package var partition: TopicPartition
    /// The member's process id: once it is gone, the partition's process stops at once.
    package var parent: Int32
    /// `DIR/partitions`, where each partition's process records the message keys it sees
    /// (``PartitionKeys``); nil records none.
    package var keysDirectory: String?

    package init(partition: TopicPartition, parent: Int32) {
        self.partition = partition
        self.parent = parent
    }

    /// Reads `PID:PARTITION:TOPIC`; nil when it is not that.
    package init?(environment text: String) {
        let parts = text.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let pid = Int32(parts[0]), let p = Int32(parts[1]), p >= 0, !parts[2].isEmpty else {
            return nil
        }
        self.init(partition: TopicPartition(String(parts[2]), p), parent: pid)
    }

    /// The environment variable's value.
    package var environment: String { "\(parent):\(partition.partition):\(partition.topic)" }
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
        /// Assignments (true) and revocations (false) since the run loop last looked.
        var rebalances: [(assigned: Bool, partitions: [TopicPartition])] = []
        /// Restored offsets of partitions not assigned yet. A partition assigned at its
        /// restored offset is at that position until it reads more, so a checkpoint taken
        /// before its next message (a quiet partition) still records it, instead of
        /// leaving the partition to the group's offset or `start` on the next restore.
        var unassigned: [TopicPartition: Int64] = [:]
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
        do throws(StateError) {
            restored = try Self.decode(position)
        } catch {
            throw SourceError("input '\(name)': the checkpoint's Kafka offsets are unreadable (\(error.message))")
        }
    }

    /// The offsets of a position that ``encode(_:)`` wrote.
    package static func decode(_ position: [UInt8]) throws(StateError) -> [TopicPartition: Int64] {
        var r = StateReader(position)
        var out: [TopicPartition: Int64] = [:]
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
        return out
    }

    package func run(_ out: SourceOutput) throws {
        let checkpointing = out.checkpointing
        shared.withLock { $0.unassigned = restored }
        let consumer: KafkaConsumer
        do throws(KafkaError) {
            consumer = try KafkaConsumer(
                brokers: spec.brokers, group: spec.group, topics: spec.topics, start: spec.start,
                client: spec.client.sorted { $0.key < $1.key }, restored: restored,
                connectTimeoutMs: spec.connectTimeoutMs, batchSize: 1024,
                membership: spec.partition.map { .partition($0.partition) } ?? .member,
                onRevoke: { [weak self] tps in
                    // Read on by another member now: no longer this run's to commit.
                    self?.shared.withLock { s in
                        for tp in tps { s.positions[tp] = nil }
                        s.rebalances.append((false, tps))
                    }
                },
                onAssign: { [weak self] tps in
                    self?.shared.withLock { s in
                        for tp in tps { if let o = s.unassigned.removeValue(forKey: tp) { s.positions[tp] = o } }
                        s.rebalances.append((true, tps))
                    }
                })
        } catch {
            throw SourceError("input '\(name)': \(error.message)")
        }
        shared.withLock {
            $0.consumer = consumer
            $0.checkpointing = checkpointing
        }
        let metadata = spec.metadata
        // Event time per partition: each partition is a split of the input's watermark.
        out.useSplits(idleTimeout: spec.idleTimeoutMs)
        let perPartition = out.usesSplits
        var splitIDs: [TopicPartition: Int] = [:]
        func split(_ tp: TopicPartition) -> Int {
            if let id = splitIDs[tp] { return id }
            let id = splitIDs.count
            splitIDs[tp] = id
            return id
        }
        var parsedSplits: [Int] = []
        var spanSplits: [Int] = []
        var values: [UInt8] = []
        var spans: [(start: Int, count: Int)] = []
        var parsed: [Event] = []
        var bad: [Event] = []
        var read: [TopicPartition: Int64] = [:]
        var fatal: String?
        var warned = Set<String>()
        var lagReported: UInt64 = 0
        let parent = spec.partition?.parent
        let own = spec.partition.map { "\($0.partition.topic)-\($0.partition.partition)" } ?? ""
        let keys = spec.partition?.keysDirectory.map { PartitionKeys(directory: $0, own: own) }
        var keysSynced = ContinuousClock.now
        var keysWarned = false
        while !out.isCancelled {
            // A partition's process whose member was killed stops as if killed too: the
            // partition's next owner resumes it from its last checkpoint.
            if let parent, getppid() != parent { kill(getpid(), SIGKILL) }
            values.removeAll(keepingCapacity: true)
            spans.removeAll(keepingCapacity: true)
            parsed.removeAll(keepingCapacity: true)
            bad.removeAll(keepingCapacity: true)
            read.removeAll(keepingCapacity: true)
            parsedSplits.removeAll(keepingCapacity: true)
            spanSplits.removeAll(keepingCapacity: true)
            // Messages come in runs of one partition: the next offset of each is noted in
            // `read` once per run, not hashed into it once per message.
            var run: TopicPartition?
            var runNext: Int64 = 0
            let n = consumer.poll(timeoutMs: 100) { m in
                let tp: TopicPartition
                if let r = run, r.partition == m.partition, r.topic == m.topic {
                    tp = r
                } else {
                    if let r = run { read[r] = runNext }
                    tp = TopicPartition(m.topic, m.partition)
                    run = tp
                }
                runNext = m.offset + 1
                if let keys, let k = m.key { keys.see(k) }
                if m.value.count > maxEventSize {
                    bad.append(Self.malformed(m, reason: "event larger than the \(maxEventSize)-byte limit"))
                } else if let field = metadata {
                    switch Self.withMetadata(m, field: field, maxDepth: maxDepth) {
                    case .success(let e):
                        parsed.append(e)
                        if perPartition { parsedSplits.append(split(tp)) }
                    case .failure(let reason): bad.append(Self.malformed(m, reason: reason.message))
                    }
                } else if let err = JSONParser.validate(m.value, maxDepth: maxDepth) {
                    bad.append(Self.malformed(m, reason: "not JSON: \(err)"))
                } else {
                    spans.append((values.count, m.value.count))
                    values.append(contentsOf: m.value)
                    if perPartition { spanSplits.append(split(tp)) }
                }
            } onError: { isFatal, text in
                if isFatal {
                    fatal = fatal ?? text
                } else if warned.insert(text).inserted {
                    warnLine("input '\(name)': Kafka: \(text) (librdkafka retries)")
                }
            }
            if let r = run { read[r] = runNext }
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
                if perPartition {
                    out.emit(events, splits: parsedSplits + spanSplits)
                } else {
                    out.emit(events)
                }
                out.emit(port: SourcePort.malformed, bad)
                if !read.isEmpty {
                    shared.withLock { s in for (tp, o) in read { s.positions[tp] = o } }
                }
            }
            // After the batch: its messages came before the rebalance that ended it.
            let changes = shared.withLock { s in
                defer { s.rebalances.removeAll() }
                return s.rebalances
            }
            if perPartition {
                for c in changes {
                    let ids = c.partitions.map(split)
                    if c.assigned { out.assignSplits(ids) } else { out.revokeSplits(ids) }
                }
                out.idle()
            }
            if checkpointing { barrierIfDue(out) }
            reportLag(consumer, out, last: &lagReported)
            if let keys, ContinuousClock.now - keysSynced > .seconds(1) {
                keys.sync()
                keysSynced = ContinuousClock.now
                if !keysWarned, keys.shared > 0 {
                    keysWarned = true
                    warnLine(
                        "input '\(name)': partition \(own) has events whose message key was also seen on partition \(keys.firstOther ?? "?"): scale_out keeps each partition's state apart, so such a key's state is split (the topic must be partitioned by the pipeline's key)"
                    )
                }
            }
        }
        if checkpointing { barrierIfDue(out) }
        if let keys {
            keys.sync()
            if keys.shared > 0 {
                warnLine(
                    "input '\(name)': partition \(own): \(keys.shared) event\(keys.shared == 1 ? "" : "s") had a message key also seen on another partition"
                )
            }
        }
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
        // A partition's process is not a member of the group, which would refuse its
        // commits; its position is in its checkpoints.
        guard spec.partition == nil else { return }
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
