import SluiceCore
import SluiceJSON
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// How a `rabbitmq` input connects and what it declares (docs/rabbitmq.md).
package struct RabbitMQInputConfig: Sendable, Equatable {
    /// `amqp://user:password@host:port/vhost`.
    package var url: String
    /// The queue consumed.
    package var queue: String
    /// `exchange:` to declare and bind the queue to (with `bindings`), or nil.
    package var exchange: String?
    /// The exchange's type (`topic` by default).
    package var exchangeType: String = "topic"
    /// Declare the queue (durable) when there is a topology; otherwise it must exist.
    package var declareQueue = false
    /// Routing patterns binding the queue to ``exchange``.
    package var bindings: [String] = []
    /// The queue's arguments when it is declared (`x-dead-letter-exchange`, `x-message-ttl`, ...).
    package var queueArguments: [String: AMQPArgument] = [:]
    /// At most this many unacked deliveries (the broker's QoS window).
    package var prefetch = 500
    /// The consumer tag (empty: the broker picks one).
    package var consumerTag = ""
    /// Add the `amqp` field (routing key, exchange, message id, headers, redelivered).
    package var metadata = true

    package init(url: String, queue: String) {
        self.url = url
        self.queue = queue
    }
}

/// Consumes a RabbitMQ queue. Every delivery is acked only when a checkpoint that covers
/// everything it produced is on disk (``checkpointCompleted(_:)``), in batches with
/// `multiple`; in a run without checkpoints, the barriers of flush-only rounds
/// (``CheckpointCoordinator/flushOnly``) ack it once every output has made its results
/// durable. A body that is not JSON goes to the input's `malformed` port, and is acked
/// like any other delivery.
package final class RabbitMQSource: EventSource, CheckpointListener, @unchecked Sendable {
    package let name: String
    package let config: RabbitMQInputConfig

    /// What the source thread and the checkpoint writer's thread share.
    struct Acks {
        /// Barriers sent, each with the last delivery tag emitted before it.
        var covered: [(barrier: Int, tag: UInt64)] = []
        /// Checkpoints on disk cover deliveries up to this tag.
        var ackUpTo: UInt64 = 0
        /// Acked up to this tag.
        var acked: UInt64 = 0
        /// The source thread has returned: the checkpoint writer acks on its own.
        var ended = false
        var connection: AMQPConnection?
    }
    let acks = Mutex(Acks())

    package init(name: String, config: RabbitMQInputConfig) {
        self.name = name
        self.config = config
    }

    /// Connects and declares what the configuration asks for.
    func connect() throws(AMQPError) -> AMQPConnection {
        let address: AMQPAddress
        switch AMQPAddress.parse(config.url) {
        case .success(let a): address = a
        case .failure(let e): throw e
        }
        let conn = try AMQPConnection(address)
        if let exchange = config.exchange {
            try conn.declareExchange(exchange, type: config.exchangeType, durable: true)
        }
        if config.declareQueue {
            try conn.declareQueue(config.queue, durable: true, arguments: config.queueArguments)
        } else {
            try conn.checkQueue(config.queue)
        }
        if let exchange = config.exchange {
            for pattern in config.bindings { try conn.bind(queue: config.queue, exchange: exchange, pattern: pattern) }
        }
        try conn.consume(config.queue, prefetch: config.prefetch, tag: config.consumerTag)
        return conn
    }

    package func run(_ out: SourceOutput) throws {
        var conn: AMQPConnection
        do {
            conn = try connect()
        } catch {
            throw SourceError("input '\(name)': \(error.message)")
        }
        acks.withLock { $0.connection = conn }
        var lastTag: UInt64 = 0
        var requestedAt: UInt64 = 0
        let window = UInt64(max(1, config.prefetch / 2))
        defer {
            let final = (out.lastBarrier + 1, lastTag)
            acks.withLock {
                $0.covered.append(final)
                $0.ended = true
            }
        }
        while !out.isCancelled {
            do throws(AMQPError) {
                try ackDue(conn)
                var good: [Event] = []
                var bad: [Event] = []
                var newest = lastTag
                // While deliveries wait for their checkpoint, look again soon to ack them.
                let waiting = acks.withLock { $0.acked } < lastTag
                if var d = try conn.next(timeoutMs: waiting ? 10 : 100) {
                    while true {
                        newest = d.deliveryTag
                        switch decode(d) {
                        case .event(let e): good.append(e)
                        case .malformed(let e): bad.append(e)
                        }
                        if good.count + bad.count >= 256 { break }
                        guard let n = try conn.next(timeoutMs: 0) else { break }
                        d = n
                    }
                }
                let before = out.lastBarrier
                out.emit(good)
                if out.lastBarrier > before {
                    let entry = (out.lastBarrier, lastTag)
                    acks.withLock { $0.covered.append(entry) }
                }
                out.emit(port: SourcePort.malformed, bad)
                lastTag = newest
                let acked = acks.withLock { $0.ackUpTo }
                if lastTag > acked && lastTag - max(acked, requestedAt) >= window {
                    // A full window stops the broker: ask for the checkpoint that lets it be acked.
                    out.requestCheckpoint()
                    requestedAt = lastTag
                }
            } catch {
                // The connection is gone (a broker restart, a network failure): the broker
                // redelivers what was not acked, on a new connection whose delivery tags
                // start again at 1, so the old tags are forgotten.
                guard let fresh = try reconnect(conn, after: error, out) else { return }
                conn = fresh
                lastTag = 0
                requestedAt = 0
            }
        }
    }

    /// Connects again with backoff (0.1 s doubling to 2 s) until it works or the run is
    /// cancelled (nil). A restarting broker accepts connections before it accepts logins
    /// and while it still recovers its queues, so a refused login or a refused queue is
    /// retried too; only when it lasts ``refusalGrace`` does it end the run. Each new
    /// reason is written to stderr once.
    func reconnect(_ old: AMQPConnection, after error: AMQPError, _ out: SourceOutput) throws -> AMQPConnection? {
        old.abandon()
        acks.withLock { a in
            a.connection = nil
            a.covered = []
            a.ackUpTo = 0
            a.acked = 0
        }
        warnLine("input '\(name)': connection lost (\(error.message)); reconnecting")
        var delay: UInt32 = 100_000
        var lastReason = ""
        var refusedSince: ContinuousClock.Instant?
        while !out.isCancelled {
            usleep(delay)
            do throws(AMQPError) {
                let conn = try connect()
                acks.withLock { $0.connection = conn }
                warnLine("input '\(name)': reconnected")
                return conn
            } catch {
                if error.message != lastReason {
                    lastReason = error.message
                    warnLine("input '\(name)': reconnecting failed: \(error.message); retrying")
                }
                if error.isLogin || error.isRefused {
                    let since = refusedSince ?? .now
                    refusedSince = since
                    if ContinuousClock.now - since > Self.refusalGrace {
                        throw SourceError("input '\(name)': \(error.message)")
                    }
                } else {
                    refusedSince = nil
                }
                delay = min(delay * 2, 2_000_000)
            }
        }
        return nil
    }

    /// How long a refused login or queue may last while reconnecting before the run ends.
    static let refusalGrace = Duration.seconds(60)

    /// Acks what the checkpoints written so far cover (on the source's thread).
    func ackDue(_ conn: AMQPConnection) throws(AMQPError) {
        let due = acks.withLock { a -> UInt64? in
            guard a.ackUpTo > a.acked else { return nil }
            a.acked = a.ackUpTo
            return a.ackUpTo
        }
        if let due { try conn.ack(due, multiple: true) }
    }

    package func checkpointCompleted(_ id: Int) {
        acks.withLock { a in
            while let first = a.covered.first, first.barrier <= id {
                a.ackUpTo = max(a.ackUpTo, first.tag)
                a.covered.removeFirst()
            }
            guard a.ended, let conn = a.connection else { return }
            // The source has stopped: ack here, and close once nothing is left to ack.
            if a.ackUpTo > a.acked {
                try? conn.ack(a.ackUpTo, multiple: true)
                a.acked = a.ackUpTo
            }
            if a.covered.isEmpty {
                conn.close()
                a.connection = nil
            }
        }
    }

    /// A delivery decoded: an event, or the record of a body that is not JSON.
    enum Decoded {
        case event(Event)
        case malformed(Event)
    }

    /// The delivery as an event (with the `amqp` field), or a malformed record.
    func decode(_ d: AMQPDelivery) -> Decoded {
        let value: JSON
        do {
            value = try JSONParser.parse(d.body)
        } catch {
            return .malformed(malformed(d, "not JSON: \(error)"))
        }
        guard config.metadata, case .object(var o) = value else { return .event(Event(value)) }
        var m = JSONObject(minimumCapacity: 6)
        m.appendUnchecked(key: "routing_key", value: .string(d.routingKey))
        m.appendUnchecked(key: "exchange", value: .string(d.exchange))
        m.appendUnchecked(key: "message_id", value: d.messageID.map { .string($0) } ?? .null)
        m.appendUnchecked(key: "redelivered", value: .bool(d.redelivered))
        m.appendUnchecked(key: "headers", value: .object(d.headers))
        o["amqp"] = .object(m)
        return .event(Event(.object(o)))
    }

    func malformed(_ d: AMQPDelivery, _ message: String) -> Event {
        var err = JSONObject(minimumCapacity: 4)
        err.appendUnchecked(key: "message", value: .string(message))
        err.appendUnchecked(key: "routing_key", value: .string(d.routingKey))
        err.appendUnchecked(key: "redelivered", value: .bool(d.redelivered))
        if let id = d.messageID { err.appendUnchecked(key: "message_id", value: .string(id)) }
        var o = JSONObject(minimumCapacity: 2)
        o.appendUnchecked(key: "error", value: .object(err))
        o.appendUnchecked(key: "raw", value: .string(String(decoding: d.body.prefix(4096), as: UTF8.self)))
        return Event(.object(o))
    }
}
