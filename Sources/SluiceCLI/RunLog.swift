import Logging
import Sluice
import SluiceObservability

/// `sluice run`'s structured logs (`--log-format`, `--log-level`) through swift-log: the
/// start, the end, warnings and failures, one line each, on stderr. Off unless one of the
/// two flags is given, so the plain messages stay as they are for people.
struct RunLog {
    let logger: Logger?

    init(format: LogFormat?, level: Logger.Level?) {
        guard format != nil || level != nil else {
            logger = nil
            return
        }
        let (f, l) = (format ?? .text, level ?? .info)
        logger = Logger(label: "sluice") { label in StderrLogHandler(label: label, format: f, level: l) }
    }

    func info(_ message: String, _ metadata: [String: String] = [:]) { emit(.info, message, metadata) }
    func warning(_ message: String, _ metadata: [String: String] = [:]) { emit(.warning, message, metadata) }
    func error(_ message: String, _ metadata: [String: String] = [:]) { emit(.error, message, metadata) }

    func emit(_ level: Logger.Level, _ message: String, _ metadata: [String: String]) {
        logger?.log(level: level, "\(message)", metadata: metadata.mapValues { .string($0) })
    }

    /// The end of a run: a warning per side output whose events nothing read, then how
    /// it ended (info, or error for a failure), with the events read and the events
    /// written to `outputs` (dead letters not included).
    func finished(_ run: PipelineRun, outputs: [String], outcome: RunOutcome, signal: Int32?) {
        guard logger != nil else { return }
        for (name, count) in run.deadLetters {
            warning("events went to a side output nothing reads", ["side_output": name, "events": "\(count)"])
        }
        let totals = run.execution.totals
        var meta = [
            "read": "\(totals.sourceEvents.values.reduce(0, +))",
            "written": "\(outputs.reduce(0) { $0 + (totals.sinkEvents[$1] ?? 0) })",
        ]
        if let signal { meta["signal"] = "\(signal)" }
        switch outcome {
        case .completed:
            info(signal == nil ? "run finished" : "run stopped", meta)
        case .outputClosed:
            meta["reason"] = "output closed"
            info("run stopped", meta)
        case .failed(let message):
            meta["reason"] = message
            error("run failed", meta)
        }
    }
}
