import Dispatch
import Sluice
import SluiceTooling

/// The `--stats` progress line: events in and out and the rate, about once a second.
final class ProgressPrinter {
    let timer: DispatchSourceTimer

    init(_ execution: Execution) {
        let start = DispatchTime.now().uptimeNanoseconds
        let t = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "sluice.stats"))
        t.schedule(deadline: .now() + 1, repeating: 1)
        nonisolated(unsafe) var lastIn = 0
        nonisolated(unsafe) var lastTime = start
        t.setEventHandler {
            let now = DispatchTime.now().uptimeNanoseconds
            let ein = execution.eventsIn.load(ordering: .relaxed)
            let eout = execution.eventsOut.load(ordering: .relaxed)
            let rate = Double(ein - lastIn) / (Double(now - lastTime) / 1e9)
            lastIn = ein
            lastTime = now
            printError(
                "sluice: \(formatSeconds(Double(now - start) / 1e9)) in \(ein) out \(eout) (\(formatCount(rate))/s)")
        }
        t.resume()
        timer = t
    }

    func stop() { timer.cancel() }
}

func formatCount(_ x: Double) -> String {
    if x >= 1e6 { return "\((x / 1e5).rounded() / 10)M" }
    if x >= 1e3 { return "\((x / 1e2).rounded() / 10)k" }
    return "\(Int(x))"
}

func formatSeconds(_ s: Double) -> String { "\((s * 10).rounded() / 10)s" }

/// The `--stats` end-of-run table: per stream, per step.
enum StatsTable {
    static func print(_ report: Execution.Report) {
        for (source, n) in report.sourceEvents.sorted(by: { $0.key < $1.key }) {
            printError("input \(source): \(n) events")
        }
        var rows: [[String]] = [["stream", "step", "in", "out", "rejected", "dropped", "late", "other side", "time"]]
        for (stream, steps) in report.steps.sorted(by: { $0.key < $1.key }) {
            for s in steps {
                rows.append([
                    stream, s.name, "\(s.eventsIn)", "\(s.eventsOut)", "\(s.rejected)", "\(s.dropped)", "\(s.late)",
                    "\(s.sideOut - s.rejected - s.late)", "\(Double(s.nanos / 100_000) / 10)ms",
                ])
            }
        }
        if rows.count > 1 {
            let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max() ?? 0 }
            for r in rows {
                printError(
                    r.enumerated().map { i, cell in
                        let pad = String(repeating: " ", count: widths[i] - cell.count)
                        return i < 2 ? cell + pad : pad + cell
                    }.joined(separator: "  "))
            }
        }
        for (stream, steps) in report.steps.sorted(by: { $0.key < $1.key }) {
            for s in steps where !s.counters.isEmpty {
                printError(
                    "\(stream) \(s.name): " + s.counters.map { "\($0.name) \($0.value)" }.joined(separator: ", "))
            }
        }
        for (sink, n) in report.sinkEvents.sorted(by: { $0.key < $1.key }) {
            printError("output \(sink): \(n) events")
        }
    }

    /// The checkpoint line: how many, how long (p50, max), how big the last one was.
    static func print(_ stats: CheckpointStats) {
        printError(checkpointLine(stats))
    }
}

/// `checkpoints: 12 (0 failed), p50 3.1ms, max 9.8ms, last 20480 bytes (id 12)`.
func checkpointLine(_ s: CheckpointStats) -> String {
    let ms = { (n: UInt64) in "\(Double(n / 10_000) / 100)ms" }
    var line =
        "checkpoints: \(s.count) (\(s.failed) failed), p50 \(ms(s.p50)), max \(ms(s.max)), last \(s.lastBytes) bytes"
    if let id = s.lastID { line += " (id \(id))" }
    return line
}
