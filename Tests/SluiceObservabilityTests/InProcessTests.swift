import Foundation
import SluiceConnectors
import SluiceCore
import SluiceJSON
import SluiceObservability
import SluicePipeline
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The endpoint and the runtime's hook in one process: readiness, taps, the exporter.
@Suite(.serialized) struct InProcessTests {
    /// Starts an endpoint for `metrics` on a free loopback port.
    static func serve(_ metrics: RunMetrics) throws -> (MetricsServer, HTTPClient.Target) {
        let server = try MetricsServer.start(
            MetricsAddress(host: "127.0.0.1", port: 0), metrics: metrics, exporter: MetricsExporter(metrics))
        return (server, try HTTPClient.Target(server.url))
    }

    /// The status and body of a GET, error statuses included.
    static func status(_ target: HTTPClient.Target, _ path: String) -> (Int?, String) {
        do { return (200, try HTTPClient.get(target, path)) } catch { return (error.status, error.description) }
    }

    @Test func readyFlipsOnStartAndWhenAStageFails() throws {
        let p = try Pipeline.compile(
            yaml: """
                name: guarded
                inputs: { in: { stdin: {} } }
                streams:
                  main:
                    from: in
                    steps:
                      - validate:
                          rules: [ { expr: "has(event.ok)", message: "needs ok" } ]
                          on_invalid: stop
                outputs:
                  out: { from: [main], stdout: {} }
                """)
        let metrics = RunMetrics(pipeline: p.name, eventTime: false)
        let (server, target) = try Self.serve(metrics)
        defer { server.stop() }
        #expect(Self.status(target, "/ready") == (503, "not ready: starting"))
        #expect(Self.status(target, "/healthz") == (200, "ok\n"))
        let input = ScriptedSource(name: "in")
        var options = RunOptions()
        options.sources["in"] = input
        options.sinks["out"] = CollectingSink(name: "out")
        options.metrics = metrics
        let run = try p.start(options)
        #expect(Self.status(target, "/ready") == (200, "ready\n"))
        input.send([["ok": .bool(true)], ["no": .bool(true)]])
        guard case .failed = run.wait() else {
            Issue.record("the run should fail")
            return
        }
        let (code, body) = Self.status(target, "/ready")
        #expect(code == 503)
        #expect(body.hasPrefix("not ready: a stage failed: stream 'main', step validate"))
        #expect(try HTTPClient.get(target, "/metrics").contains(#"sluice_failed{pipeline="guarded"} 1.0"#))
    }

    @Test func aTapClientThatNeverReadsDoesNotSlowOrGrowTheRun() throws {
        let p = try Pipeline.compile(yaml: "name: pass\nsteps:\n  - filter: has(event.i)\n")
        let metrics = RunMetrics(pipeline: p.name, eventTime: false)
        let (server, _) = try Self.serve(metrics)
        defer { server.stop() }
        let input = ScriptedSource(name: "in")
        var options = RunOptions()
        options.sources["in"] = input
        let sink = CollectingSink(name: "out")
        options.sinks["out"] = sink
        options.metrics = metrics
        let run = try p.start(options)

        // A client that asks for a tap and then never reads a byte.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var small: Int32 = 4096
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(server.address.port).bigEndian
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        #expect(connected == 0)
        let request = Array("GET /tap?stream=main HTTP/1.0\r\n\r\n".utf8)
        #expect(send(fd, request, request.count, 0) == request.count)
        let deadline = Date().addingTimeInterval(60)
        while metrics.taps.clientCount == 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        #expect(metrics.taps.clientCount == 1)

        let payload = String(repeating: "x", count: 1000)
        let n = 20_000
        for start in stride(from: 0, to: n, by: 500) {
            input.send((start..<start + 500).map { ["i": .int(Int64($0)), "pad": .string(payload)] })
        }
        input.finish()
        #expect(run.wait() == .completed)
        #expect(sink.events.count == n)
        // The samples that did not fit were dropped and counted, not queued.
        #expect(metrics.taps.dropped.load(ordering: .relaxed) > 0)
    }

    @Test func aTapBufferIsBoundedAndCountsItsDrops() {
        let hub = TapHub()
        #expect(!hub.isActive)
        let client = hub.subscribe("main", capacity: 100)
        #expect(hub.isActive)
        let events = (0..<50).map { i -> Event in
            let v: JSON = ["i": .int(Int64(i))]; return Event(v)
        }
        hub.offerForTesting("main", events)
        hub.offerForTesting("other", events)
        let (lines, count, dropped) = client.take()
        #expect(count + dropped == 50)
        #expect(dropped > 0)
        #expect(lines.count < 100 + 20)
        #expect(String(decoding: lines, as: UTF8.self).hasPrefix("{\"i\":0}\n{\"i\":1}\n"))
        #expect(hub.dropped.load(ordering: .relaxed) == dropped)
        hub.unsubscribe(client)
        #expect(!hub.isActive)
    }

