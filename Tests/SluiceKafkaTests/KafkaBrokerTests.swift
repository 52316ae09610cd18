import Foundation
import SluiceTestSupport
import Testing

/// The `kafka` input and output against a real Kafka-protocol broker (tansu), through
/// the `sluice` binary. Without tansu installed (`make deps`) they skip, but fail under
/// `CI=true`.
@Suite(.serialized) struct KafkaBrokerTests {
    /// A started broker, or nil (recorded as a failure under CI) when there is none.
    func broker() throws -> KafkaBroker? {
        if let b = try KafkaBroker.start() { return b }
        if KafkaBroker.required {
            Issue.record("tansu is not installed in .venv (run `make deps`); CI=true requires the Kafka tests to run")
        }
        return nil
    }

    /// A scratch folder with `p.yaml` holding `yaml`.
    func folder(_ yaml: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sluice-kafka-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(yaml.utf8).write(to: dir.appendingPathComponent("p.yaml"))
        return dir
    }

    /// Starts `sluice ARGS` with the broker's environment; its stderr goes to `err.txt`.
    func launch(_ args: [String], in dir: URL, _ broker: KafkaBroker?) throws -> Process {
        let p = Process()
        p.executableURL = KafkaBroker.binary
        p.arguments = args
        p.currentDirectoryURL = dir
        if let broker { p.environment = broker.environment }
        p.standardOutput = FileHandle.nullDevice
        let err = dir.appendingPathComponent("err.txt")
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        p.standardError = try FileHandle(forWritingTo: err)
        try p.run()
        return p
    }

