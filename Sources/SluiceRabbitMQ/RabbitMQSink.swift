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
package final class RabbitMQSink: CheckpointedSink {
    package let name: String
    let config: RabbitMQOutputConfig
    /// The routing key of an event, or why there is none.
    let routingKey: (Event) -> Result<String, AMQPError>
    /// The message id of an event, or nil.
    let messageID: ((Event) -> String?)?
    var conn: AMQPConnection?
    /// Published, not yet confirmed: delivery tag → the body and routing key.
    var unconfirmed: [UInt64: (body: [UInt8], key: String)] = [:]
    var nextTag: UInt64 = 1
    /// Reported messages (returned, nacked, without a routing key), as JSON lines.
    var failures: [UInt8] = []
    var failureCount = 0
    var returnedFD: Int32 = -1
    /// Counts for tests and stats.
    package private(set) var published = 0
    package private(set) var confirmed = 0

    package init(
        name: String, config: RabbitMQOutputConfig, routingKey: @escaping (Event) -> Result<String, AMQPError>,
        messageID: ((Event) -> String?)? = nil
    ) {
        self.name = name
        self.config = config
        self.routingKey = routingKey
        self.messageID = messageID
    }

    func connection() throws -> AMQPConnection {
        if let conn { return conn }
        do throws(AMQPError) {
            let address: AMQPAddress
            switch AMQPAddress.parse(config.url) {
            case .success(let a): address = a
            case .failure(let e): throw e
            }
            let c = try AMQPConnection(address)
            if let type = config.declareType { try c.declareExchange(config.exchange, type: type, durable: true) }
            try c.confirmSelect()
            conn = c
            return c
        } catch {
            throw SinkError.failed("output '\(name)': \(error.message)")
        }
    }

    package func write(_ events: [Event]) throws {
        let c = try connection()
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
            let id = messageID?(e)
            let sent = body.withUnsafeBytes { (b: UnsafeRawBufferPointer) -> AMQPError? in
                do throws(AMQPError) {
                    try c.publish(
                        exchange: config.exchange, routingKey: key, body: b, persistent: config.persistent,
                        contentType: config.contentType, messageID: id, mandatory: config.mandatory)
                    return nil
                } catch {
                    return error
                }
            }
            if let sent { throw SinkError.failed("output '\(name)': \(sent.message)") }
            unconfirmed[nextTag] = (body, key)
            nextTag += 1
            published += 1
            // Take what the broker has sent back so far, without waiting.
            if unconfirmed.count > 10_000 { try drain(c, wait: true, until: 5_000) } else { try drain(c, wait: false) }
        }
    }

    /// Reads confirms and returns: all of them (`wait`) until at most `until` are
    /// unconfirmed, or only those already there.
    func drain(_ c: AMQPConnection, wait: Bool, until: Int = 0) throws {
        while true {
            if wait && unconfirmed.count <= until { return }
            let event: AMQPPublishEvent?
            do throws(AMQPError) {
                event = try c.nextPublishEvent(timeoutMs: wait ? 30_000 : 0)
            } catch {
                throw SinkError.failed("output '\(name)': \(error.message)")
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
    func settle(_ tag: UInt64, multiple: Bool) -> [(body: [UInt8], key: String)] {
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
            returnedFD = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
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
        guard let c = conn else { return }
        try drain(c, wait: true)
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
