import Dispatch
import SluiceCore
import SluiceJSON

#if canImport(Glibc)
    import Glibc
#endif

/// How a `rabbitmq` output publishes (docs/rabbitmq.md).
package struct RabbitMQOutputConfig: Sendable {
    /// `amqp://user:password@host:port/vhost`.
    package var url: String
    /// The exchange published to (`""`: the default exchange, routing key = queue).
    package var exchange: String
    /// Declare the exchange (durable) with this type first, or nil.
    package var declareType: String?
    /// Delivery mode 2 (the broker writes the message to disk in a durable queue).
    package var persistent = true
    /// The `content-type` property.
    package var contentType: String? = "application/json"
    /// Publish with `mandatory`: a message no queue takes comes back (and is reported).
    package var mandatory = true
    /// Where messages the broker returned or refused go, as JSON lines; nil: they fail the run.
    package var returnedPath: String?

    package init(url: String, exchange: String) {
        self.url = url
        self.exchange = exchange
    }
}

/// Publishes events to a RabbitMQ exchange with publisher confirms.
///
/// Every flush (and every checkpoint's ``commit()``) waits until the broker has confirmed
/// everything published so far, so a checkpoint never covers an unconfirmed message.
/// Confirms are tracked by delivery tag (they come out of order, and with `multiple`).
/// A message the broker returns (unroutable, with `mandatory`) or nacks is written to
/// ``RabbitMQOutputConfig/returnedPath``, or fails the run when there is none: never
/// dropped silently.
///
/// A lost connection (a broker restart, a network failure) is opened again with backoff
/// (``reconnect(after:)``), and every message not confirmed yet is published again on it:
/// at-least-once, never a failed run for a broker that comes back within
/// ``reconnectLimit`` seconds.
package final class RabbitMQSink: CheckpointedSink {
    /// A published message kept until the broker confirms it, to publish it again after
    /// a lost connection.
    struct Unconfirmed {
        var body: [UInt8]
        var key: String
        var id: String?
    }

    package let name: String
    let config: RabbitMQOutputConfig
    /// The routing key of an event, or why there is none.
    let routingKey: (Event) -> Result<String, AMQPError>
    /// The message id of an event, or nil.
    let messageID: ((Event) -> String?)?
    var conn: AMQPConnection?
    /// Published, not yet confirmed: delivery tag → the message.
    var unconfirmed: [UInt64: Unconfirmed] = [:]
    var nextTag: UInt64 = 1
    /// Reported messages (returned, nacked, without a routing key), as JSON lines.
    var failures: [UInt8] = []
    var failureCount = 0
    var returnedFD: Int32 = -1
    /// Counts for tests and stats.
    package private(set) var published = 0
    package private(set) var confirmed = 0
    /// Connections opened again after one was lost.
    package private(set) var reconnects = 0
    /// How long a lost connection is tried again before the run fails, in seconds.
    let reconnectLimit: Double

    package init(
        name: String, config: RabbitMQOutputConfig, routingKey: @escaping (Event) -> Result<String, AMQPError>,
        messageID: ((Event) -> String?)? = nil, reconnectLimit: Double = 120
    ) {
        self.name = name
        self.config = config
        self.routingKey = routingKey
        self.messageID = messageID
        self.reconnectLimit = reconnectLimit
    }

    /// Connects, declares the exchange if asked, and turns on confirms.
    func open() throws(AMQPError) -> AMQPConnection {
        let address: AMQPAddress
        switch AMQPAddress.parse(config.url) {
        case .success(let a): address = a
        case .failure(let e): throw e
        }
        let c = try AMQPConnection(address)
        if let type = config.declareType { try c.declareExchange(config.exchange, type: type, durable: true) }
        try c.confirmSelect()
        return c
    }

    /// The connection, opened on first use (a failure then ends the run at once: wrong
    /// credentials, no broker).
    func connection() throws -> AMQPConnection {
        if let conn { return conn }
        do throws(AMQPError) {
            let c = try open()
            conn = c
            return c
        } catch {
            throw SinkError.failed("output '\(name)': \(error.message)")
        }
    }

    /// After `error` lost the connection: connects again with backoff (0.1 s doubling to
    /// 2 s) and publishes every unconfirmed message again, in the order first published.
    /// Logins the broker refuses while it starts are tried again too; a channel the broker
    /// closes (an exchange it refuses), or no connection within ``reconnectLimit``
    /// seconds, fails the run.
    func reconnect(after error: AMQPError) throws -> AMQPConnection {
        if error.isRefused { throw SinkError.failed("output '\(name)': \(error.message)") }
        conn?.abandon()
        conn = nil
        let waiting = unconfirmed.keys.sorted().compactMap { unconfirmed[$0] }
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(reconnectLimit * 1e9)
        var delay: UInt32 = 100_000
        var last = error
        while DispatchTime.now().uptimeNanoseconds < deadline {
            usleep(delay)
            delay = min(delay * 2, 2_000_000)
            var c: AMQPConnection?
            do throws(AMQPError) {
                let fresh = try open()
                c = fresh
                // Delivery tags start again at 1 on the new channel.
                var again: [UInt64: Unconfirmed] = [:]
                var tag: UInt64 = 1
                for m in waiting {
                    try publish(fresh, m)
                    again[tag] = m
                    tag += 1
                }
                unconfirmed = again
                nextTag = tag
                conn = fresh
                reconnects += 1
                return fresh
            } catch {
                c?.abandon()
                if error.isRefused { throw SinkError.failed("output '\(name)': \(error.message)") }
                last = error
            }
        }
        throw SinkError.failed(
            "output '\(name)': lost the connection (\(error.message)) and could not publish again within \(Int(reconnectLimit))s: \(last.message)"
        )
    }

    /// Publishes one message on `c` (no wait for the broker).
    func publish(_ c: AMQPConnection, _ m: Unconfirmed) throws(AMQPError) {
        let sent = m.body.withUnsafeBytes { (b: UnsafeRawBufferPointer) -> AMQPError? in
            do throws(AMQPError) {
                try c.publish(
                    exchange: config.exchange, routingKey: m.key, body: b, persistent: config.persistent,
                    contentType: config.contentType, messageID: m.id, mandatory: config.mandatory)
                return nil
            } catch {
                return error
            }
        }
        if let sent { throw sent }
    }

    package func write(_ events: [Event]) throws {
        var c = try connection()
        var body: [UInt8] = []
        for e in events {
            body.removeAll(keepingCapacity: true)
            e.write(into: &body)
            let key: String
            switch routingKey(e) {
            case .success(let k): key = k
            case .failure(let why):
                report(body: body, exchange: config.exchange, key: "", reason: "no routing key: \(why.message)")
                continue
            }
            let m = Unconfirmed(body: body, key: key, id: messageID?(e))
            do throws(AMQPError) {
                try publish(c, m)
                unconfirmed[nextTag] = m
                nextTag += 1
            } catch {
                // Published again with the unconfirmed ones, on the new connection.
                unconfirmed[UInt64.max] = m
                c = try reconnect(after: error)
            }
            published += 1
            // Take what the broker has sent back so far, without waiting.
            if unconfirmed.count > 10_000 { try drain(wait: true, until: 5_000) } else { try drain(wait: false) }
            c = try connection()
        }
    }

    /// Reads confirms and returns: all of them (`wait`) until at most `until` are
    /// unconfirmed, or only those already there. A lost connection is opened again
    /// (``reconnect(after:)``), and the messages published again are waited for.
    func drain(wait: Bool, until: Int = 0) throws {
        guard var c = conn else { return }
        while true {
            if wait && unconfirmed.count <= until { return }
            let event: AMQPPublishEvent?
            do throws(AMQPError) {
                event = try c.nextPublishEvent(timeoutMs: wait ? 30_000 : 0)
            } catch {
                c = try reconnect(after: error)
                continue
            }
            guard let event else {
                if wait {
                    throw SinkError.failed(
                        "output '\(name)': the broker confirmed none of \(unconfirmed.count) messages within 30s")
                }
                return
            }
            switch event {
            case .ack(let tag, let multiple):
                confirmed += settle(tag, multiple: multiple).count
            case .nack(let tag, let multiple):
                for m in settle(tag, multiple: multiple) {
                    report(body: m.body, exchange: config.exchange, key: m.key, reason: "nacked by the broker")
                }
            case .returned(let body, let exchange, let key, let reason):
                report(body: body, exchange: exchange, key: key, reason: "returned: \(reason)")
            }
        }
    }

    /// Removes the messages a confirm settles.
    func settle(_ tag: UInt64, multiple: Bool) -> [Unconfirmed] {
        if !multiple { return unconfirmed.removeValue(forKey: tag).map { [$0] } ?? [] }
        let done = unconfirmed.keys.filter { $0 <= tag }.sorted()
        return done.compactMap { unconfirmed.removeValue(forKey: $0) }
    }

    func report(body: [UInt8], exchange: String, key: String, reason: String) {
        var err = JSONObject(minimumCapacity: 4)
        err.appendUnchecked(key: "message", value: .string(reason))
        err.appendUnchecked(key: "output", value: .string(name))
        err.appendUnchecked(key: "exchange", value: .string(exchange))
        err.appendUnchecked(key: "routing_key", value: .string(key))
        var o = JSONObject(minimumCapacity: 2)
        o.appendUnchecked(key: "error", value: .object(err))
        o.appendUnchecked(
            key: "event",
            value: (try? JSONParser.parse(body)) ?? .string(String(decoding: body, as: UTF8.self)))
        JSONWriter.write(.object(o), into: &failures)
        failures.append(0x0A)
        failureCount += 1
    }

    /// Writes the reported messages out, or fails the run when there is nowhere to write.
    func writeFailures() throws {
        guard !failures.isEmpty else { return }
        guard let path = config.returnedPath else {
            throw SinkError.failed(
                "output '\(name)': \(failureCount) message(s) were not taken by the broker (first: \(String(decoding: failures.prefix(300), as: UTF8.self).split(separator: "\n").first ?? "")); give the output 'returned: FILE' to keep them and go on"
            )
        }
        if returnedFD < 0 {
            returnedFD = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            if returnedFD < 0 {
                throw SinkError.failed("output '\(name)': cannot open '\(path)': \(String(cString: strerror(errno)))")
            }
        }
        var off = 0
        while off < failures.count {
            let n = failures[off...].withUnsafeBytes { Glibc.write(returnedFD, $0.baseAddress, $0.count) }
            if n <= 0 { throw SinkError.failed("output '\(name)': cannot write '\(path)'") }
            off += n
        }
        fsync(returnedFD)
        failures.removeAll()
    }

    package func flush() throws {
        try drain(wait: true)
        try writeFailures()
    }

    package func commit() throws -> [UInt8] {
        try flush()
        return []
    }

    package func close() throws {
        try flush()
        conn?.close()
        conn = nil
        if returnedFD >= 0 { Glibc.close(returnedFD) }
    }
}
