import Foundation
import Logging
import SluiceObservability
import Testing

/// What `top`, the progress bar and the logs print, on fixed input.
@Suite struct RenderingTests {
    static let before = PrometheusSample.parse(
        """
        # TYPE sluice_up gauge
        sluice_up{pipeline="demo"} 1.0
        sluice_ready{pipeline="demo"} 1.0
        sluice_step_events_in_total{pipeline="demo",stream="main",step="big",kind="filter"} 1000
        sluice_step_events_out_total{pipeline="demo",stream="main",step="big",kind="filter"} 400
        sluice_input_events_total{pipeline="demo",input="in"} 1000
        sluice_output_events_total{pipeline="demo",output="out"} 400
        sluice_consumer_lag{pipeline="demo",input="orders",topic="t",partition="10"} 500
        sluice_consumer_lag{pipeline="demo",input="orders",topic="t",partition="2"} 100
        """)
    static let after = PrometheusSample.parse(
        """
        # TYPE sluice_up gauge
        sluice_up{pipeline="demo"} 1.0
        sluice_ready{pipeline="demo"} 1.0
        sluice_failed{pipeline="demo"} 0.0
        # TYPE sluice_step_events_in_total counter
        sluice_step_events_in_total{pipeline="demo",stream="main",step="big",kind="filter"} 3000
        sluice_step_events_out_total{pipeline="demo",stream="main",step="big",kind="filter"} 1200
        sluice_step_side_events_total{pipeline="demo",stream="main",step="big",kind="filter"} 7
        sluice_step_state_size{pipeline="demo",stream="main",step="big",kind="filter"} 0.0
        sluice_input_events_total{pipeline="demo",input="in"} 3007
        sluice_input_bytes_total{pipeline="demo",input="in"} 2097152
        sluice_input_malformed_total{pipeline="demo",input="in"} 3
        sluice_output_events_total{pipeline="demo",output="out"} 1200
        sluice_output_bytes_total{pipeline="demo",output="out"} 90000
        sluice_output_latency_seconds_sum{pipeline="demo",output="out"} 0.5
        sluice_output_latency_seconds_count{pipeline="demo",output="out"} 100
        sluice_side_output_events_total{pipeline="demo",stream="main",side="rejected"} 7
        sluice_watermark_lag_seconds{pipeline="demo",stream="main"} 0.25
        sluice_ring_occupancy{pipeline="demo",from="in",to="main"} 16.0
        sluice_ring_capacity{pipeline="demo",from="in",to="main"} 16.0
        sluice_ring_occupancy{pipeline="demo",from="main",to="out"} 2.0
        sluice_ring_capacity{pipeline="demo",from="main",to="out"} 16.0
        sluice_consumer_lag{pipeline="demo",input="orders",topic="t",partition="10"} 100
        sluice_consumer_lag{pipeline="demo",input="orders",topic="t",partition="2"} 120
        sluice_consumer_lag{pipeline="demo",input="orders",topic="t",partition="3"} 0
        """)

    @Test func topTableSnapshot() {
        let lines = TopTable.render(before: Self.before, after: Self.after, seconds: 2, url: "http://127.0.0.1:9464")
        let expected = """
            sluice top  http://127.0.0.1:9464  pipeline demo  ready

            STREAM  STEP  KIND    IN/s  OUT/s  IN    OUT   SIDE  STATE
            main    big   filter  1000    400  3000  1200     7      0

            INPUT/OUTPUT  EVENTS/s  EVENTS  BYTES     MALFORMED / LATENCY
            in  in            1004    3007   2.0 MiB  malformed 3
            out out            400    1200  87.9 KiB  mean 5.0ms

            SIDE OUTPUT    EVENTS/s  EVENTS
            main.rejected         4       7

            STREAM  WATERMARK LAG
            main          250.0ms

            CONSUMER LAG  PARTITION  MESSAGES  CHANGE/s
            orders t              2       120  +10
            orders t              3         0  -
            orders t             10       100  -200

            RING                              QUEUED  OF
            in -> main  (full: backpressure)      16  16
            main -> out                            2  16
            """
        #expect(lines.joined(separator: "\n") == expected)
    }

