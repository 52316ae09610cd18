import Foundation
import SluiceObservability
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `sluice run --metrics`: the endpoint of a running pipeline, through the binary, on a
/// free loopback port, with a real Prometheus parser reading `/metrics`.
@Suite(.serialized) struct EndpointTests {
    /// 12 JSON events (2 without an amount, so rejected by the filter's expression) and
    /// one line that is not JSON: what the quick-start pipeline does with them is known.
    static let events: [String] = {
        var lines: [String] = []
        let amounts = [100, 300, 500, 1200, 80, 251, 900, 2000, 40, 260]
        let countries = ["US", "US", "DE", "US", "US", "US", "FR", "US", "US", "DE"]
        for i in 0..<10 { lines.append(#"{"id":\#(i),"amount":\#(amounts[i]),"country":"\#(countries[i])"}"#) }
        lines.append(#"{"id":10,"country":"US"}"#)
        lines.append(#"{"id":11,"country":"US"}"#)
        lines.append("not json")
        return lines
    }()
    /// amount > 250 && country == "US": ids 1, 3, 5, 7.
    static let kept = 4

    /// The samples as prometheus_client's parser reads them: (name, labels, value), or
    /// nil when the parser is not installed (`make deps` installs it in .venv).
    static func parseWithPrometheusClient(_ text: String) throws -> [PrometheusSample]? {
        let python = LiveRun.root.appendingPathComponent(".venv/bin/python")
        guard FileManager.default.isExecutableFile(atPath: python.path) else { return nil }
        let script = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            out = []
            for family in text_string_to_metric_families(sys.stdin.read()):
                for s in family.samples:
                    out.append([s.name, s.labels, s.value, family.type])
            print(json.dumps(out))
            """
        let p = Process()
        p.executableURL = python
        p.arguments = ["-c", script]
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = errors
        try p.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw LiveRunError(text: "prometheus_client rejected /metrics: \(String(decoding: err, as: UTF8.self))")
        }
        guard let rows = try JSONSerialization.jsonObject(with: data) as? [[Any]] else {
            throw LiveRunError(text: "unexpected parser output")
        }
        return rows.compactMap { row in
            guard row.count == 4, let name = row[0] as? String, let labels = row[1] as? [String: String],
                let v = row[2] as? Double
            else { return nil }
            return PrometheusSample(name: name, labels: labels, value: v)
        }
    }

    @Test func metricsParseAndCountersMatchTheEventsProcessed() throws {
        let run = try LiveRun(["pipelines/quickstart.yaml"])
        // Ready once started, while its input is open.
        #expect(try HTTPClient.get(run.target, "/ready") == "ready\n")
        #expect(try HTTPClient.get(run.target, "/healthz") == "ok\n")
        run.write(Self.events)
        let p = ["pipeline": "quickstart"]
        _ = try run.waitFor("every event counted") { s in
            value(s, "sluice_output_events_total", ["output": "out"]) == Double(Self.kept)
                && value(s, "sluice_output_events_total", ["output": "main.rejected"]) == 2
                && value(s, "sluice_output_events_total", ["output": "in.malformed"]) == 1
                && value(s, "sluice_step_events_out_total", ["step": "enrich"]) == Double(Self.kept)
                && value(s, "sluice_watermark_lag_seconds", ["stream": "main"]) != nil
        }
        let body = try HTTPClient.get(run.target, "/metrics")
        guard let parsed = try Self.parseWithPrometheusClient(body) else {
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                Issue.record("prometheus_client is missing from .venv (make deps installs it); under CI that fails")
            }
            run.finish()
            return
        }
        #expect(value(parsed, "sluice_input_events_total", p.merging(["input": "in"]) { $1 }) == 12)
        #expect(value(parsed, "sluice_input_malformed_total", ["input": "in"]) == 1)
        let bytes = Self.events.reduce(0) { $0 + $1.utf8.count + 1 }
        #expect(value(parsed, "sluice_input_bytes_total", ["input": "in"]) == Double(bytes))
        let filter = ["stream": "main", "step": "filter", "kind": "filter"]
        #expect(value(parsed, "sluice_step_events_in_total", filter) == 12)
        #expect(value(parsed, "sluice_step_events_out_total", filter) == Double(Self.kept))
        #expect(value(parsed, "sluice_step_side_events_total", filter) == 2)
        let enrich = ["stream": "main", "step": "enrich", "kind": "enrich"]
        #expect(value(parsed, "sluice_step_events_in_total", enrich) == Double(Self.kept))
        #expect(value(parsed, "sluice_step_events_out_total", enrich) == Double(Self.kept))
        #expect(value(parsed, "sluice_stream_events_out_total", ["stream": "main"]) == Double(Self.kept))
        #expect(value(parsed, "sluice_side_output_events_total", ["stream": "main", "side": "rejected"]) == 2)
        #expect(value(parsed, "sluice_output_events_total", ["output": "out"]) == Double(Self.kept))
        #expect(value(parsed, "sluice_output_latency_seconds_count", ["output": "out"]).map { $0 >= 1 } == true)
        #expect(value(parsed, "sluice_ring_capacity", ["from": "in", "to": "main"]).map { $0 > 0 } == true)
        #expect(value(parsed, "sluice_watermark_lag_seconds", ["stream": "main"]) != nil)
        #expect(value(parsed, "sluice_ready", p) == 1)
        #expect(run.finish() == 0)
        // What the run wrote is what the counters said.
        #expect(run.stdout.split(separator: "\n").count == Self.kept)
    }

    @Test func scrapingWhileEventsFlowNeitherStallsNorMiscounts() throws {
        let run = try LiveRun(["pipelines/quickstart.yaml"])
        let target = try run.target
        let n = 60_000
        var lines: [String] = []
        lines.reserveCapacity(n)
        for i in 0..<n { lines.append(#"{"id":\#(i),"amount":\#(i % 1000),"country":"US"}"#) }
        let kept = (0..<n).filter { $0 % 1000 > 250 }.count
        // Scrape as fast as the endpoint answers while the events go through.
        nonisolated(unsafe) var scrapes = 0
        nonisolated(unsafe) var seen: [Double] = []
        let stop = DispatchSemaphore(value: 0)
        let scraper = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            while stop.wait(timeout: .now()) == .timedOut {
                if let body = try? HTTPClient.get(target, "/metrics") {
                    scrapes += 1
                    let s = PrometheusSample.parse(body)
                    if let v = value(s, "sluice_input_events_total") { seen.append(v) }
                }
            }
            scraper.signal()
        }
        run.write(lines)
        _ = try run.waitFor("every event") {
            value($0, "sluice_output_events_total", ["output": "out"]) == Double(kept)
        }
        stop.signal()
        scraper.wait()
        #expect(scrapes > 5)
        // Counters only grow, and end at what was read.
        #expect(seen == seen.sorted())
        #expect(run.finish() == 0)
        #expect(run.stdout.split(separator: "\n").count == kept)
    }

    @Test func tapShowsEventsOfARunningPipeline() throws {
        let run = try LiveRun(["pipelines/quickstart.yaml"])
        let url = run.url
        nonisolated(unsafe) var tapped: (status: Int32, stdout: String, stderr: String)?
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            tapped = try? sluice(["tap", url, "--stream", "main", "--limit", "2"])
            done.signal()
        }
        _ = try run.waitFor("the tap client") { value($0, "sluice_tap_clients") == 1 }
        run.write(Self.events)
        #expect(done.wait(timeout: .now() + 60) == .success)
        let lines = tapped?.stdout.split(separator: "\n").map(String.init) ?? []
        #expect(tapped?.status == 0)
        #expect(
            lines == [
                #"{"id":1,"amount":300,"country":"US","big":false}"#,
                #"{"id":3,"amount":1200,"country":"US","big":true}"#,
            ])
        // A side output too, and a stream that does not exist is a usage error.
        let missing = try sluice(["tap", url, "--stream", "nope"])
        #expect(missing.status == 64)
        #expect(
            missing.stderr.contains(
                "the pipeline has no stream or input 'nope' (it has: in, in.malformed, main, main.rejected)"))
        let badSide = try sluice(["tap", url, "--stream", "main", "--side", "nope"])
        #expect(badSide.status == 64)
        #expect(badSide.stderr.contains("no side output 'main.nope'"))
        #expect(run.finish() == 0)
    }

    @Test func topRendersARunningPipeline() throws {
        let run = try LiveRun(["pipelines/quickstart.yaml"])
        run.write(Self.events)
        // Every figure settled, so that the rates over top's interval are 0.
        _ = try run.waitFor("the events") { s in
            value(s, "sluice_output_events_total", ["output": "out"]) == 4
                && value(s, "sluice_output_events_total", ["output": "main.rejected"]) == 2
                && value(s, "sluice_output_events_total", ["output": "in.malformed"]) == 1
                && value(s, "sluice_step_events_in_total", ["step": "filter"]) == 12
                && value(s, "sluice_step_events_out_total", ["step": "enrich"]) == 4
        }
        let top = try sluice(["top", run.url, "--once", "--interval", "0.2"])
        #expect(top.status == 0)
        let lines = top.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first == "sluice top  \(run.url)  pipeline quickstart  ready")
        #expect(lines.contains("STREAM  STEP    KIND    IN/s  OUT/s  IN  OUT  SIDE  STATE"))
        #expect(lines.contains("main    filter  filter     0      0  12    4     2      0"))
        #expect(lines.contains("main    enrich  enrich     0      0   4    4     0      0"))
        #expect(lines.contains { $0.hasPrefix("in  in ") && $0.contains("malformed 1") })
        #expect(lines.contains("main.rejected         0       2"))
        #expect(lines.contains { $0.hasPrefix("in -> main ") })
        #expect(run.finish() == 0)
        // Once the run is over its endpoint is gone: a clear message, exit 1.
        let gone = try sluice(["top", run.url, "--once"])
        #expect(gone.status == 1)
        #expect(gone.stderr.contains("cannot reach \(run.url)"))
    }

    @Test func anAddressInUseIsOneClearMessage() throws {
        // Hold a port.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        #expect(listen(fd, 1) == 0)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        let port = Int(UInt16(bigEndian: addr.sin_port))
        let r = try sluice(["run", "pipelines/quickstart.yaml", "--metrics", "127.0.0.1:\(port)"])
        #expect(r.status == 1)
        #expect(
            r.stderr
                == "sluice: --metrics 127.0.0.1:\(port): the address is already in use (another process listens there); pick another port, or port 0 for a free one\n"
        )
        #expect(r.stdout.isEmpty)
    }

    @Test func aMalformedAddressIsAUsageError() throws {
        let r = try sluice(["run", "pipelines/quickstart.yaml", "--metrics", "localhost:http"])
        #expect(r.status == 64)
        #expect(
            r.stderr
                == "sluice: --metrics: bad metrics address 'localhost:http': 'http' is not a port (0 to 65535); write PORT, HOST:PORT or [IPV6]:PORT (e.g. 127.0.0.1:9464)\n"
        )
        let url = try sluice(["top", "nowhere"])
        #expect(url.status == 64)
        #expect(url.stderr.contains("'nowhere' is not an endpoint URL"))
    }

    @Test func theMetricsKeyOfAPipelineFileIsChecked() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-obs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let bad = dir.appendingPathComponent("bad.yaml")
        try "metrics: \"127.0.0.1:70000\"\nsteps:\n  - filter: true\n".write(to: bad, atomically: true, encoding: .utf8)
        let r = try sluice(["check", bad.path])
        #expect(r.status == 2)
        #expect(r.stderr.contains("bad.yaml:1:10: error: 127.0.0.1:70000 is not a metrics address"))
    }
}
