import SluiceCEL
import SluiceCore
import SluiceJSON
import SluiceRabbitMQ
import SluiceSteps

/// A `rabbitmq` output as compiled: the connection settings and the expressions that
/// give each message's routing key and id.
package struct RabbitMQOutputSpec: Sendable {
    package var config: RabbitMQOutputConfig
    package var routingKey: Expression
    package var messageID: Expression?

    /// The sink publishing `name`'s events, with its own activation for the expressions.
    package func makeSink(name: String) -> RabbitMQSink {
        var all = [routingKey]
        if let m = messageID { all.append(m) }
        let activation = routingKey.compiler.activation(prefetching: all)
        let key = routingKey
        let id = messageID
        func text(_ e: Expression, _ event: Event) -> Result<String, AMQPError> {
            activation.event = event
            do {
                switch try e.evaluateJSON(activation) {
                case .string(let s): return .success(s)
                case .int(let i): return .success(String(i))
                case let v: return .failure(AMQPError("'\(e.source)' gave \(v), not a string"))
                }
            } catch {
                return .failure(AMQPError("'\(e.source)': \(error.message)"))
            }
        }
        return RabbitMQSink(
            name: name, config: config, routingKey: { text(key, $0) },
            messageID: id.map { e in { event in try? text(e, event).get() } })
    }
}

/// `rabbitmq:` inputs and outputs (docs/rabbitmq.md). Compiling reads only the YAML: the
/// broker is connected to when the run starts.
extension PipelineCompiler {
    /// `rabbitmq: {url, queue, prefetch, consumer_tag, metadata, topology: {exchange, type, bindings, arguments}}`.
    func readRabbitMQInput(_ c: ConfigMap) -> RabbitMQInputConfig? {
        let url = c.string("url", required: true)
        let queue = c.string("queue", required: true)
        let prefetch = c.int("prefetch", range: 1...65535)
        let tag = c.string("consumer_tag")
        let metadata = c.bool("metadata")
        var topology: (exchange: String, type: String, bindings: [String], arguments: [String: AMQPArgument])?
        if let t = c.map("topology") {
            let exchange = t.string("exchange", required: true)
            let type = t.oneOf(
                "type", ["topic": "topic", "direct": "direct", "fanout": "fanout", "headers": "headers"])
            let bindings = t.stringList("bindings") ?? []
            let arguments = queueArguments(t)
            t.finish()
            if let exchange, let arguments { topology = (exchange, type ?? "topic", bindings, arguments) }
        }
        c.finish()
        if let url, case .failure(let e) = AMQPAddress.parse(url), let node = c.node("url") {
            ctx.error(node.location, "rabbitmq input: \(e.message)", hint: "e.g. 'amqp://guest:guest@127.0.0.1:5672/'")
            return nil
        }
        guard let url, let queue else { return nil }
        var r = RabbitMQInputConfig(url: url, queue: queue)
        if let prefetch { r.prefetch = prefetch }
        if let tag { r.consumerTag = tag }
        if let metadata { r.metadata = metadata }
        if let topology {
            r.exchange = topology.exchange
            r.exchangeType = topology.type
            r.bindings = topology.bindings
            r.queueArguments = topology.arguments
            r.declareQueue = true
        }
        return r
    }

    /// `arguments: {x-dead-letter-exchange: dlx, x-message-ttl: 60000}`: the queue's
    /// arguments, each a string, an integer or a boolean; nil after an error.
    func queueArguments(_ t: ConfigMap) -> [String: AMQPArgument]? {
        guard let value = t.json("arguments") else { return [:] }
        let location = t.node("arguments")?.location ?? t.location
        guard case .object(let o) = value else {
            ctx.error(
                location,
                "'arguments' in 'topology' must be a mapping of queue arguments, e.g. {x-dead-letter-exchange: dlx}")
            return nil
        }
        var out: [String: AMQPArgument] = [:]
        for (key, v) in o {
            switch v {
            case .string(let s): out[key] = .string(s)
            case .int(let n): out[key] = .int(n)
            case .bool(let b): out[key] = .bool(b)
            default:
                ctx.error(
                    location,
                    "queue argument '\(key)' in 'topology' must be a string, an integer or a boolean, found \(v)")
                return nil
            }
        }
        return out
    }

    /// `rabbitmq: {url, exchange, routing_key, declare, persistent, content_type, message_id, mandatory, returned}`.
    func readRabbitMQOutput(_ c: ConfigMap, name: String) -> RabbitMQOutputSpec? {
        let url = c.string("url", required: true)
        let exchange = c.string("exchange", required: true)
        let key = c.expression("routing_key", required: true)
        let id = c.expression("message_id")
        let declare = c.oneOf(
            "declare", ["topic": "topic", "direct": "direct", "fanout": "fanout", "headers": "headers"])
        let persistent = c.bool("persistent")
        let contentType = c.string("content_type")
        let mandatory = c.bool("mandatory")
        let returned = c.string("returned")
        c.finish()
        if let url, case .failure(let e) = AMQPAddress.parse(url), let node = c.node("url") {
            ctx.error(node.location, "rabbitmq output '\(name)': \(e.message)")
            return nil
        }
        guard let expressions, let url, let exchange, let key, let k = expressions.compile(key, context: ctx) else {
            return nil
        }
        let m = id.flatMap { expressions.compile($0, context: ctx) }
        if id != nil && m == nil { return nil }
        var config = RabbitMQOutputConfig(url: url, exchange: exchange)
        config.declareType = declare
        if let persistent { config.persistent = persistent }
        if let contentType { config.contentType = contentType.isEmpty ? nil : contentType }
        if let mandatory { config.mandatory = mandatory }
        config.returnedPath = returned.map(resolve)
        return RabbitMQOutputSpec(config: config, routingKey: k, messageID: m)
    }
}
