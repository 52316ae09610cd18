import Dispatch
import SluiceCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The progress bar of a long run on a terminal: percent of the input bytes read,
/// events per second and the time left, redrawn on one stderr line five times a second
/// and erased at the end. Only when stderr is a terminal and every input reads a file of
/// known size (``shouldShow(_:)``): never in pipes or CI logs.
package final class ProgressBar {
    let timer: any DispatchSourceTimer

    /// True when a bar makes sense: stderr is a terminal (not `TERM=dumb`) and every
    /// input reads regular files (`--input FILE`, `file:`, or `< file`).
    package static func shouldShow(_ metrics: RunMetrics) -> Bool {
        guard isatty(2) == 1 else { return false }
        if let term = getenv("TERM"), String(cString: term) == "dumb" { return false }
        let inputs = metrics.inputs
        return !inputs.isEmpty && inputs.allSatisfy { ($0.expectedBytes ?? 0) > 0 && $0.bytes != nil }
    }

    /// Starts drawing; `eventsIn` gives the events read so far.
    package init(_ metrics: RunMetrics, eventsIn: @escaping @Sendable () -> Int) {
        let inputs = metrics.inputs
        let total = inputs.reduce(0) { $0 + ($1.expectedBytes ?? 0) }
        let start = DispatchTime.now().uptimeNanoseconds
        let t = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "sluice.progress"))
        t.schedule(deadline: .now() + .milliseconds(500), repeating: .milliseconds(200))
        t.setEventHandler {
            let read = inputs.reduce(0) { $0 + ($1.bytes?.value ?? 0) }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let line = Self.line(read: read, total: total, events: eventsIn(), elapsed: elapsed, width: Self.columns())
            Self.write("\r" + line + "\u{1B}[K")
        }
        t.resume()
        timer = t
    }

    /// Stops and erases the bar.
    package func stop() {
        timer.cancel()
        Self.write("\r\u{1B}[K")
    }

    /// One frame: `[#####-----]  45%  1.2M ev/s  ETA 12s`.
    package static func line(read: Int, total: Int, events: Int, elapsed: Double, width: Int) -> String {
        let fraction = total > 0 ? min(1, Double(read) / Double(total)) : 0
        let rate = elapsed > 0 ? Double(events) / elapsed : 0
        let eta: String
        if fraction > 0 && fraction < 1 {
            let left = Int((elapsed / fraction - elapsed).rounded(.up))
            eta = left >= 60 ? "ETA \(left / 60)m\(left % 60)s" : "ETA \(left)s"
        } else {
            eta = ""
        }
        let text = "  \(Int(fraction * 100))%  \(TopTable.count(rate)) ev/s  \(eta)"
        let barWidth = max(10, min(40, width - text.count - 3))
        let filled = Int(fraction * Double(barWidth))
        return "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: barWidth - filled) + "]"
            + text
    }

    static func columns() -> Int {
        var ws = winsize()
        if ioctl(2, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col > 0 { return Int(ws.ws_col) }
        return 80
    }

    static func write(_ s: String) {
        var text = s
        text.withUTF8 { buf in _ = systemWrite(2, buf.baseAddress, buf.count) }
    }
}

#if canImport(Glibc)
    private let systemWrite = Glibc.write
#elseif canImport(Darwin)
    private let systemWrite = Darwin.write
#endif
