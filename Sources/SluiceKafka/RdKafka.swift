import CRdKafka
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// An error from librdkafka or about Kafka settings, as text for the user.
package struct KafkaError: Error, Sendable, CustomStringConvertible {
    package var message: String
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}

/// A topic and partition.
package struct TopicPartition: Hashable, Sendable, Comparable {
    package var topic: String
    package var partition: Int32

    package init(_ topic: String, _ partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    package static func < (a: TopicPartition, b: TopicPartition) -> Bool {
        (a.topic, a.partition) < (b.topic, b.partition)
    }
}

/// The text of a librdkafka error code.
func errorText(_ err: rd_kafka_resp_err_t) -> String {
    guard let s = rd_kafka_err2str(err) else { return "error \(err.rawValue)" }
    return String(cString: s)
}

/// The text in a C error buffer.
func bufferText(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// A librdkafka configuration made of `settings` (applied in order); throws naming the
/// first setting librdkafka refuses.
func makeConfiguration(_ settings: [(String, String)]) throws(KafkaError) -> OpaquePointer {
    guard let conf = rd_kafka_conf_new() else { throw KafkaError("cannot create a Kafka configuration") }
    var err = [CChar](repeating: 0, count: 512)
    for (k, v) in settings where rd_kafka_conf_set(conf, k, v, &err, err.count) != RD_KAFKA_CONF_OK {
        rd_kafka_conf_destroy(conf)
        throw KafkaError("client option '\(k)': \(bufferText(err))")
    }
    return conf
}

/// Creates a client of `type` from `conf` (which it takes over).
func makeClient(_ type: rd_kafka_type_t, _ conf: OpaquePointer) throws(KafkaError) -> OpaquePointer {
    var err = [CChar](repeating: 0, count: 512)
    guard let rk = rd_kafka_new(type, conf, &err, err.count) else {
        rd_kafka_conf_destroy(conf)
        throw KafkaError("cannot create a Kafka client: \(bufferText(err))")
    }
    return rk
}

/// Asks the brokers for the cluster's metadata, retrying until `timeoutMs` have passed:
/// throws with librdkafka's reason when none answered. With `topics`, also throws when
/// one of them does not exist (a regex, starting with `^`, is not checked).
func checkReachable(_ rk: OpaquePointer, brokers: String, topics: [String], timeoutMs: Int32) throws(KafkaError) {
    var md: UnsafePointer<rd_kafka_metadata>?
    let err = rd_kafka_metadata(rk, 1, nil, &md, timeoutMs)
    guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let md else {
        throw KafkaError(
            "cannot reach the Kafka brokers '\(brokers)' (\(errorText(err)), tried for \(timeoutMs / 1000) s); check 'brokers' and that the cluster is up"
        )
    }
    defer { rd_kafka_metadata_destroy(md) }
    var known: [String: rd_kafka_resp_err_t] = [:]
    for i in 0..<Int(md.pointee.topic_cnt) {
        let t = md.pointee.topics[i]
        if let name = t.topic { known[String(cString: name)] = t.err }
    }
    for topic in topics where !topic.hasPrefix("^") {
        guard let e = known[topic] else {
            throw KafkaError("topic '\(topic)' does not exist on the Kafka brokers '\(brokers)'; create it first")
        }
        if e != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError("topic '\(topic)': \(errorText(e))") }
    }
}

/// Writes a line to standard error (not through glibc's `stderr`, which Swift 6 does
/// not allow).
func warnLine(_ text: String) {
    var bytes = Array(("sluice: " + text + "\n").utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}

/// Where a consumer starts reading a partition with no position of its own.
package enum KafkaStart: String, Sendable, CaseIterable {
    /// The group's committed offset; the beginning where there is none.
    case committed
    case earliest
    case latest

    /// librdkafka's logical offset for this start (the group's committed offset, the
    /// beginning or the end).
    var offset: Int64 {
        switch self {
        case .committed: Int64(RD_KAFKA_OFFSET_INVALID)
        case .earliest: Int64(RD_KAFKA_OFFSET_BEGINNING)
        case .latest: Int64(RD_KAFKA_OFFSET_END)
        }
    }
}

/// The group member's side of a rebalance: sets the offsets of newly assigned
/// partitions (a checkpoint's, else per ``KafkaStart``) before assigning them.
final class RebalanceHandler: Sendable {
    let start: KafkaStart
    /// Positions restored from a checkpoint, each used once.
    let restored: Mutex<[TopicPartition: Int64]>
    /// Called with the partitions taken away, before they go (to commit them).
    let onRevoke: @Sendable ([TopicPartition]) -> Void
    /// Called with the partitions assigned, before they are read.
    let onAssign: @Sendable ([TopicPartition]) -> Void
    /// Pause every partition as soon as it is assigned: the member of a scale-out group
    /// (``KafkaConsumer/Membership/paused``) takes part in the group and reads nothing.
    let pauses: Bool

    init(
        start: KafkaStart, restored: [TopicPartition: Int64], onRevoke: @escaping @Sendable ([TopicPartition]) -> Void,
        onAssign: @escaping @Sendable ([TopicPartition]) -> Void = { _ in }, pauses: Bool = false
    ) {
        self.start = start
        self.restored = Mutex(restored)
        self.onRevoke = onRevoke
        self.onAssign = onAssign
        self.pauses = pauses
    }

    func assign(_ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        var tps: [TopicPartition] = []
        restored.withLock { saved in
            for i in 0..<Int(list.pointee.cnt) {
                let e = list.pointee.elems + i
                guard let name = e.pointee.topic else { continue }
                let tp = TopicPartition(String(cString: name), e.pointee.partition)
                tps.append(tp)
                if let o = saved.removeValue(forKey: tp) {
                    e.pointee.offset = o
                    continue
                }
                e.pointee.offset = start.offset
            }
        }
        onAssign(tps)
    }

    func revoke(_ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) {
        guard let list else { return }
        var tps: [TopicPartition] = []
        for i in 0..<Int(list.pointee.cnt) {
            let e = list.pointee.elems + i
            if let name = e.pointee.topic { tps.append(TopicPartition(String(cString: name), e.pointee.partition)) }
        }
        onRevoke(tps)
    }
}

private let rebalanceCallback:
    @convention(c) (
        OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
        UnsafeMutableRawPointer?
    ) -> Void = { rk, err, list, opaque in
        guard let rk, let opaque else { return }
        let h = Unmanaged<RebalanceHandler>.fromOpaque(opaque).takeUnretainedValue()
        if err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, let list {
            h.assign(list)
            _ = rd_kafka_assign(rk, list)
            if h.pauses { _ = rd_kafka_pause_partitions(rk, list) }
        } else {
            h.revoke(list)
            _ = rd_kafka_assign(rk, nil)
        }
    }

/// One message handed to ``KafkaConsumer/poll(max:timeoutMs:_:)``; `value` and `key`
/// are valid only during the call.
package struct KafkaMessage {
    package var topic: String
    package var partition: Int32
    package var offset: Int64
    /// Epoch milliseconds, when the message has a timestamp.
    package var timestamp: Int64?
    package var key: UnsafeRawBufferPointer?
    package var value: UnsafeRawBufferPointer
}

/// A consumer in a group (librdkafka's high-level consumer), with offsets committed only
/// when Sluice says so.
package final class KafkaConsumer: @unchecked Sendable {
    // The handle is thread-safe (librdkafka); `topicNames` is used by the polling thread only.
    let rk: OpaquePointer
    let queue: OpaquePointer
    let handler: RebalanceHandler
    var topicNames: [OpaquePointer: String] = [:]
    var batch: [UnsafeMutablePointer<rd_kafka_message_t>?]
    let closed = Mutex(false)

    /// How the consumer gets its partitions.
    package enum Membership: Sendable, Equatable {
        /// As a member of the group, reading what the group assigns it.
        case member
        /// As a member of the group that pauses what it is assigned and reads nothing:
        /// the scale-out member, which runs each partition in a process of its own.
        case paused
        /// Not a member: reads exactly this partition (the group is used for its committed
        /// offset only); the process running one partition of a scale-out member.
        case partition(TopicPartition)
    }

    /// Connects (checking within `connectTimeoutMs` that the brokers answer and the
    /// topics exist) and subscribes to `topics` (or, for ``Membership/partition(_:)``,
    /// assigns that partition at its restored offset, else per `start`).
    package init(
        brokers: String, group: String, topics: [String], start: KafkaStart, client: [(String, String)],
        restored: [TopicPartition: Int64], connectTimeoutMs: Int32, batchSize: Int,
        membership: Membership = .member,
        onRevoke: @escaping @Sendable ([TopicPartition]) -> Void,
        onAssign: @escaping @Sendable ([TopicPartition]) -> Void = { _ in }
    ) throws(KafkaError) {
        var settings: [(String, String)] = [
            ("bootstrap.servers", brokers), ("group.id", group), ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"), ("auto.offset.reset", start == .latest ? "latest" : "earliest"),
        ]
        settings += client
        let conf = try makeConfiguration(settings)
        handler = RebalanceHandler(
            start: start, restored: restored, onRevoke: onRevoke, onAssign: onAssign, pauses: membership == .paused)
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(handler).toOpaque())
        rd_kafka_conf_set_rebalance_cb(conf, rebalanceCallback)
        rk = try makeClient(RD_KAFKA_CONSUMER, conf)
        batch = Array(repeating: nil, count: max(1, batchSize))
        do throws(KafkaError) {
            try checkReachable(rk, brokers: brokers, topics: topics, timeoutMs: connectTimeoutMs)
        } catch {
            rd_kafka_destroy(rk)
            throw error
        }
        _ = rd_kafka_poll_set_consumer(rk)
        guard let q = rd_kafka_queue_get_consumer(rk) else {
            rd_kafka_destroy(rk)
            throw KafkaError("cannot get the consumer queue")
        }
        queue = q
        if case .partition(let tp) = membership {
            let list = rd_kafka_topic_partition_list_new(1)
            if let e = rd_kafka_topic_partition_list_add(list, tp.topic, tp.partition) {
                e.pointee.offset = restored[tp] ?? start.offset
            }
            let err = rd_kafka_assign(rk, list)
            rd_kafka_topic_partition_list_destroy(list)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                rd_kafka_queue_destroy(q)
                rd_kafka_destroy(rk)
                throw KafkaError("cannot assign \(tp.topic)-\(tp.partition): \(errorText(err))")
            }
            onAssign([tp])
            return
        }
        let list = rd_kafka_topic_partition_list_new(Int32(topics.count))
        for t in topics { _ = rd_kafka_topic_partition_list_add(list, t, Int32(RD_KAFKA_PARTITION_UA)) }
        let err = rd_kafka_subscribe(rk, list)
        rd_kafka_topic_partition_list_destroy(list)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            rd_kafka_queue_destroy(q)
            rd_kafka_destroy(rk)
            throw KafkaError("cannot subscribe to \(topics): \(errorText(err))")
        }
    }

    /// Waits up to `timeoutMs` for messages and hands each (at most `max`) to `body`.
    /// Errors librdkafka reports in place of a message go to `onError` (code, text).
    /// Returns how many messages and errors came.
    package func poll(
        timeoutMs: Int32, _ body: (KafkaMessage) -> Void, onError: (_ fatal: Bool, _ text: String) -> Void
    ) -> Int {
        let n = batch.withUnsafeMutableBufferPointer { b in
            rd_kafka_consume_batch_queue(queue, Int32(timeoutMs), b.baseAddress, b.count)
        }
        guard n > 0 else { return 0 }
        for i in 0..<n {
            guard let m = batch[i] else { continue }
            defer { rd_kafka_message_destroy(m) }
            let msg = m.pointee
            if msg.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                if msg.err == RD_KAFKA_RESP_ERR__PARTITION_EOF { continue }
                var text = errorText(msg.err)
                if let p = msg.payload, msg.len > 0 {
                    text = String(decoding: UnsafeRawBufferPointer(start: p, count: msg.len), as: UTF8.self)
                }
                let fatal =
                    msg.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || msg.err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC
                    || msg.err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED
                    || msg.err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED || msg.err == RD_KAFKA_RESP_ERR__FATAL
                onError(fatal, text)
                continue
            }
            var topic = ""
            if let rkt = msg.rkt {
                if let t = topicNames[rkt] {
                    topic = t
                } else if let c = rd_kafka_topic_name(rkt) {
                    topic = String(cString: c)
                    topicNames[rkt] = topic
                }
            }
            var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
            let ts = rd_kafka_message_timestamp(m, &type)
            body(
                KafkaMessage(
                    topic: topic, partition: msg.partition, offset: msg.offset,
                    timestamp: type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : ts,
                    key: msg.key.map { UnsafeRawBufferPointer(start: $0, count: msg.key_len) },
                    value: UnsafeRawBufferPointer(start: msg.payload, count: msg.payload == nil ? 0 : msg.len)))
        }
        return n
    }

    /// Commits `offsets` (the next offset to read, per partition) to the group;
    /// returns librdkafka's reason when it fails.
    @discardableResult
    package func commit(_ offsets: [TopicPartition: Int64], async: Bool) -> String? {
        guard !offsets.isEmpty, !closed.withLock({ $0 }) else { return nil }
        let list = rd_kafka_topic_partition_list_new(Int32(offsets.count))
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for (tp, o) in offsets.sorted(by: { $0.key < $1.key }) {
            if let e = rd_kafka_topic_partition_list_add(list, tp.topic, tp.partition) { e.pointee.offset = o }
        }
        let err = rd_kafka_commit(rk, list, async ? 1 : 0)
        return err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : errorText(err)
    }

    /// Leaves the group and frees the client.
    package func close() {
        closed.withLock { $0 = true }
        rd_kafka_queue_destroy(queue)
        _ = rd_kafka_consumer_close(rk)
        rd_kafka_destroy(rk)
    }
}

