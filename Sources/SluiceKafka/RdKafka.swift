import CRdKafka
import SluiceCore
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

/// Where a consumer starts reading a partition with no position of its own.
package enum KafkaStart: Sendable, Equatable {
    /// The group's committed offset; the beginning where there is none.
    case committed
    case earliest
    case latest
    /// The first message whose timestamp is at or after this time (epoch ms), found with
    /// librdkafka's `offsetsForTimes`; the end of a partition with none that late.
    case timestamp(Int64)

    /// librdkafka's logical offset for this start (the group's committed offset, the
    /// beginning or the end).
    var offset: Int64 {
        switch self {
        case .committed: Int64(RD_KAFKA_OFFSET_INVALID)
        case .earliest: Int64(RD_KAFKA_OFFSET_BEGINNING)
        case .latest: Int64(RD_KAFKA_OFFSET_END)
        // Sought by time where a group assigns it (see RebalanceHandler.assign).
        case .timestamp: Int64(RD_KAFKA_OFFSET_BEGINNING)
        }
    }
}

/// The group member's side of a rebalance: sets the offsets of newly assigned
/// partitions (a checkpoint's, else per ``KafkaStart``) before assigning them.
final class RebalanceHandler: Sendable {
    let start: KafkaStart
    /// Positions restored from a checkpoint, each used once.
    let restored: Mutex<[TopicPartition: Int64]>
    /// With ``KafkaStart/timestamp(_:)``: the partitions sought by time that have not yet
    /// given a message at or after the time. Until they do, earlier messages are skipped:
    /// a broker with a coarse time index (tansu answers with the first offset) may seek
    /// to an earlier one.
    let seekingTime = Mutex(Set<TopicPartition>())
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

