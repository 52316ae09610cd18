import CRabbitMQ
import SluiceJSON

#if canImport(Glibc)
    import Glibc
#endif

/// A failure talking to a RabbitMQ broker, worded for the user.
package struct AMQPError: Error, Sendable, CustomStringConvertible {
    /// What failed and why.
    package var message: String
    /// True when the broker refused the login (wrong user name or password, unknown vhost).
    package var isLogin = false
    /// True when the broker refused an operation and closed the channel (a queue that
    /// does not exist, a redeclare with other arguments): connecting again will not help.
    package var isRefused = false
    package init(_ message: String, isLogin: Bool = false, isRefused: Bool = false) {
        self.message = message
        self.isLogin = isLogin
        self.isRefused = isRefused
    }
    package var description: String { message }
}

/// Where a broker is: the parts of `amqp://user:pass@host:port/vhost`.
package struct AMQPAddress: Sendable, Equatable {
    package var host: String
    package var port: Int
    package var user: String
    package var password: String
    package var vhost: String

    /// Parses an `amqp://` URL; nil with the reason when it is not one.
    package static func parse(_ url: String) -> Result<AMQPAddress, AMQPError> {
        var info = amqp_connection_info()
        var copy = Array(url.utf8CString)
        let status = copy.withUnsafeMutableBufferPointer { b -> Int32 in
            amqp_default_connection_info(&info)
            return amqp_parse_url(b.baseAddress, &info)
        }
        guard status == AMQP_STATUS_OK.rawValue, info.ssl == 0 else {
            return .failure(
                AMQPError(
                    info.ssl != 0
                        ? "'\(url)': amqps:// (TLS) is not supported"
                        : "'\(url)' is not an amqp:// URL (amqp://user:password@host:port/vhost)"
                ))
        }
        func text(_ p: UnsafeMutablePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }
        return withExtendedLifetime(copy) {
            .success(
                AMQPAddress(
                    host: text(info.host), port: Int(info.port), user: text(info.user), password: text(info.password),
                    // `amqp://host:5672/` means the default vhost, as in every other client.
                    vhost: text(info.vhost).isEmpty ? "/" : text(info.vhost)))
        }
    }

    /// The URL without the password, for messages.
    package var display: String { "amqp://\(user)@\(host):\(port)/\(vhost == "/" ? "" : vhost)" }
}

/// A value in an AMQP arguments table (a queue's `x-dead-letter-exchange`, `x-message-ttl`).
package enum AMQPArgument: Sendable, Equatable {
    case string(String)
    case int(Int64)
    case bool(Bool)
}

/// One delivery from a queue: the body and the metadata expressions can read.
package struct AMQPDelivery {
    package var body: [UInt8]
    package var deliveryTag: UInt64
    package var redelivered: Bool
    package var exchange: String
    package var routingKey: String
    package var messageID: String?
    package var contentType: String?
    /// The message's headers as a JSON object (strings, numbers, booleans; others as null).
    package var headers: JSONObject
}

/// What the broker said about published messages (publisher confirms and returns).
package enum AMQPPublishEvent {
    /// Messages up to and including `tag` (or only `tag`) were confirmed.
    case ack(tag: UInt64, multiple: Bool)
    /// Messages up to and including `tag` (or only `tag`) were refused.
    case nack(tag: UInt64, multiple: Bool)
    /// A `mandatory` message no queue took, with the broker's reason.
    case returned(body: [UInt8], exchange: String, routingKey: String, reason: String)
}