/// What the delivery reports of a producer said so far.
final class DeliveryReports: Sendable {
    struct State {
        var failed = 0
        var firstError: String?
    }
    let state = Mutex(State())
}

private let deliveryCallback:
    @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = {
        _, m, opaque in
        guard let m, let opaque, m.pointee.err != RD_KAFKA_RESP_ERR_NO_ERROR else { return }
        let reports = Unmanaged<DeliveryReports>.fromOpaque(opaque).takeUnretainedValue()
        let text = errorText(m.pointee.err)
        reports.state.withLock {
            $0.failed += 1
            if $0.firstError == nil { $0.firstError = text }
        }
    }

/// A producer (idempotent, `acks=all` unless the client options say otherwise) whose
/// delivery reports are counted.
package final class KafkaProducer: @unchecked Sendable {
    // Used from the sink's thread only (librdkafka's handle is thread-safe besides).
    let rk: OpaquePointer
    let reports = DeliveryReports()
    var topics: [String: OpaquePointer] = [:]

    package init(brokers: String, client: [(String, String)], connectTimeoutMs: Int32) throws(KafkaError) {
        var settings: [(String, String)] = [
            ("bootstrap.servers", brokers), ("acks", "all"), ("enable.idempotence", "true"),
        ]
        settings += client
        let conf = try makeConfiguration(settings)
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(reports).toOpaque())
        rd_kafka_conf_set_dr_msg_cb(conf, deliveryCallback)
        rk = try makeClient(RD_KAFKA_PRODUCER, conf)
        do throws(KafkaError) {
            try checkReachable(rk, brokers: brokers, topics: [], timeoutMs: connectTimeoutMs)
        } catch {
            rd_kafka_destroy(rk)
            throw error
        }
    }

    /// Queues one message (copied); waits while librdkafka's queue is full.
    package func produce(topic: String, value: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer?) throws(KafkaError)
    {
        let rkt: OpaquePointer
        if let t = topics[topic] {
            rkt = t
        } else {
            guard let t = rd_kafka_topic_new(rk, topic, nil) else {
                throw KafkaError("topic '\(topic)': \(errorText(rd_kafka_last_error()))")
            }
            topics[topic] = t
            rkt = t
        }
        while true {
            let r = rd_kafka_produce(
                rkt, Int32(RD_KAFKA_PARTITION_UA), RD_KAFKA_MSG_F_COPY,
                UnsafeMutableRawPointer(mutating: value.baseAddress),
                value.count, key?.baseAddress, key?.count ?? 0, nil)
            if r == 0 { return }
            let err = rd_kafka_last_error()
            guard err == RD_KAFKA_RESP_ERR__QUEUE_FULL else {
                throw KafkaError("cannot produce to topic '\(topic)': \(errorText(err))")
            }
            _ = rd_kafka_poll(rk, 50)
        }
    }

    /// Serves delivery reports that are in, without waiting.
    package func serve() { _ = rd_kafka_poll(rk, 0) }

    /// Waits until every queued message is delivered or failed for good (librdkafka
    /// retries until `message.timeout.ms`); throws when any failed since the last call.
    package func flush() throws(KafkaError) {
        while rd_kafka_outq_len(rk) > 0 { _ = rd_kafka_flush(rk, 1000) }
        let s = reports.state.withLock { s -> DeliveryReports.State in
            defer { s = DeliveryReports.State() }
            return s
        }
        if s.failed > 0 {
            throw KafkaError("\(s.failed) messages could not be delivered: \(s.firstError ?? "unknown error")")
        }
    }

    /// Frees the client (after ``flush()``).
    package func close() {
        for t in topics.values { rd_kafka_topic_destroy(t) }
        topics = [:]
        rd_kafka_destroy(rk)
    }
}