    func assign(_ rk: OpaquePointer, _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        var byTime: [Int] = []
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
                switch start {
                case .committed: break
                case .earliest: e.pointee.offset = Int64(RD_KAFKA_OFFSET_BEGINNING)
                case .latest: e.pointee.offset = Int64(RD_KAFKA_OFFSET_END)
                case .timestamp: byTime.append(i)
                }
            }
        }
        if case .timestamp(let ms) = start, !byTime.isEmpty {
            seek(rk, list, byTime, toTime: ms)
            seekingTime.withLock { set in
                for i in byTime {
                    let e = list.pointee.elems + i
                    if let name = e.pointee.topic {
                        set.insert(TopicPartition(String(cString: name), e.pointee.partition))
                    }
                }
            }
        }
        onAssign(tps)
    }

    /// True when a message of `tp` with timestamp `ms` comes before the start time of a
    /// partition sought by time (see ``seekingTime``); the first that does not ends the
    /// skipping for that partition.
    func skips(_ tp: TopicPartition, _ ms: Int64?) -> Bool {
        guard case .timestamp(let start) = self.start else { return false }
        return seekingTime.withLock { set in
            guard set.contains(tp) else { return false }
            if let ms, ms < start { return true }
            set.remove(tp)
            return false
        }
    }

    /// Sets the offsets of `list`'s entries at `indices` to the first message at or after
    /// `ms` (the end where there is none). When the brokers cannot say, those partitions
    /// start at the beginning, with a warning: nothing is skipped.
    func seek(
        _ rk: OpaquePointer, _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>, _ indices: [Int],
        toTime ms: Int64
    ) {
        let query = rd_kafka_topic_partition_list_new(Int32(indices.count))
        defer { rd_kafka_topic_partition_list_destroy(query) }
        for i in indices {
            let e = list.pointee.elems + i
            if let q = rd_kafka_topic_partition_list_add(query, e.pointee.topic, e.pointee.partition) {
                q.pointee.offset = ms
            }
        }
        let err = rd_kafka_offsets_for_times(rk, query, 10_000)
        for i in indices {
            let e = list.pointee.elems + i
            let q = rd_kafka_topic_partition_list_find(query, e.pointee.topic, e.pointee.partition)
            if err == RD_KAFKA_RESP_ERR_NO_ERROR, let q, q.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                e.pointee.offset = q.pointee.offset >= 0 ? q.pointee.offset : Int64(RD_KAFKA_OFFSET_END)
            } else {
                let reason = errorText(err != RD_KAFKA_RESP_ERR_NO_ERROR ? err : q?.pointee.err ?? err)
                let topic = e.pointee.topic.map { String(cString: $0) } ?? "?"
                warnLine(
                    "Kafka: cannot find the offset of time \(ms) in \(topic)/\(e.pointee.partition) (\(reason)); reading it from the beginning"
                )
                e.pointee.offset = Int64(RD_KAFKA_OFFSET_BEGINNING)
            }
        }
    }

    func revoke(_ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) {
        guard let list else { return }
        var tps: [TopicPartition] = []
        for i in 0..<Int(list.pointee.cnt) {
            let e = list.pointee.elems + i
            if let name = e.pointee.topic { tps.append(TopicPartition(String(cString: name), e.pointee.partition)) }
        }
        seekingTime.withLock { set in for tp in tps { set.remove(tp) } }
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
            h.assign(rk, list)
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
    /// librdkafka's message, for ``headers()``.
    let handle: UnsafeMutablePointer<rd_kafka_message_t>

    /// The message's headers in order, a null value as nil; valid only during the call.
    /// A name that is not UTF-8 comes as nil.
    package func headers() -> [(name: String?, value: UnsafeRawBufferPointer?)] {
        var list: OpaquePointer?
        guard rd_kafka_message_headers(handle, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return [] }
        var out: [(name: String?, value: UnsafeRawBufferPointer?)] = []
        var i = 0
        while true {
            var name: UnsafePointer<CChar>?
            var value: UnsafeRawPointer?
            var size = 0
            guard rd_kafka_header_get_all(list, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR else { break }
            out.append(
                (
                    name.flatMap { String(validatingCString: $0) },
                    value.map { UnsafeRawBufferPointer(start: $0, count: size) }
                ))
            i += 1
        }
        return out
    }
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

    /// Waits up to `timeoutMs` for a first message, then hands it and every other one
    /// already there (at most the batch size) to `body`. Errors librdkafka reports in
    /// place of a message go to `onError` (code, text).
    /// Returns how many messages and errors came.
    package func poll(
        timeoutMs: Int32, _ body: (KafkaMessage) -> Void, onError: (_ fatal: Bool, _ text: String) -> Void
    ) -> Int {
        // rd_kafka_consume_batch_queue returns only once the batch is full or the timeout
        // has passed, which held a partial batch (a topic's tail, a slow trickle) for the
        // whole timeout. So: what is there now; when that is nothing, wait for one
        // message, then take what else came with it.
        let n = batch.withUnsafeMutableBufferPointer { b -> Int in
            guard let base = b.baseAddress else { return 0 }
            let now = rd_kafka_consume_batch_queue(queue, 0, base, b.count)
            guard now == 0 else { return now }
            guard rd_kafka_consume_batch_queue(queue, timeoutMs, base, 1) == 1 else { return 0 }
            return 1 + max(0, rd_kafka_consume_batch_queue(queue, 0, base + 1, b.count - 1))
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
            if handler.skips(TopicPartition(topic, msg.partition), type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : ts)
            {
                continue
            }
            body(
                KafkaMessage(
                    topic: topic, partition: msg.partition, offset: msg.offset,
                    timestamp: type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : ts,
                    key: msg.key.map { UnsafeRawBufferPointer(start: $0, count: msg.key_len) },
                    value: UnsafeRawBufferPointer(start: msg.payload, count: msg.payload == nil ? 0 : msg.len),
                    handle: m))
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

/// The delivery reports of a producer, in the order librdkafka served them: each
/// message's id (the number ``KafkaProducer/produce(topic:value:key:headers:id:)`` was
/// given) and, when it failed for good, librdkafka's reason. librdkafka calls back on
/// the thread that polls the producer (``KafkaProducer/serve()``, ``KafkaProducer/flush()``,
/// a full queue in `produce`), which is the producer's owner: no lock.
final class DeliveryReports {
    var done: [(id: UInt, error: rd_kafka_resp_err_t)] = []
}

private let deliveryCallback:
    @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = {
        _, m, opaque in
        guard let m, let opaque else { return }
        let reports = Unmanaged<DeliveryReports>.fromOpaque(opaque).takeUnretainedValue()
        reports.done.append((UInt(bitPattern: m.pointee._private), m.pointee.err))
    }

/// One header of a message to produce: a name and its bytes.
package struct KafkaHeader: Sendable, Equatable {
    package var name: String
    package var value: [UInt8]
    package init(_ name: String, _ value: [UInt8]) {
        self.name = name
        self.value = value
    }
}

/// A producer (idempotent, `acks=all` unless the client options say otherwise). Each
/// message carries an id; its delivery report (success, or the reason it failed after
/// librdkafka's retries) comes back with that id in ``takeReports()``.
package final class KafkaProducer: @unchecked Sendable {
    // Used from its owner's thread only (librdkafka's handle is thread-safe besides).
    let rk: OpaquePointer
    let reports = DeliveryReports()

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

    /// Queues one message (copied) to `topic`, with `id` for its delivery report; waits
    /// while librdkafka's queue is full. Returns librdkafka's reason when it refuses the
    /// message outright (too large, an invalid topic name); the message then has no report.
    package func produce(
        topic: String, value: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer?, headers: [KafkaHeader], id: UInt
    ) -> KafkaProduceError? {
        while true {
            var list: OpaquePointer?
            if !headers.isEmpty {
                list = rd_kafka_headers_new(headers.count)
                for h in headers {
                    _ = h.value.withUnsafeBytes { v in
                        rd_kafka_header_add(list, h.name, -1, v.baseAddress, v.count)
                    }
                }
            }
            let err = sluice_rd_kafka_produce(
                rk, topic, value.baseAddress, value.count, key?.baseAddress, key?.count ?? 0, list,
                UnsafeMutableRawPointer(bitPattern: id))
            if err == RD_KAFKA_RESP_ERR_NO_ERROR { return nil }
            if let list { rd_kafka_headers_destroy(list) }
            guard err == RD_KAFKA_RESP_ERR__QUEUE_FULL else {
                return KafkaProduceError(code: err, fatal: err == RD_KAFKA_RESP_ERR__FATAL)
            }
            _ = rd_kafka_poll(rk, 50)
        }
    }

    /// Serves delivery reports that are in, without waiting.
    package func serve() { _ = rd_kafka_poll(rk, 0) }

    /// Waits until every queued message is delivered or failed for good (librdkafka
    /// retries until `message.timeout.ms`).
    package func flush() {
        while rd_kafka_outq_len(rk) > 0 { _ = rd_kafka_flush(rk, 1000) }
    }

    /// The delivery reports served since the last call: each message's id, and for one
    /// that failed for good the reason (nil: delivered).
    package func takeReports() -> [(id: UInt, error: KafkaProduceError?)] {
        guard !reports.done.isEmpty else { return [] }
        defer { reports.done.removeAll(keepingCapacity: true) }
        return reports.done.map { r in
            (
                r.id,
                r.error == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaProduceError(code: r.error, fatal: isFatal(r.error))
            )
        }
    }

    /// True when `code` is a fatal error of the producer (idempotence broken): it
    /// produces nothing more.
    func isFatal(_ code: rd_kafka_resp_err_t) -> Bool {
        code == RD_KAFKA_RESP_ERR__FATAL || rd_kafka_fatal_error(rk, nil, 0) != RD_KAFKA_RESP_ERR_NO_ERROR
    }

    /// Frees the client (after ``flush()``).
    package func close() { rd_kafka_destroy(rk) }
}

/// Why a message could not be produced or delivered.
package struct KafkaProduceError: Error, Sendable, CustomStringConvertible {
    let code: rd_kafka_resp_err_t
    /// The producer can produce nothing more (its fatal error state).
    package let fatal: Bool
    package var description: String { errorText(code) }
}