/// A connection with one channel (channel 1) to a RabbitMQ broker, over librabbitmq.
///
/// Not thread-safe (nor is librabbitmq's connection): use it from one thread at a time; it is
/// `Sendable` only so that an owner can hand it to another thread (under a lock).
package final class AMQPConnection: @unchecked Sendable {
    private let conn: amqp_connection_state_t
    package let address: AMQPAddress
    private var open = true
    /// False once the broker closed channel 1 (or the connection, or it was lost).
    private var channelOpen = true
    /// False once the broker closed the connection or it was lost.
    private var connectionOpen = true

    /// Connects, logs in and opens channel 1.
    package init(_ address: AMQPAddress, timeoutSeconds: Int = 10) throws(AMQPError) {
        self.address = address
        guard let c = amqp_new_connection() else { throw AMQPError("cannot allocate an AMQP connection") }
        conn = c
        // From here a throw runs deinit, which destroys the connection.
        guard let socket = amqp_tcp_socket_new(c) else {
            connectionOpen = false
            throw AMQPError("cannot create a socket for \(address.display)")
        }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        let status = amqp_socket_open_noblock(socket, address.host, Int32(address.port), &tv)
        guard status == AMQP_STATUS_OK.rawValue else {
            connectionOpen = false
            throw AMQPError("cannot connect to \(address.display): \(String(cString: amqp_error_string2(status)))")
        }
        let login = sluice_amqp_login_plain(c, address.vhost, 131072, address.user, address.password)
        if login.reply_type != AMQP_RESPONSE_NORMAL {
            let why = Self.describe(login)
            connectionOpen = false
            throw AMQPError(
                "cannot log in to \(address.display) as '\(address.user)': \(why) (wrong user name or password, or no access to vhost '\(address.vhost)')",
                isLogin: true)
        }
        amqp_channel_open(c, 1)
        try check("cannot open a channel on \(address.display)")
    }

    deinit { close() }

    /// Closes the channel and the connection (once).
    package func close() {
        guard open else { return }
        open = false
        if connectionOpen {
            if channelOpen { _ = amqp_channel_close(conn, 1, Int32(AMQP_REPLY_SUCCESS)) }
            _ = amqp_connection_close(conn, Int32(AMQP_REPLY_SUCCESS))
        }
        amqp_destroy_connection(conn)
    }

    /// Drops the connection at once without the closing handshake (for a broken one).
    package func abandon() {
        guard open else { return }
        open = false
        amqp_destroy_connection(conn)
    }

    /// Turns an RPC reply into words.
    static func describe(_ r: amqp_rpc_reply_t) -> String {
        switch r.reply_type {
        case AMQP_RESPONSE_NORMAL: return "ok"
        case AMQP_RESPONSE_NONE: return "no reply from the broker"
        case AMQP_RESPONSE_LIBRARY_EXCEPTION: return String(cString: amqp_error_string2(r.library_error))
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            if r.reply.id == 0x000A_0032, let d = r.reply.decoded {
                let m = d.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                return "the broker closed the connection: \(m.reply_code) \(string(m.reply_text))"
            }
            if r.reply.id == 0x0014_0028, let d = r.reply.decoded {
                let m = d.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                return "the broker closed the channel: \(m.reply_code) \(string(m.reply_text))"
            }
            return "the broker replied with method \(r.reply.id)"
        default: return "unknown reply"
        }
    }

    static func string(_ b: amqp_bytes_t) -> String {
        guard b.len > 0, let p = b.bytes else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: b.len), as: UTF8.self)
    }

    static func bytes(_ b: amqp_bytes_t) -> [UInt8] {
        guard b.len > 0, let p = b.bytes else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: b.len))
    }

    private func check(_ what: String) throws(AMQPError) {
        let r = amqp_get_rpc_reply(conn)
        if r.reply_type == AMQP_RESPONSE_NORMAL { return }
        let message = "\(what): \(Self.describe(r))"
        closed(by: r)
        throw AMQPError(
            message, isRefused: r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == 0x0014_0028)
    }

    /// Answers a close from the broker (which librabbitmq leaves to the caller) and notes
    /// what is no longer open.
    private func closed(by r: amqp_rpc_reply_t) {
        guard r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION else {
            if r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION {
                channelOpen = false
                connectionOpen = false
            }
            return
        }
        if r.reply.id == 0x0014_0028 {
            var ok = amqp_channel_close_ok_t()
            _ = amqp_send_method(conn, 1, 0x0014_0029, &ok)
            channelOpen = false
        } else if r.reply.id == 0x000A_0032 {
            var ok = amqp_connection_close_ok_t()
            _ = amqp_send_method(conn, 0, 0x000A_0033, &ok)
            channelOpen = false
            connectionOpen = false
        }
    }

    /// Calls `body` with `s` as borrowed `amqp_bytes_t`.
    @discardableResult
    private func withBytes<R>(_ s: String, _ body: (amqp_bytes_t) throws(AMQPError) -> R) throws(AMQPError) -> R {
        var copy = Array(s.utf8)
        let count = copy.count
        let r = copy.withUnsafeMutableBytes { (b: UnsafeMutableRawBufferPointer) -> Result<R, AMQPError> in
            do throws(AMQPError) {
                return .success(try body(amqp_bytes_t(len: count, bytes: b.baseAddress)))
            } catch {
                return .failure(error)
            }
        }
        return try r.get()
    }

    /// Declares an exchange (`type`: direct, topic, fanout, headers).
    package func declareExchange(_ name: String, type: String, durable: Bool) throws(AMQPError) {
        try withBytes(name) { (n: amqp_bytes_t) throws(AMQPError) in
            try withBytes(type) { (t: amqp_bytes_t) throws(AMQPError) in
                amqp_exchange_declare(conn, 1, n, t, 0, durable ? 1 : 0, 0, 0, amqp_empty_table)
            }
        }
        try check("cannot declare exchange '\(name)'")
    }

    /// Declares a queue, with `arguments` (`x-dead-letter-exchange`, ...).
    package func declareQueue(
        _ name: String, durable: Bool, arguments: [String: AMQPArgument] = [:]
    ) throws(AMQPError) {
        try withBytes(name) { (n: amqp_bytes_t) throws(AMQPError) in
            Self.withTable(arguments) { table in
                _ = amqp_queue_declare(conn, 1, n, 0, durable ? 1 : 0, 0, 0, table)
            }
        }
        try check("cannot declare queue '\(name)'")
    }

    /// Calls `body` with `arguments` as an AMQP table (keys in order), valid during the call.
    static func withTable(_ arguments: [String: AMQPArgument], _ body: (amqp_table_t) -> Void) {
        guard !arguments.isEmpty else { return body(amqp_empty_table) }
        var owned: [UnsafeMutableRawPointer] = []
        defer { for p in owned { p.deallocate() } }
        func bytes(_ s: String) -> amqp_bytes_t {
            let u = Array(s.utf8)
            let p = UnsafeMutableRawPointer.allocate(byteCount: max(u.count, 1), alignment: 1)
            owned.append(p)
            u.withUnsafeBytes { b in
                if let base = b.baseAddress { p.copyMemory(from: base, byteCount: b.count) }
            }
            return amqp_bytes_t(len: u.count, bytes: p)
        }
        let sorted = arguments.sorted { $0.key < $1.key }
        let entries = UnsafeMutablePointer<amqp_table_entry_t>.allocate(capacity: sorted.count)
        defer { entries.deallocate() }
        for (i, (key, argument)) in sorted.enumerated() {
            var value = amqp_field_value_t()
            switch argument {
            case .string(let s):
                value.kind = UInt8(ascii: "S")
                value.value.bytes = bytes(s)
            case .int(let n):
                value.kind = UInt8(ascii: "l")
                value.value.i64 = n
            case .bool(let b):
                value.kind = UInt8(ascii: "t")
                value.value.boolean = b ? 1 : 0
            }
            (entries + i).initialize(to: amqp_table_entry_t(key: bytes(key), value: value))
        }
        body(amqp_table_t(num_entries: Int32(sorted.count), entries: entries))
    }

    /// Checks that a queue exists (a passive declare).
    package func checkQueue(_ name: String) throws(AMQPError) {
        try withBytes(name) { (n: amqp_bytes_t) throws(AMQPError) in
            amqp_queue_declare(conn, 1, n, 1, 0, 0, 0, amqp_empty_table)
        }
        try check("queue '\(name)' cannot be used")
    }

    /// How many messages wait in `queue` (ready, not counting those delivered and unacked).
    package func messageCount(_ queue: String) throws(AMQPError) -> Int {
        let ok = try withBytes(queue) { (n: amqp_bytes_t) throws(AMQPError) in
            amqp_queue_declare(conn, 1, n, 1, 0, 0, 0, amqp_empty_table)
        }
        try check("queue '\(queue)' cannot be used")
        return Int(ok?.pointee.message_count ?? 0)
    }

    /// Binds a queue to an exchange with a routing pattern.
    package func bind(queue: String, exchange: String, pattern: String) throws(AMQPError) {
        try withBytes(queue) { (q: amqp_bytes_t) throws(AMQPError) in
            try withBytes(exchange) { (e: amqp_bytes_t) throws(AMQPError) in
                try withBytes(pattern) { (p: amqp_bytes_t) throws(AMQPError) in
                    amqp_queue_bind(conn, 1, q, e, p, amqp_empty_table)
                }
            }
        }
        try check("cannot bind queue '\(queue)' to exchange '\(exchange)' with '\(pattern)'")
    }

    /// Starts consuming `queue` with manual acks, at most `prefetch` unacked at a time.
    package func consume(_ queue: String, prefetch: Int, tag: String) throws(AMQPError) {
        amqp_basic_qos(conn, 1, 0, UInt16(clamping: prefetch), 0)
        try check("cannot set prefetch \(prefetch)")
        try withBytes(queue) { (q: amqp_bytes_t) throws(AMQPError) in
            try withBytes(tag) { (t: amqp_bytes_t) throws(AMQPError) in
                amqp_basic_consume(conn, 1, q, t, 0, 0, 0, amqp_empty_table)
            }
        }
        try check("cannot consume queue '\(queue)'")
    }

    /// The next delivery, waiting up to `timeoutMs`; nil when none came in time.
    package func next(timeoutMs: Int) throws(AMQPError) -> AMQPDelivery? {
        amqp_maybe_release_buffers(conn)
        var envelope = amqp_envelope_t()
        let r = sluice_amqp_consume(conn, &envelope, Int32(timeoutMs))
        if r.reply_type == AMQP_RESPONSE_NORMAL {
            defer { amqp_destroy_envelope(&envelope) }
            let p = envelope.message.properties
            let flags = Int(p._flags)
            return AMQPDelivery(
                body: Self.bytes(envelope.message.body), deliveryTag: envelope.delivery_tag,
                redelivered: envelope.redelivered != 0, exchange: Self.string(envelope.exchange),
                routingKey: Self.string(envelope.routing_key),
                messageID: flags & (1 << 7) != 0 ? Self.string(p.message_id) : nil,
                contentType: flags & (1 << 15) != 0 ? Self.string(p.content_type) : nil,
                headers: flags & (1 << 13) != 0 ? Self.json(p.headers) : JSONObject())
        }
        if r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT.rawValue {
            return nil
        }
        if r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_UNEXPECTED_STATE.rawValue {
            // A frame other than a delivery: a close from the broker is an error, others are dropped.
            var frame = amqp_frame_t()
            guard sluice_amqp_wait_frame(conn, &frame, 0) == AMQP_STATUS_OK.rawValue else { return nil }
            if frame.frame_type == 1 {
                let id = frame.payload.method.id
                if id == 0x0014_0028 || id == 0x000A_0032 {
                    var reply = amqp_rpc_reply_t()
                    reply.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION
                    reply.reply = frame.payload.method
                    let message = Self.describe(reply)
                    closed(by: reply)
                    throw AMQPError(message)
                }
            }
            return nil
        }
        closed(by: r)
        throw AMQPError("lost the connection to \(address.display): \(Self.describe(r))")
    }

    /// Acks `tag` (and with `multiple`, every earlier unacked delivery).
    package func ack(_ tag: UInt64, multiple: Bool) throws(AMQPError) {
        let status = amqp_basic_ack(conn, 1, tag, multiple ? 1 : 0)
        if status != AMQP_STATUS_OK.rawValue {
            throw AMQPError("cannot ack on \(address.display): \(String(cString: amqp_error_string2(status)))")
        }
    }

    /// Turns on publisher confirms for the channel.
    package func confirmSelect() throws(AMQPError) {
        amqp_confirm_select(conn, 1)
        try check("cannot turn on publisher confirms")
    }

    /// Publishes `body` (no wait for the broker).
    package func publish(
        exchange: String, routingKey: String, body: UnsafeRawBufferPointer, persistent: Bool, contentType: String?,
        messageID: String?, mandatory: Bool
    ) throws(AMQPError) {
        var props = amqp_basic_properties_t()
        var flags: UInt32 = 0
        if persistent {
            flags |= 1 << 12
            props.delivery_mode = 2
        }
        var ct = Array((contentType ?? "").utf8)
        var mid = Array((messageID ?? "").utf8)
        let status = try withBytes(exchange) { (e: amqp_bytes_t) throws(AMQPError) -> Int32 in
            try withBytes(routingKey) { (k: amqp_bytes_t) throws(AMQPError) -> Int32 in
                ct.withUnsafeMutableBytes { ctb in
                    mid.withUnsafeMutableBytes { midb in
                        if contentType != nil {
                            flags |= 1 << 15
                            props.content_type = amqp_bytes_t(len: ctb.count, bytes: ctb.baseAddress)
                        }
                        if messageID != nil {
                            flags |= 1 << 7
                            props.message_id = amqp_bytes_t(len: midb.count, bytes: midb.baseAddress)
                        }
                        props._flags = flags
                        return amqp_basic_publish(
                            conn, 1, e, k, mandatory ? 1 : 0, 0, &props,
                            amqp_bytes_t(len: body.count, bytes: UnsafeMutableRawPointer(mutating: body.baseAddress)))
                    }
                }
            }
        }
        if status != AMQP_STATUS_OK.rawValue {
            throw AMQPError("cannot publish to \(address.display): \(String(cString: amqp_error_string2(status)))")
        }
    }

    /// The next confirm or return, waiting up to `timeoutMs` (-1: without limit); nil when
    /// none came in time.
    package func nextPublishEvent(timeoutMs: Int) throws(AMQPError) -> AMQPPublishEvent? {
        while true {
            amqp_maybe_release_buffers(conn)
            var frame = amqp_frame_t()
            let status = sluice_amqp_wait_frame(conn, &frame, Int32(timeoutMs))
            if status == AMQP_STATUS_TIMEOUT.rawValue { return nil }
            guard status == AMQP_STATUS_OK.rawValue else {
                connectionOpen = false
                throw AMQPError(
                    "lost the connection to \(address.display): \(String(cString: amqp_error_string2(status)))")
            }
            guard frame.frame_type == 1, let decoded = frame.payload.method.decoded else { continue }
            switch frame.payload.method.id {
            case 0x003C_0050:
                let m = decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
                return .ack(tag: m.delivery_tag, multiple: m.multiple != 0)
            case 0x003C_0078:
                let m = decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
                return .nack(tag: m.delivery_tag, multiple: m.multiple != 0)
            case 0x003C_0032:
                let m = decoded.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
                let reason = "\(m.reply_code) \(Self.string(m.reply_text))"
                let exchange = Self.string(m.exchange)
                let key = Self.string(m.routing_key)
                var message = amqp_message_t()
                let r = amqp_read_message(conn, 1, &message, 0)
                defer { amqp_destroy_message(&message) }
                guard r.reply_type == AMQP_RESPONSE_NORMAL else {
                    throw AMQPError("lost the connection to \(address.display): \(Self.describe(r))")
                }
                return .returned(body: Self.bytes(message.body), exchange: exchange, routingKey: key, reason: reason)
            case 0x0014_0028, 0x000A_0032:
                var reply = amqp_rpc_reply_t()
                reply.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION
                reply.reply = frame.payload.method
                let message = Self.describe(reply)
                closed(by: reply)
                // A closed channel is the broker refusing what was published (an exchange
                // that does not exist): connecting again will not help.
                throw AMQPError(message, isRefused: frame.payload.method.id == 0x0014_0028)
            default:
                continue
            }
        }
    }

    /// A header table as JSON.
    static func json(_ t: amqp_table_t) -> JSONObject {
        var o = JSONObject()
        guard t.num_entries > 0, let entries = t.entries else { return o }
        for i in 0..<Int(t.num_entries) {
            let e = entries[i]
            o[string(e.key)] = json(e.value)
        }
        return o
    }

    static func json(_ v: amqp_field_value_t) -> JSON {
        switch UInt8(truncatingIfNeeded: v.kind) {
        case UInt8(ascii: "t"): return .bool(v.value.boolean != 0)
        case UInt8(ascii: "b"): return .int(Int64(v.value.i8))
        case UInt8(ascii: "B"): return .int(Int64(v.value.u8))
        case UInt8(ascii: "s"): return .int(Int64(v.value.i16))
        case UInt8(ascii: "u"): return .int(Int64(v.value.u16))
        case UInt8(ascii: "I"): return .int(Int64(v.value.i32))
        case UInt8(ascii: "i"): return .int(Int64(v.value.u32))
        case UInt8(ascii: "l"): return .int(v.value.i64)
        case UInt8(ascii: "L"), UInt8(ascii: "T"): return .int(Int64(clamping: v.value.u64))
        case UInt8(ascii: "f"): return .double(Double(v.value.f32))
        case UInt8(ascii: "d"): return .double(v.value.f64)
        case UInt8(ascii: "S"), UInt8(ascii: "x"): return .string(string(v.value.bytes))
        case UInt8(ascii: "F"): return .object(json(v.value.table))
        default: return .null
        }
    }
}