    func lines(_ url: URL) -> [String] {
        guard let d = try? Data(contentsOf: url) else { return [] }
        return String(decoding: d, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// Waits until `url` has at least `count` lines (or `seconds` passed, or `p` exited).
    func waitForLines(_ url: URL, _ count: Int, seconds: Double = 30, while p: Process) -> Int {
        let end = Date().addingTimeInterval(seconds)
        var n = 0
        while Date() < end && p.isRunning {
            n = lines(url).count
            if n >= count { return n }
            usleep(50_000)
        }
        return lines(url).count
    }

    /// SIGTERM, and the exit status.
    func stop(_ p: Process) -> Int32 {
        if p.isRunning { kill(p.processIdentifier, SIGTERM) }
        p.waitUntilExit()
        return p.terminationStatus
    }

    /// The `"id":N` of an output line.
    static func id(_ line: String) -> Int? {
        guard let r = line.range(of: #""id":"#) else { return nil }
        return Int(line[r.upperBound...].prefix { $0.isNumber })
    }

    static let client = "client: { session.timeout.ms: 6000, heartbeat.interval.ms: 500 }"

    @Test func roundTripThroughAPipelineWithMetadataMalformedAndCommittedOffsets() throws {
        guard let broker = try broker() else { return }
        defer { broker.stop() }
        try broker.createTopic("orders", partitions: 2)
        try broker.createTopic("big", partitions: 1)
        var messages = (0..<500).map { #"{"id":\#($0),"user":"u\#($0 % 7)","amount":\#($0)}"# }
        messages.insert("this is not json", at: 123)
        let places = try broker.produce("orders", messages)
        let dir = try folder(
            """
            inputs:
              orders: { kafka: { brokers: "\(broker.address)", topics: [orders], group: g1, start: committed,
                                 metadata: kafka, \(Self.client) } }
            streams:
              main: { from: orders, steps: [ { filter: amount >= 100 } ] }
            outputs:
              big: { from: [main], kafka: { brokers: "\(broker.address)", topic: big, key: user } }
              seen: { from: [main], file: seen.jsonl }
              bad: { from: [orders.malformed], file: bad.jsonl }
            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try launch(["run", "p.yaml"], in: dir, broker)
        let seen = dir.appendingPathComponent("seen.jsonl")
        #expect(waitForLines(seen, 400, while: run) == 400)
        #expect(stop(run) == 143, "\(lines(dir.appendingPathComponent("err.txt")))")

        // Metadata is in the event; the malformed message names its partition and offset.
        let first = lines(seen).first ?? ""
        #expect(first.contains(#""kafka":{"topic":"orders","partition":"#), "\(first)")
        let bad = lines(dir.appendingPathComponent("bad.jsonl"))
        #expect(bad.count == 1)
        let place = places[123].split(separator: ":")
        #expect(bad.first?.contains(#""partition":\#(place[0]),"offset":\#(place[1])"#) == true, "\(bad) \(place)")
        #expect(bad.first?.contains("this is not json") == true)

        // What went out, keyed by user.
        let out = try broker.consumeAll("big", count: 400)
        #expect(out.count == 400)
        #expect(out.allSatisfy { $0.key.hasPrefix("u") && $0.value.contains(#""user":"\#($0.key)""#) })

        // Stopped cleanly without checkpoints: every offset read is committed, and a
        // second run starts after them, reading only what came since.
        let ends = places.reduce(into: [Int: Int]()) { m, p in
            let parts = p.split(separator: ":").compactMap { Int($0) }
            if parts.count == 2 { m[parts[0]] = max(m[parts[0]] ?? 0, parts[1] + 1) }
        }
        #expect(try broker.committed(group: "g1", topic: "orders", partitions: 2) == [ends[0] ?? 0, ends[1] ?? 0])
        try broker.produce("orders", (500..<520).map { #"{"id":\#($0),"user":"u1","amount":\#($0)}"# })
        try FileManager.default.removeItem(at: seen)
        let again = try launch(["run", "p.yaml"], in: dir, broker)
        // The file output starts afresh: only the 20 new events (all >= 100) are in it.
        #expect(waitForLines(seen, 20, while: again) == 20)
        usleep(500_000)
        #expect(stop(again) == 143)
        let second = lines(seen)
        #expect(second.count == 20)
        #expect(Set(second.compactMap(Self.id)) == Set(500..<520), "\(second)")
    }

    @Test func aWindowPipelineFromTopicToTopic() throws {
        guard let broker = try broker() else { return }
        defer { broker.stop() }
        try broker.createTopic("purchases", partitions: 1)
        try broker.createTopic("spend", partitions: 1)
        // 3 users, one purchase per second for 3 minutes, then one late-enough event to close.
        var events: [String] = []
        for s in 0..<180 { events.append(#"{"user":"u\#(s % 3)","amount":1,"ts":\#(1_700_000_040_000 + s * 1000)}"#) }
        events.append(#"{"user":"u0","amount":1,"ts":1700000400000}"#)
        try broker.produce("purchases", events)
        let dir = try folder(
            """
            time: { field: ts }
            inputs:
              purchases: { kafka: { brokers: "\(broker.address)", topics: [purchases], group: w, \(Self.client) } }
            streams:
              spend:
                from: purchases
                steps:
                  - window: { key: user, tumbling: 1m, aggregate: { n: count(), total: sum(amount) } }
            outputs:
              out: { from: [spend], kafka: { brokers: "\(broker.address)", topic: spend, key: user } }
            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try launch(["run", "p.yaml"], in: dir, broker)
        // 3 minutes x 3 users closed by the last event.
        let out = try broker.consumeAll("spend", count: 9, seconds: 30)
        #expect(stop(run) == 143)
        #expect(out.count == 9)
        #expect(
            out.allSatisfy { $0.value.contains(#""n":20"#) && $0.value.contains(#""user":"\#($0.key)""#) }, "\(out)")
    }

    @Test func aSilentPartitionHoldsTheWatermarkBackUnlessIdleTimeoutLetsItGo() throws {
        guard let broker = try broker() else { return }
        defer { broker.stop() }
        // Events of minute 0 and one of minute 2 (which closes minute 0), all on
        // partition 0; partition 1 stays silent.
        let minute0 = (0..<10).map { #"{"user":"u","ts":\#(1_700_000_040_000 + $0 * 1000)}"# }
        let closing = #"{"user":"u","ts":1700000160000}"#
        func pipeline(_ topic: String, idle: String) -> String {
            """
            time: { field: ts }
            inputs:
              clicks: { kafka: { brokers: "\(broker.address)", topics: [\(topic)], group: g-\(topic), \(idle)
                                 \(Self.client) } }
            streams:
              counts:
                from: clicks
                steps:
                  - window: { key: user, tumbling: 1m, aggregate: { n: count() } }
            outputs:
              seen: { from: [clicks], file: seen.jsonl }
              out: { from: [counts], file: out.jsonl }
            """
        }

        // Without idle_timeout: every event is read, yet the window stays open while
        // partition 1 has nothing; its first event (of minute 2) lets minute 0 close.
        try broker.createTopic("held", partitions: 2)
        try broker.produce("held", minute0 + [closing], partition: 0)
        let held = try folder(pipeline("held", idle: ""))
        defer { try? FileManager.default.removeItem(at: held) }
        let first = try launch(["run", "p.yaml"], in: held, broker)
        #expect(waitForLines(held.appendingPathComponent("seen.jsonl"), 11, seconds: 90, while: first) == 11)
        usleep(3_000_000)
        #expect(lines(held.appendingPathComponent("out.jsonl")).isEmpty)
        try broker.produce("held", [closing], partition: 1)
        #expect(waitForLines(held.appendingPathComponent("out.jsonl"), 1, seconds: 60, while: first) == 1)
        #expect(stop(first) == 143, "\(lines(held.appendingPathComponent("err.txt")))")
        #expect(lines(held.appendingPathComponent("out.jsonl")).first?.contains(#""n":10"#) == true)

        // With idle_timeout: partition 1, silent for 1 s, no longer counts, and minute 0
        // closes on partition 0's events alone.
        try broker.createTopic("idle", partitions: 2)
        try broker.produce("idle", minute0 + [closing], partition: 0)
        let idle = try folder(pipeline("idle", idle: "idle_timeout: 1s,"))
        defer { try? FileManager.default.removeItem(at: idle) }
        let second = try launch(["run", "p.yaml"], in: idle, broker)
        #expect(waitForLines(idle.appendingPathComponent("out.jsonl"), 1, seconds: 90, while: second) == 1)
        #expect(stop(second) == 143, "\(lines(idle.appendingPathComponent("err.txt")))")
        let out = lines(idle.appendingPathComponent("out.jsonl"))
        #expect(out.first?.contains(#""n":10"#) == true, "\(out)")
    }

    @Test func killedMidRunAndRestartedFromItsCheckpointLosesAndRepeatsNothing() throws {
        guard let broker = try broker() else { return }
        defer { broker.stop() }
        try broker.createTopic("events", partitions: 4)
        let total = 60_000
        try broker.produce("events", (0..<total).map { #"{"id":\#($0),"user":"u\#($0 % 13)"}"# })
        let dir = try folder(
            """
            inputs:
              events: { kafka: { brokers: "\(broker.address)", topics: [events], group: ck, \(Self.client) } }
            streams:
              main: { from: events, steps: [ { enrich: { set: { seen: true } } } ] }
            outputs:
              out: { from: [main], file: out.jsonl }
            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.jsonl")
        let args = ["run", "p.yaml", "--checkpoint-dir", "ck", "--checkpoint-every", "100ms"]
        let first = try launch(args, in: dir, broker)
        _ = waitForLines(out, 2000, while: first)
        // Let a checkpoint be taken, then kill without warning, well before the end.
        usleep(120_000)
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        #expect(lines(out).count < total, "the first run should not have read everything before the kill")

        let second = try launch(args, in: dir, broker)
        #expect(waitForLines(out, total, while: second) >= total, "\(lines(dir.appendingPathComponent("err.txt")))")
        usleep(300_000)
        #expect(stop(second) == 143)
        // The file is cut back to the checkpoint and the input seeks to its offsets: each
        // id exactly once.
        let ids = lines(out).compactMap(Self.id)
        #expect(ids.count == total)
        #expect(Set(ids).count == total)
        // The final checkpoint's offsets are committed: 20,000 over 4 partitions.
        let committed = try broker.committed(group: "ck", topic: "events", partitions: 4)
        #expect(committed.reduce(0, +) == total, "\(committed)")
    }

    @Test func anUnreachableBrokerFailsTheStartWithAClearErrorAfterABoundedRetry() throws {
        let port = try KafkaBroker.freePort()
        let dir = try folder(
            """
            inputs:
              in: { kafka: { brokers: "127.0.0.1:\(port)", topics: [t], group: g, connect_timeout: 1s } }
            outputs:
              out: { from: [in], stdout: {} }
            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let started = Date()
        let run = try launch(["run", "p.yaml"], in: dir, nil)
        run.waitUntilExit()
        let took = Date().timeIntervalSince(started)
        let err = lines(dir.appendingPathComponent("err.txt")).joined(separator: "\n")
        #expect(run.terminationStatus != 0)
        #expect(err.contains("cannot reach the Kafka brokers '127.0.0.1:\(port)'"), "\(err)")
        #expect(took < 10)
    }
}
