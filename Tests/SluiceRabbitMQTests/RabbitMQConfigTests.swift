import Foundation
import SluicePipeline
import SluiceRabbitMQ
import Testing

/// `rabbitmq:` inputs and outputs as `sluice check` sees them: no broker needed.
@Suite struct RabbitMQConfigTests {
    /// The diagnostics of compiling `yaml` as `p.yaml`, one per line.
    func diagnostics(_ yaml: String) -> String {
        do {
            _ = try Pipeline.compile(yaml: yaml, file: "p.yaml", baseDirectory: NSTemporaryDirectory())
            return ""
        } catch {
            return "\(error)"
        }
    }

    @Test func aGoodInputAndOutputCompile() {
        let text = diagnostics(
            """
            inputs:
              orders:
                rabbitmq:
                  url: amqp://guest:guest@127.0.0.1:5672/
                  queue: orders
                  prefetch: 100
                  consumer_tag: sluice
                  topology: { exchange: shop, type: topic, bindings: ["orders.*.created"] }
            outputs:
              out:
                from: [orders]
                rabbitmq: { url: "amqp://127.0.0.1", exchange: alerts, routing_key: "'a.' + amqp.routing_key" }
            """)
        #expect(text == "")
    }

    @Test func mistakesAreReportedWhereTheyAre() {
        let text = diagnostics(
            """
            inputs:
              orders:
                rabbitmq:
                  url: http://127.0.0.1/
                  prefetch: 0
                  topology: { exchange: shop, type: fan }
            outputs:
              out:
                from: [orders]
                rabbitmq: { url: "amqp://127.0.0.1", exchange: alerts, routing_key: "'a.' +" }
            """)
        let errors = text.split(separator: "\n").filter { $0.contains(": error: ") }.joined(separator: "\n")
        #expect(text.contains("note: e.g. 'amqp://guest:guest@127.0.0.1:5672/'"))
        #expect(
            errors == """
                p.yaml:4:7: error: missing required key 'queue' in 'rabbitmq'
                p.yaml:4:12: error: rabbitmq input: 'http://127.0.0.1/' is not an amqp:// URL (amqp://user:password@host:port/vhost)
                p.yaml:5:17: error: 'prefetch' in 'rabbitmq' must be between 1 and 65535, found 0
                p.yaml:6:41: error: unknown value 'fan' for 'type' in 'topology'
                p.yaml:10:80: error: in expression: unexpected end of expression
                """)
    }

    @Test func urlsParseWithTheDefaultVhost() throws {
        let a = try AMQPAddress.parse("amqp://u:p@h:5673/").get()
        #expect(a.host == "h" && a.port == 5673 && a.user == "u" && a.password == "p" && a.vhost == "/")
        #expect(a.display == "amqp://u@h:5673/")
        #expect(try AMQPAddress.parse("amqp://h/shop").get().vhost == "shop")
        #expect(throws: AMQPError.self) { try AMQPAddress.parse("amqps://h/").get() }
    }

    @Test func queueArgumentsCompileAndBadOnesAreReported() throws {
        let p = try Pipeline.compile(
            yaml: """
                inputs:
                  orders:
                    rabbitmq:
                      url: amqp://127.0.0.1/
                      queue: orders
                      topology: { exchange: shop, arguments: { x-dead-letter-exchange: dlx, x-message-ttl: 60000, x-single-active-consumer: true } }
                outputs:
                  out: { from: [orders], stdout: {} }
                """, file: "p.yaml", baseDirectory: NSTemporaryDirectory())
        guard case .rabbitmq(let r)? = p.inputs.first?.kind else {
            Issue.record("not a rabbitmq input")
            return
        }
        #expect(
            r.queueArguments == [
                "x-dead-letter-exchange": .string("dlx"), "x-message-ttl": .int(60000),
                "x-single-active-consumer": .bool(true),
            ])
        let text = diagnostics(
            """
            inputs:
              orders:
                rabbitmq: { url: "amqp://127.0.0.1/", queue: q, topology: { exchange: shop, arguments: { x-max-length: [1] } } }
            outputs:
              out: { from: [orders], stdout: {} }
            """)
        #expect(
            text.contains(
                "p.yaml:3:92: error: queue argument 'x-max-length' in 'topology' must be a string, an integer or a boolean"
            ))
    }
}
