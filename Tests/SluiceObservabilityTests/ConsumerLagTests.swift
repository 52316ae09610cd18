import Foundation
import SluiceObservability
import SluiceTestSupport
import Testing

/// `sluice_consumer_lag` of a `kafka` input against a real Kafka-protocol broker (tansu),
/// through the `sluice` binary. Without tansu installed (`make deps`) it skips, but fails
/// under `CI=true`.
@Suite(.serialized) struct ConsumerLagTests {
    /// The lag samples of input `events`, by partition.
    static func lag(_ samples: [PrometheusSample]) -> [String: Double] {
        var out: [String: Double] = [:]
        for s in samples where s.name == "sluice_consumer_lag" && s.labels["input"] == "events" {
            #expect(s.labels["topic"] == "events" && s.labels["pipeline"] != nil, "\(s.labels)")
            out[s.labels["partition"] ?? "?"] = s.value
        }
        return out
    }

    @Test func aKafkaInputBehindABlockedOutputLagsAndIsAtZeroOnceDrained() throws {
        guard let broker = try KafkaBroker.start() else {
            if KafkaBroker.required {
                Issue.record(
                    "tansu is not installed in .venv (run `make deps`); CI=true requires the Kafka tests to run")
            }
            return
        }
        defer { broker.stop() }
        try broker.createTopic("events", partitions: 2)
        // More than the run's rings and the stdout pipe hold, so that the input waits.
        let total = 80_000
        let pad = String(repeating: "x", count: 100)
        try broker.produce("events", (0..<total).map { #"{"id":\#($0),"pad":"\#(pad)"}"# })

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-lag-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(
            """
            inputs:
              events: { kafka: { brokers: "\(broker.address)", topics: [events], group: lag,
                                 client: { session.timeout.ms: 6000, heartbeat.interval.ms: 500 } } }
            outputs:
              out: { from: [events], stdout: {} }
            """.utf8
        ).write(to: dir.appendingPathComponent("p.yaml"))

        // stdout is a pipe nobody reads yet: the output blocks, and the input behind it.
        let p = Process()
        p.executableURL = KafkaBroker.binary
        p.arguments = ["run", "p.yaml", "--metrics", "127.0.0.1:0"]
        p.currentDirectoryURL = dir
        p.environment = broker.environment
        let stdout = Pipe()
        p.standardOutput = stdout
        p.standardInput = FileHandle.nullDevice
        let errURL = dir.appendingPathComponent("err.txt")
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        p.standardError = try FileHandle(forWritingTo: errURL)
        try p.run()
        defer {
            if p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
            }
        }
        var stderr: String { (try? String(contentsOf: errURL, encoding: .utf8)) ?? "" }

        var url = ""
        let started = Date().addingTimeInterval(60)
        while url.isEmpty && Date() < started && p.isRunning {
            if let m = stderr.firstMatch(of: /metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics/) { url = String(m.1) }
            Thread.sleep(forTimeInterval: 0.05)
        }
        try #require(!url.isEmpty, "no endpoint: \(stderr)")
        let target = try HTTPClient.Target(url)
        func scrape(until what: String, _ done: ([PrometheusSample]) -> Bool) throws -> [PrometheusSample] {
            let deadline = Date().addingTimeInterval(60)
            var last: [PrometheusSample] = []
            while Date() < deadline && p.isRunning {
                last = PrometheusSample.parse(try HTTPClient.get(target, "/metrics"))
                if done(last) { return last }
                Thread.sleep(forTimeInterval: 0.1)
            }
            Issue.record("timed out waiting for \(what); last lag \(Self.lag(last)); stderr: \(stderr)")
            return last
        }

        // Behind: the input read part of the topic and waits on the blocked output.
        let behind = try scrape(until: "a nonzero lag") { s in Self.lag(s).values.reduce(0, +) > 0 }
        let lag = Self.lag(behind).values.reduce(0, +)
        #expect(lag > 0 && lag <= Double(total), "\(Self.lag(behind))")

        // `sluice top` shows the lag per partition while the input is behind.
        let top = try sluice(["top", url, "--once", "--interval", "0.5"])
        #expect(top.status == 0, "\(top.stderr)")
        let table = top.stdout
        let lagRows = table.split(separator: "\n").filter { $0.hasPrefix("events events") }
        #expect(table.contains("CONSUMER LAG") && table.contains("MESSAGES  CHANGE/s"), "\(table)")
        // A partition appears once the input has read from it; the blocked output may
        // have stopped it before the second.
        #expect((1...2).contains(lagRows.count), "\(table)")

        // Drain stdout: the run reads the rest, and the lag of both partitions falls to 0.
        nonisolated(unsafe) var lines = 0
        let reader = DispatchGroup()
        reader.enter()
        DispatchQueue.global().async {
            let data = stdout.fileHandleForReading.readDataToEndOfFile()
            lines = data.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            reader.leave()
        }
        let drained = try scrape(until: "lag 0 on both partitions after draining") { s in
            let l = Self.lag(s)
            return l.count == 2 && l.values.allSatisfy { $0 == 0 }
                && value(s, "sluice_input_events_total", ["input": "events"]) == Double(total)
        }
        #expect(Self.lag(drained) == ["0": 0, "1": 0])

        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        reader.wait()
        #expect(p.terminationStatus == 143, "\(stderr)")
        #expect(lines == total)
    }
}