    @Test func theParserReadsLabelsWithEscapes() {
        let s = PrometheusSample.parse(#"m{a="x\"y",b="1,2"} 3.5"#)
        #expect(s == [PrometheusSample(name: "m", labels: ["a": "x\"y", "b": "1,2"], value: 3.5)])
    }

    @Test func progressLine() {
        let line = ProgressBar.line(read: 25, total: 100, events: 5000, elapsed: 2, width: 80)
        #expect(line == "[##########------------------------------]  25%  2500 ev/s  ETA 6s")
        #expect(
            ProgressBar.line(read: 100, total: 100, events: 10, elapsed: 1, width: 30).hasPrefix("[##########]  100%"))
    }

    @Test func aTerminalGetsABarThatIsErasedAtTheEnd() throws {
        // `script` (util-linux) gives the run a terminal; its output is what the terminal showed.
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("script(1) is missing") }
            return
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-obs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("in.jsonl")
        var text = ""
        for i in 0..<150_000 {
            text += #"{"id":\#(i),"amount":\#(i % 2000),"country":"US","note":"padding padding"}"# + "\n"
        }
        try text.write(to: input, atomically: true, encoding: .utf8)
        let command =
            "'\(LiveRun.binary.path)' run pipelines/quickstart.yaml --input '\(input.path)' --output '\(dir.path)/out.jsonl'"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        p.arguments = ["-qfec", command, "/dev/null"]
        p.currentDirectoryURL = LiveRun.root
        let out = Pipe()
        p.standardOutput = out
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let shown = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(shown.contains("%  ") && shown.contains(" ev/s"))
        #expect(shown.hasSuffix("\r\u{1B}[K"))
    }

    @Test func logLines() {
        let meta: Logger.Metadata = ["pipeline": "demo", "reason": "a \"quoted\" word"]
        #expect(
            StderrLogHandler.render(
                format: .text, time: "T", level: .error, message: "run failed", metadata: meta)
                == #"T error run failed pipeline=demo reason="a \"quoted\" word""#)
        let json = StderrLogHandler.render(
            format: .json, time: "T", level: .info, message: "run started", metadata: meta)
        #expect(
            json == #"{"ts":"T","level":"info","message":"run started","pipeline":"demo","reason":"a \"quoted\" word"}"#
        )
        #expect((try? JSONSerialization.jsonObject(with: Data(json.utf8))) != nil)
    }

    @Test func runLogsAreJSONLinesAndTheBarStaysOutOfFiles() throws {
        let r = try sluice([
            "run", "pipelines/quickstart.yaml", "--input", "pipelines/data/orders.jsonl", "--log-format", "json",
        ])
        #expect(r.status == 0)
        let logs = r.stderr.split(separator: "\n").filter { $0.hasPrefix("{") }
        #expect(logs.count == 4)
        for line in logs {
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(o?["ts"] is String && o?["level"] is String && o?["message"] is String)
        }
        #expect(logs.first?.contains(#""message":"run started""#) == true)
        #expect(logs.last?.contains(#""message":"run finished","read":"6","written":"3""#) == true)
        // stderr is not a terminal: no progress bar (no carriage returns).
        #expect(!r.stderr.contains("\r"))
        // Without the flags, no structured lines.
        let plain = try sluice(["run", "pipelines/quickstart.yaml", "--input", "pipelines/data/orders.jsonl"])
        #expect(!plain.stderr.contains("run started"))
        let warn = try sluice([
            "run", "pipelines/quickstart.yaml", "--input", "pipelines/data/orders.jsonl", "--log-level", "warning",
        ])
        let textLogs = warn.stderr.split(separator: "\n").filter { $0.contains(" warning ") || $0.contains(" info ") }
        #expect(textLogs.count == 2)
        #expect(textLogs.allSatisfy { $0.contains(" warning events went to a side output nothing reads") })

        // A pipeline's compile warnings are logged too.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-obs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("unread.yaml")
        try """
        inputs:
          a: { file: /dev/null }
          b: { file: /dev/null }
        streams:
          s: { from: a, steps: [ { filter: "true" } ] }
        outputs:
          out: { from: [s], stdout: {} }
        """.write(to: file, atomically: true, encoding: .utf8)
        let unread = try sluice(["run", file.path, "--log-format", "json"])
        #expect(unread.status == 0)
        #expect(
            unread.stderr.contains(
                #"{"ts":"#)
                && unread.stderr.contains(
                    #""level":"warning","message":"pipeline warning","diagnostic":"\#(file.path):3:3: warning: input 'b' is not read by any stream or output"}"#
                ))
    }
}