    @Test func exporterCountsPartitionsOfAStreamTogether() throws {
        let p = try Pipeline.compile(
            yaml: """
                name: parts
                inputs: { in: { stdin: {} } }
                streams:
                  keyed:
                    from: in
                    key: user
                    parallelism: 3
                    steps:
                      - filter: amount > 10
                outputs:
                  out: { from: [keyed], stdout: {} }
                """)
        let metrics = RunMetrics(pipeline: p.name, eventTime: false)
        var options = RunOptions()
        let items = (0..<300).map { InputItem.event(["user": .string("u\($0 % 7)"), "amount": .int(Int64($0))]) }
        options.sources["in"] = MemorySource(name: "in", items: items)
        options.sinks["out"] = CollectingSink(name: "out")
        options.metrics = metrics
        let run = try p.start(options)
        #expect(run.wait() == .completed)
        let text = MetricsExporter(metrics).render()
        let samples = PrometheusSample.parse(text)
        let filter = ["stream": "keyed", "step": "filter"]
        #expect(value(samples, "sluice_step_events_in_total", filter) == 300)
        #expect(value(samples, "sluice_step_events_out_total", filter) == 289)
        #expect(value(samples, "sluice_output_events_total", ["output": "out"]) == 289)
        #expect(value(samples, "sluice_input_events_total", ["input": "in"]) == 300)
        #expect(value(samples, "sluice_ready") == 0)
    }
}

/// The figures the exporter reads that only some runs have: event-time lag, checkpoints.
@Suite struct ExporterFiguresTests {
    @Test func eventTimeLagIsTheLargestEventTimeSeenMinusTheWatermark() throws {
        let p = try Pipeline.compile(
            yaml: """
                name: timed
                time: { field: ts, lateness: 5s }
                steps:
                  - filter: has(event.ts)
                """)
        let metrics = RunMetrics(pipeline: p.name, eventTime: p.hasEventTime)
        #expect(metrics.eventTime)
        let input = ScriptedSource(name: "in")
        var options = RunOptions()
        options.sources["in"] = input
        options.sinks["out"] = CollectingSink(name: "out")
        options.metrics = metrics
        let run = try p.start(options)
        let exporter = MetricsExporter(metrics)
        input.send([1000, 9000, 20000].map { ["ts": .int(Int64($0))] })
        // The watermark trails the largest event time by the lateness, 5 s.
        let deadline = Date().addingTimeInterval(60)
        var lag: Double?
        while Date() < deadline {
            lag = value(PrometheusSample.parse(exporter.render()), "sluice_watermark_lag_seconds", ["stream": "main"])
            if lag == 5 { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(lag == 5, "the last lag read: \(String(describing: lag))")
        input.finish()
        #expect(run.wait() == .completed)
    }

    @Test func checkpointFiguresAppearOnceReported() {
        let metrics = RunMetrics(pipeline: "cp", eventTime: false)
        let exporter = MetricsExporter(metrics)
        #expect(!exporter.render().contains("sluice_checkpoint"))
        metrics.recordCheckpoint(seconds: 0.25, bytes: 4096)
        metrics.recordCheckpoint(seconds: 0.5, bytes: 8192)
        let s = PrometheusSample.parse(exporter.render())
        #expect(value(s, "sluice_checkpoints_total") == 2)
        #expect(value(s, "sluice_checkpoint_duration_seconds") == 0.5)
        #expect(value(s, "sluice_checkpoint_size_bytes") == 8192)
    }

    @Test func consumerLagIsPerPartitionAndLeavesWithThePartition() {
        let metrics = RunMetrics(pipeline: "lag", eventTime: false)
        let exporter = MetricsExporter(metrics)
        #expect(!exporter.render().contains("sluice_consumer_lag"))
        // Reported without any checkpoint: lag does not wait for checkpointing.
        metrics.recordConsumerLag(
            input: "orders",
            partitions: [
                .init(topic: "orders", partition: 0, messages: 12), .init(topic: "orders", partition: 1, messages: 0),
            ])
        var s = PrometheusSample.parse(exporter.render())
        #expect(value(s, "sluice_consumer_lag", ["input": "orders", "topic": "orders", "partition": "0"]) == 12)
        #expect(value(s, "sluice_consumer_lag", ["input": "orders", "topic": "orders", "partition": "1"]) == 0)
        #expect(!exporter.render().contains("sluice_checkpoints_total"))
        // Partition 0 went to another member of the group: its series goes.
        metrics.recordConsumerLag(input: "orders", partitions: [.init(topic: "orders", partition: 1, messages: 3)])
        s = PrometheusSample.parse(exporter.render())
        #expect(value(s, "sluice_consumer_lag", ["partition": "0"]) == nil)
        #expect(value(s, "sluice_consumer_lag", ["input": "orders", "topic": "orders", "partition": "1"]) == 3)
    }

    @Test func aCheckpointedRunReportsItsCheckpoints() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-obs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lines = (0..<400_000).map { "{\"n\":\($0)}" }.joined(separator: "\n") + "\n"
        try lines.write(toFile: dir + "/in.jsonl", atomically: true, encoding: .utf8)
        let p = try Pipeline.compile(
            yaml: """
                name: counted
                inputs: { in: { file: \(dir)/in.jsonl } }
                streams:
                  main: { from: in, steps: [ { filter: n % 2 == 0 } ] }
                outputs:
                  out: { from: [main], file: \(dir)/out.jsonl }
                """)
        let metrics = RunMetrics(pipeline: p.name, eventTime: false)
        var options = RunOptions()
        options.metrics = metrics
        options.checkpointDirectory = dir + "/ckpt"
        options.checkpointInterval = 0.001
        let run = try p.start(options)
        #expect(run.wait() == .completed)
        let taken = run.execution.checkpoints?.stats.count ?? 0
        #expect(taken > 0)
        // Every checkpoint written, and only those, reached the metrics.
        #expect(metrics.checkpoints.count == taken)
        let s = PrometheusSample.parse(MetricsExporter(metrics).render())
        #expect(value(s, "sluice_checkpoints_total") == Double(taken))
    }
}
