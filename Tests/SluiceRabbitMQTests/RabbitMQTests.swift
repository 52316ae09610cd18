import Foundation
import SluiceJSON
import SluiceRabbitMQ
import SluiceTestSupport
import Testing

/// The `rabbitmq` input and output against a real broker (``RabbitBroker``), through the
/// `sluice` binary: routing, acks only after checkpoints, SIGKILL and restart, returned
/// messages, malformed bodies, and wrong credentials.
@Suite(.serialized) struct RabbitMQTests {
    static var binary: URL { SluiceBinary.url }

    /// A fresh folder with `p.yaml` holding `yaml`.
    func folder(_ name: String, _ yaml: String) throws -> URL {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(
            "sluice-rmq-\(name)-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(yaml.utf8).write(to: dir.appendingPathComponent("p.yaml"))
        return dir
    }

    /// Starts `sluice run p.yaml ARGS` in `dir`, stderr to `dir/err`.
    func launch(_ dir: URL, _ args: [String]) throws -> Process {
        let p = Process()
        p.executableURL = Self.binary
        p.currentDirectoryURL = dir
        p.arguments = ["run", dir.appendingPathComponent("p.yaml").path] + args
        p.standardOutput = FileHandle.nullDevice
        _ = FileManager.default.createFile(atPath: dir.appendingPathComponent("err").path, contents: nil)
        p.standardError = try FileHandle(forWritingTo: dir.appendingPathComponent("err"))
        try p.run()
        return p
    }

    func lines(_ url: URL) -> [JSON] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONParser.parse(Array($0.utf8)) }
    }

    /// Waits until `done()` or `seconds`; true when it came.
    func wait(seconds: Double = 30, _ done: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !done() {
            if Date() > deadline { return false }
            usleep(20_000)
        }
        return true
    }

    /// SIGTERM (a stop with a final checkpoint) and the exit status.
    func stop(_ p: Process) -> Int32 {
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        return p.terminationStatus
    }

    func publish(_ conn: AMQPConnection, exchange: String, key: String, _ body: String, id: String? = nil) throws {
        try Array(body.utf8).withUnsafeBytes { b in
            try conn.publish(
                exchange: exchange, routingKey: key, body: b, persistent: true, contentType: nil, messageID: id,
                mandatory: false)
        }
    }

    /// Receives what `queue` holds within a short wait (acked).
    func drain(_ conn: AMQPConnection, _ queue: String, expecting n: Int) throws -> [AMQPDelivery] {
        try conn.consume(queue, prefetch: 1000, tag: "")
        var got: [AMQPDelivery] = []
        let deadline = Date().addingTimeInterval(20)
        while got.count < n && Date() < deadline {
            if let d = try conn.next(timeoutMs: 200) {
                got.append(d)
                try conn.ack(d.deliveryTag, multiple: false)
            }
        }
        return got
    }

    @Test func topicRoutingIntoAPipelineAndOutToAnExchange() throws {
        guard let broker = try RabbitBroker.get() else { return }
        let dir = try folder(
            "route",
            """
            inputs:
              orders:
                rabbitmq:
                  url: "\(broker.url)"
                  queue: route-orders
                  prefetch: 100
                  topology: { exchange: shop, type: topic, bindings: ["orders.*.created"] }
            streams:
              big: { from: orders, steps: [ { filter: amount > 100 } ] }
            outputs:
              alerts:
                from: [big]
                rabbitmq: { url: "\(broker.url)", exchange: alerts, declare: topic, routing_key: "'alerts.' + country" }
            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let test = try broker.connect()
        // The run declares the same topology; declaring it first makes the publishes below
        // independent of when the run gets to its bindings.
        try test.declareExchange("shop", type: "topic", durable: true)
        try test.declareQueue("route-orders", durable: true)
        try test.bind(queue: "route-orders", exchange: "shop", pattern: "orders.*.created")
        try test.declareExchange("alerts", type: "topic", durable: true)
        try test.declareQueue("route-seen", durable: true)
        try test.bind(queue: "route-seen", exchange: "alerts", pattern: "alerts.#")
        let run = try launch(
            dir, ["--checkpoint-dir", dir.appendingPathComponent("ckpt").path, "--checkpoint-every", "200ms"])
        for i in 0..<40 {
            let created = i % 2 == 0
            try publish(
                test, exchange: "shop", key: created ? "orders.de.created" : "orders.de.cancelled",
                #"{"n":\#(i),"amount":\#(i * 10),"country":"\#(i % 4 == 0 ? "de" : "fr")"}"#)
        }
        // Created (even n) and over 100 (n > 10): 12, 14, ..., 38.
        let seen = try drain(test, "route-seen", expecting: 14)
        #expect(seen.count == 14)
        for d in seen {
            let v = try JSONParser.parse(d.body)
            guard case .int(let n)? = v["n"] else { continue }
            #expect(n % 2 == 0 && n > 10)
            #expect(d.routingKey == (n % 4 == 0 ? "alerts.de" : "alerts.fr"))
            #expect(v["amqp"]?["routing_key"] == .string("orders.de.created"))
        }
        // Everything consumed was acked once a checkpoint covered it.
        #expect(wait { (try? broker.connect().messageCount("route-orders")) == 0 })
        #expect(stop(run) == 143)
        let after = try broker.connect()
        #expect(try after.messageCount("route-orders") == 0)
    }

    @Test func sigkillWithUnackedMessagesLosesNothing() throws {
        guard let broker = try RabbitBroker.get() else { return }
        let dir = try folder(
            "kill",
            """
            inputs:
              orders:
                rabbitmq: { url: "\(broker.url)", queue: kill-orders, prefetch: 10000 }
            streams:
              main: { from: orders, steps: [ { dedupe: { key: amqp.message_id, within: 1h } } ] }
            outputs:
              out: { from: [main], file: out.jsonl }
            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let test = try broker.connect()
        try test.declareQueue("kill-orders", durable: true)
        let total = 3000
        for i in 0..<total {
            try publish(test, exchange: "", key: "kill-orders", #"{"n":\#(i)}"#, id: "m\(i)")
        }
        // The publisher sends a few twice (a retry after a lost confirm): dedupe drops them.
        for i in stride(from: 0, to: total, by: 100) {
            try publish(test, exchange: "", key: "kill-orders", #"{"n":\#(i)}"#, id: "m\(i)")
        }
        let out = dir.appendingPathComponent("out.jsonl")
        let args = ["--checkpoint-dir", dir.appendingPathComponent("ckpt").path, "--checkpoint-every", "300ms"]
        // The first run takes no checkpoint (the window is larger than the queue, the
        // interval longer than the run), so every message it read is still unacked when
        // it is killed, however fast the machine.
        let first = try launch(
            dir, ["--checkpoint-dir", dir.appendingPathComponent("ckpt").path, "--checkpoint-every", "1h"])
        #expect(wait { lines(out).count > 0 })
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()

        let second = try launch(dir, args)
        #expect(wait { Set(lines(out).compactMap { $0["n"] }).count == total })
        #expect(wait { (try? broker.connect().messageCount("kill-orders")) == 0 })
        #expect(stop(second) == 143)
        let all = lines(out)
        var ids: [String: Int] = [:]
        for e in all { if case .string(let id)? = e["amqp"]?["message_id"] { ids[id, default: 0] += 1 } }
        #expect(ids.count == total)
        #expect(ids.values.allSatisfy { $0 == 1 })
        #expect(all.contains { $0["amqp"]?["redelivered"] == .bool(true) })
        #expect(try broker.connect().messageCount("kill-orders") == 0)
    }

    /// Publishes `n` messages to `queue` with confirms, so that they outlive a broker kill.
    func publishConfirmed(
        _ conn: AMQPConnection, queue: String, _ range: Range<Int>, body: (Int) -> String = { #"{"n":\#($0)}"# }
    ) throws {
        try conn.confirmSelect()
        var confirmed: UInt64 = 0
        for i in range { try publish(conn, exchange: "", key: queue, body(i), id: "m\(i)") }
        while confirmed < UInt64(range.count) {
            guard let e = try conn.nextPublishEvent(timeoutMs: 10_000) else { break }
            if case .ack(let tag, _) = e { confirmed = max(confirmed, tag) }
        }
        #expect(confirmed == UInt64(range.count))
    }

    @Test func theRunReconnectsAfterABrokerRestart() throws {
        guard let broker = try RabbitBroker.get() else { return }
        let dir = try folder(
            "restart",
            """
            inputs:
              orders: { rabbitmq: { url: "\(broker.url)", queue: restart-orders, prefetch: 100 } }
            outputs:
              out: { from: [orders], file: out.jsonl }
            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.jsonl")
        func seen() -> Set<JSON> { Set(lines(out).compactMap { $0["n"] }) }
        var test = try broker.connect()
        try test.declareQueue("restart-orders", durable: true)
        try publishConfirmed(test, queue: "restart-orders", 0..<500)
        let run = try launch(
            dir, ["--checkpoint-dir", dir.appendingPathComponent("ckpt").path, "--checkpoint-every", "200ms"])
        #expect(wait { seen().count == 500 })
        test.close()
        // The broker writes a queue's declaration to disk through a buffer that it
        // flushes within 2 s: a SIGKILL sooner can lose a queue declared just before.
        Thread.sleep(forTimeInterval: 3)
        broker.stop()
        try broker.start()
        test = try broker.connect()
        try publishConfirmed(test, queue: "restart-orders", 500..<1000)
        // The run reconnects with backoff (at most 2 s apart) once the broker is back.
        let err = dir.appendingPathComponent("err")
        func errText() -> Comment { Comment(rawValue: (try? String(contentsOf: err, encoding: .utf8)) ?? "") }
        #expect(wait(seconds: 90) { seen().count == 1000 }, errText())
        #expect(wait { (try? broker.connect().messageCount("restart-orders")) == 0 }, errText())
        #expect(run.isRunning, errText())
        #expect(stop(run) == 143)
    }

    @Test func nonJSONMessageGoesToMalformedAndIsAcked() throws {
        guard let broker = try RabbitBroker.get() else { return }
        let dir = try folder(
            "bad",
            """
            inputs:
              orders: { rabbitmq: { url: "\(broker.url)", queue: bad-orders } }
            outputs:
              out: { from: [orders], file: out.jsonl }
              bad: { from: [orders.malformed], file: bad.jsonl }
            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let test = try broker.connect()
        try test.declareQueue("bad-orders", durable: true)
        try publish(test, exchange: "", key: "bad-orders", #"{"ok":1}"#)
        try publish(test, exchange: "", key: "bad-orders", "not json at all")
        let run = try launch(
            dir, ["--checkpoint-dir", dir.appendingPathComponent("ckpt").path, "--checkpoint-every", "200ms"])
        #expect(wait { lines(dir.appendingPathComponent("bad.jsonl")).count == 1 })
        #expect(wait { (try? broker.connect().messageCount("bad-orders")) == 0 })
        #expect(stop(run) == 143)
        let bad = lines(dir.appendingPathComponent("bad.jsonl"))
        #expect(bad.first?["raw"] == .string("not json at all"))
        #expect(lines(dir.appendingPathComponent("out.jsonl")).count == 1)
        #expect(try broker.connect().messageCount("bad-orders") == 0)
    }

    @Test func unroutablePublishIsReported() throws {
        guard let broker = try RabbitBroker.get() else { return }
        let yaml = """
            inputs:
              in: { file: in.jsonl }
            outputs:
              out:
                from: [in]
                rabbitmq: { url: "\(broker.url)", exchange: nowhere, declare: topic, routing_key: "'k.' + string(n)", returned: returned.jsonl }
            """
        let dir = try folder("unroutable", yaml)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(#"{"n":1}\#n{"n":2}\#n"#.utf8).write(to: dir.appendingPathComponent("in.jsonl"))
        let run = try launch(dir, [])
        run.waitUntilExit()
        #expect(run.terminationStatus == 0)
        let returned = lines(dir.appendingPathComponent("returned.jsonl"))
        #expect(returned.count == 2)
        #expect(returned.first?["error"]?["routing_key"] == .string("k.1"))
        #expect(returned.first?["event"]?["n"] == .int(1))

        // Without `returned:`, the run fails and says so.
        try Data(yaml.replacingOccurrences(of: ", returned: returned.jsonl", with: "").utf8).write(
            to: dir.appendingPathComponent("p.yaml"))
        let failing = try launch(dir, [])
        failing.waitUntilExit()
        #expect(failing.terminationStatus == 1)
        let err = (try? String(contentsOf: dir.appendingPathComponent("err"), encoding: .utf8)) ?? ""
        #expect(err.contains("were not taken by the broker"))
    }

    @Test func wrongCredentialsMissingQueueAndNoCheckpointsAreClearErrors() throws {
        guard let broker = try RabbitBroker.get() else { return }
        let bad = broker.url.replacingOccurrences(of: "guest:guest", with: "guest:wrong")
        let dir = try folder(
            "login",
            """
            inputs:
              orders: { rabbitmq: { url: "\(bad)", queue: login-orders } }
            outputs:
              out: { from: [orders], file: out.jsonl }
            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try launch(dir, ["--checkpoint-dir", dir.appendingPathComponent("ckpt").path])
        run.waitUntilExit()
        #expect(run.terminationStatus == 1)
        let err = (try? String(contentsOf: dir.appendingPathComponent("err"), encoding: .utf8)) ?? ""
        #expect(err.contains("cannot log in to amqp://guest@127.0.0.1:\(broker.port)/ as 'guest'"))
        #expect(!err.contains("guest:wrong"))

        // The right login, a queue that does not exist (and no topology to declare it).
        try Data(
            """
            inputs:
              orders: { rabbitmq: { url: "\(broker.url)", queue: no-such-queue } }
            outputs:
              out: { from: [orders], file: out.jsonl }
            """.utf8
        ).write(to: dir.appendingPathComponent("p.yaml"))
        let missing = try launch(dir, ["--checkpoint-dir", dir.appendingPathComponent("ckpt2").path])
        missing.waitUntilExit()
        #expect(missing.terminationStatus == 1)
        let err3 = (try? String(contentsOf: dir.appendingPathComponent("err"), encoding: .utf8)) ?? ""
        #expect(err3.contains("queue 'no-such-queue' cannot be used: the broker closed the channel: 404 NOT_FOUND"))
    }

    /// The `n` of every complete `{"n":N,...}` record in `url`, read as text: a line a
    /// SIGKILL cut short, with the next run's first line appended to it, still counts.
    func numbers(_ url: URL) -> [Int] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return numbers(text: text)
    }

    func numbers(text: String) -> [Int] {
        var out: [Int] = []
        for part in text.components(separatedBy: "{\"n\":").dropFirst() {
            let digits = part.prefix { $0.isNumber }
            // Followed by its comma: the number was written whole.
            if let n = Int(digits), part.dropFirst(digits.count).first == "," { out.append(n) }
        }
        return out
    }

    @Test func withoutCheckpointsMessagesAreAckedOnceTheOutputsAreDurable() throws {
        guard let broker = try RabbitBroker.get() else { return }
        let dir = try folder(
            "flush",
            """
            inputs:
              orders: { rabbitmq: { url: "\(broker.url)", queue: flush-orders, prefetch: 50 } }
            outputs:
              out: { from: [orders], file: { path: out.jsonl, append: true } }
            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.jsonl")
        let test = try broker.connect()
        try test.declareQueue("flush-orders", durable: true)
        try publishConfirmed(test, queue: "flush-orders", 0..<1000, body: { #"{"n":\#($0),"k":"v"}"# })
        // No --checkpoint-dir: the run acks as its output is flushed. With a window of 50,
        // the broker hands out the 1000 messages only as they are acked.
        let first = try launch(dir, [])
        #expect(wait(seconds: 60) { Set(numbers(out)).count == 1000 })
        let missingFirst = Set(0..<1000).subtracting(numbers(out)).sorted()
        #expect(missingFirst.isEmpty, "missing: \(missingFirst.prefix(50)) of \(missingFirst.count)")
        #expect(wait { (try? broker.connect().messageCount("flush-orders")) == 0 })
        #expect(first.isRunning)

        // More messages, a SIGKILL mid-run, a restart: every message is in the output.
        try publishConfirmed(
            try broker.connect(), queue: "flush-orders", 1000..<6000, body: { #"{"n":\#($0),"k":"v"}"# })
        #expect(wait(seconds: 60) { numbers(out).contains { $0 >= 1000 } })
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let second = try launch(dir, [])
        #expect(wait(seconds: 120) { Set(numbers(out)).count == 6000 })
        #expect(wait { (try? broker.connect().messageCount("flush-orders")) == 0 })
        #expect(second.isRunning)
        #expect(stop(second) == 143)
        let missing = Set(0..<6000).subtracting(numbers(out)).sorted()
        #expect(missing.isEmpty, "missing: \(missing.prefix(50)) of \(missing.count)")
        // The stop acked everything it wrote: nothing comes back.
        #expect(try broker.connect().messageCount("flush-orders") == 0)
    }

    /// What a reader thread got from a pipe so far.
    final class Collected: @unchecked Sendable {
        let lock = NSLock()
        var data = Data()
        var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
        func add(_ d: Data) { lock.withLock { data.append(d) } }
    }

    @Test func prefetchHoldsTheConsumerBackBehindASlowOutput() throws {
        guard let broker = try RabbitBroker.get() else { return }
        let prefetch = 100
        let total = 1500
        let dir = try folder(
            "slow",
            """
            inputs:
              orders: { rabbitmq: { url: "\(broker.url)", queue: slow-orders, prefetch: \(prefetch) } }
            outputs:
              out: { from: [orders], stdout: {} }
            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let test = try broker.connect()
        try test.declareQueue("slow-orders", durable: true)
        // 4 KB bodies: few fit in the pipe, which nobody reads yet (a stalled output).
        let pad = String(repeating: "x", count: 4000)
        try publishConfirmed(test, queue: "slow-orders", 0..<total, body: { #"{"n":\#($0),"pad":"\#(pad)"}"# })
        let stdout = Pipe()
        let run = Process()
        run.executableURL = Self.binary
        run.currentDirectoryURL = dir
        run.arguments = ["run", dir.appendingPathComponent("p.yaml").path]
        run.standardOutput = stdout
        run.standardError = FileHandle.nullDevice
        try run.run()
        try? stdout.fileHandleForWriting.close()
        // F_GETPIPE_SZ: how many bytes the stalled output could write before blocking.
        let capacity = Int(fcntl(stdout.fileHandleForReading.fileDescriptor, 1032))
        #expect(capacity > 0)
        // Taken off the queue: the unacked window, and at most what the pipe took (the
        // only messages whose results were written, so the only ones that can be acked).
        let bound = prefetch + max(capacity, 0) / pad.count + 1
        func taken() -> Int? { (try? broker.connect().messageCount("slow-orders")).map { total - $0 } }
        #expect(wait(seconds: 60) { (taken() ?? 0) >= prefetch })
        var most = 0
        for _ in 0..<30 {
            if let t = taken() { most = max(most, t) }
            usleep(100_000)
        }
        #expect(most <= bound, "\(most) messages taken off the queue, more than \(bound)")
        #expect(run.isRunning)

        // The output catches up: everything arrives, and the queue drains.
        let got = Collected()
        let reader = stdout.fileHandleForReading
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            while true {
                let d = reader.availableData
                if d.isEmpty { break }
                got.add(d)
            }
            done.signal()
        }
        #expect(wait(seconds: 90) { Set(numbers(text: got.text)).count == total })
        #expect(wait { (try? broker.connect().messageCount("slow-orders")) == 0 })
        #expect(stop(run) == 143)
        _ = done.wait(timeout: .now() + 30)
        let missing = Set(0..<total).subtracting(numbers(text: got.text)).sorted()
        #expect(missing.isEmpty, "missing: \(missing.prefix(50)) of \(missing.count)")
    }

    @Test func theOutputReconnectsAfterABrokerRestartAndPublishesAgain() throws {
        guard let broker = try RabbitBroker.get() else { return }
        let dir = try folder(
            "outrestart",
            """
            inputs:
              in: { stdin: {} }
            outputs:
              out:
                from: [in]
                rabbitmq: { url: "\(broker.url)", exchange: "", routing_key: "'outrestart-seen'", message_id: "'m' + string(n)" }
            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        var test = try broker.connect()
        try test.declareQueue("outrestart-seen", durable: true)
        let stdin = Pipe()
        let run = Process()
        run.executableURL = Self.binary
        run.currentDirectoryURL = dir
        run.arguments = ["run", dir.appendingPathComponent("p.yaml").path]
        run.standardInput = stdin
        run.standardOutput = FileHandle.nullDevice
        _ = FileManager.default.createFile(atPath: dir.appendingPathComponent("err").path, contents: nil)
        run.standardError = try FileHandle(forWritingTo: dir.appendingPathComponent("err"))
        try run.run()
        func send(_ range: Range<Int>) throws {
            let lines = range.map { #"{"n":\#($0),"k":"v"}"# + "\n" }.joined()
            try stdin.fileHandleForWriting.write(contentsOf: Data(lines.utf8))
        }
        try send(0..<300)
        #expect(wait(seconds: 60) { (try? broker.connect().messageCount("outrestart-seen")) == 300 })
        test.close()
        // The broker writes a queue's declaration to disk through a buffer that it
        // flushes within 2 s: a SIGKILL sooner can lose a queue declared just before.
        Thread.sleep(forTimeInterval: 3)
        broker.stop()
        try broker.start()
        // Published on the lost connection first: the output connects again and
        // publishes what the broker did not confirm.
        try send(300..<600)
        try stdin.fileHandleForWriting.close()
        #expect(wait(seconds: 120) { !run.isRunning })
        if run.isRunning { _ = stop(run) }
        run.waitUntilExit()
        let err = (try? String(contentsOf: dir.appendingPathComponent("err"), encoding: .utf8)) ?? ""
        #expect(run.terminationStatus == 0, "\(err)")
        test = try broker.connect()
        let count = try test.messageCount("outrestart-seen")
        // At least once: a message whose confirm the restart lost is there twice.
        #expect(count >= 600)
        let seen = try drain(test, "outrestart-seen", expecting: count)
        let ids = Set(seen.compactMap { $0.messageID })
        let missing = Set((0..<600).map { "m\($0)" }).subtracting(ids).sorted()
        #expect(missing.isEmpty, "missing: \(missing.prefix(50)) of \(missing.count)")
    }

    @Test func rejectedEventsAndBrokerDeadLettersReachADeadLetterExchange() throws {
        guard let broker = try RabbitBroker.get() else { return }
        let dir = try folder(
            "dlx",
            """
            inputs:
              orders:
                rabbitmq:
                  url: "\(broker.url)"
                  queue: dlx-orders
                  topology:
                    exchange: dlx-shop
                    bindings: ["orders.#"]
                    arguments: { x-dead-letter-exchange: dlx, x-max-length: 5 }
            streams:
              clean:
                from: orders
                steps:
                  - validate: { schema: { type: object, required: [id] } }
            outputs:
              out: { from: [clean], file: out.jsonl }
              dlq:
                from: [clean.rejected]
                rabbitmq: { url: "\(broker.url)", exchange: dlx, declare: topic, routing_key: "'rejected'" }
            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let test = try broker.connect()
        try test.declareExchange("dlx", type: "topic", durable: true)
        try test.declareQueue("dlx-seen", durable: true)
        try test.bind(queue: "dlx-seen", exchange: "dlx", pattern: "#")
        try test.declareExchange("dlx-shop", type: "topic", durable: true)
        let run = try launch(dir, [])
        // The run declares the queue with its arguments.
        #expect(wait(seconds: 60) { (try? broker.connect().checkQueue("dlx-orders")) != nil })
        // The run binds the queue just after declaring it: bind it here too (the same
        // binding twice is one), so that no message below is published before the binding
        // exists and dropped as unroutable (seen once: `{"id":1}` never reached the queue).
        try test.bind(queue: "dlx-orders", exchange: "dlx-shop", pattern: "orders.#")
        for (i, body) in [#"{"id":1}"#, #"{"no_id":2}"#, #"{"id":3}"#, #"{"no_id":4}"#].enumerated() {
            try publish(test, exchange: "dlx-shop", key: "orders.de.\(i)", body)
        }
        #expect(wait { lines(dir.appendingPathComponent("out.jsonl")).count == 2 })
        #expect(wait { (try? broker.connect().messageCount("dlx-seen")) == 2 })
        #expect(wait { (try? broker.connect().messageCount("dlx-orders")) == 0 })
        #expect(stop(run) == 143)

        // Nobody consumes now: the broker dead-letters what overflows the 5-message queue.
        for i in 0..<8 { try publish(test, exchange: "dlx-shop", key: "orders.fr.\(i)", #"{"id":\#(i)}"#) }
        #expect(wait { (try? broker.connect().messageCount("dlx-seen")) == 5 })
        let seen = try drain(broker.connect(), "dlx-seen", expecting: 5)
        let rejected = seen.filter { $0.routingKey == "rejected" }
        #expect(rejected.count == 2)
        for d in rejected { #expect(String(decoding: d.body, as: UTF8.self).contains("no_id")) }
        // Dropped from the head of the queue, with their own routing keys and x-death.
        let dropped = seen.filter { $0.routingKey != "rejected" }
        #expect(dropped.map(\.routingKey).sorted() == ["orders.fr.0", "orders.fr.1", "orders.fr.2"])
        #expect(dropped.allSatisfy { $0.headers["x-death"] != nil })
        #expect(try broker.connect().messageCount("dlx-orders") == 5)
    }
}
