import ArgumentParser
import Dispatch
import Sluice
import SluiceObservability

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `sluice top URL`: a live table of a running pipeline, from its `/metrics`.
struct Top: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a live table of a running pipeline (events/s per step, side outputs, lag, backpressure).",
        discussion: """
            URL is the endpoint of a run started with --metrics (as it printed:
            http://127.0.0.1:9464). The table refreshes every second; on a terminal it
            redraws in place, otherwise each table is printed after the last.

            Examples:
              sluice top http://127.0.0.1:9464
              sluice top :9464 --once
            """
    )

    @Argument(help: "The endpoint: http://HOST:PORT, HOST:PORT or :PORT.")
    var url: String

    @Flag(help: "Print one table (rates over one interval) and exit.")
    var once = false

    @Option(help: ArgumentHelp("Seconds between refreshes.", valueName: "seconds"))
    var interval: Double = 1

    func validate() throws {
        if !(interval >= 0.1 && interval <= 3600) { throw ValidationError("--interval must be between 0.1 and 3600") }
    }

    func run() throws {
        let target = try endpoint(url)
        let terminal = isatty(1) == 1
        var before = try scrape(target)
        var last = DispatchTime.now().uptimeNanoseconds
        while true {
            usleep(useconds_t(interval * 1e6))
            let after: [PrometheusSample]
            do {
                after = try PrometheusSample.parse(HTTPClient.get(target, "/metrics"))
            } catch {
                // The run ended (its endpoint went away): the last table stays.
                if once { throw fail(error) }
                printError("sluice: top: \(error)")
                return
            }
            let now = DispatchTime.now().uptimeNanoseconds
            let lines = TopTable.render(
                before: before, after: after, seconds: Double(now - last) / 1e9, url: target.text)
            var text = lines.joined(separator: "\n") + "\n"
            if terminal { text = "\u{1B}[H\u{1B}[2J" + text } else if !once { text += "\n" }
            guard writeOut(text) else { return }
            if once { return }
            before = after
            last = now
        }
    }

    func scrape(_ target: HTTPClient.Target) throws -> [PrometheusSample] {
        do { return try PrometheusSample.parse(HTTPClient.get(target, "/metrics")) } catch { throw fail(error) }
    }
}

/// `sluice tap URL --stream NAME`: live sample events of a running pipeline.
struct Tap: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print live events flowing through a stream or side output of a running pipeline, as JSON lines.",
        discussion: """
            URL is the endpoint of a run started with --metrics. Events are samples: when
            this reader falls behind, the pipeline drops samples for it rather than slow
            down (sluice_tap_dropped_events_total counts them). Ends at --limit, at the
            end of the run, or on Ctrl-C.

            Examples:
              sluice tap http://127.0.0.1:9464 --stream enriched --limit 10
              sluice tap :9464 --stream orders --side rejected
              sluice tap :9464 --stream in --side malformed
            """
    )

    @Argument(help: "The endpoint: http://HOST:PORT, HOST:PORT or :PORT.")
    var url: String

    @Option(help: ArgumentHelp("The stream (or input) to tap.", valueName: "name"))
    var stream: String

    @Option(
        help: ArgumentHelp(
            "Tap this side output of the stream instead (rejected, late, a route branch...).", valueName: "name"))
    var side: String?

    @Option(help: ArgumentHelp("Stop after N events.", valueName: "N"))
    var limit: Int?

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let target = try endpoint(url)
        var query = "/tap?stream=\(escape(stream))"
        if let side { query += "&side=\(escape(side))" }
        if let limit { query += "&limit=\(limit)" }
        var seen = 0
        do {
            try HTTPClient.lines(target, query) { line in
                guard writeOut(line + "\n") else { return false }
                seen += 1
                return limit.map { seen < $0 } ?? true
            }
        } catch {
            throw fail(error)
        }
    }

    func escape(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            let c = Character(Unicode.Scalar(b))
            if c.isASCII && (c.isLetter || c.isNumber || "-_.~".contains(c)) {
                out.append(c)
            } else {
                out += "%" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true)
            }
        }
        return out
    }
}

/// The endpoint a URL names, or a usage error.
func endpoint(_ url: String) throws -> HTTPClient.Target {
    do { return try HTTPClient.Target(url) } catch {
        printError("sluice: \(error)")
        throw usageExit
    }
}

/// Prints a failed request and gives its exit code: 64 when the endpoint refused the
/// request (a stream it does not have), 1 when it could not be reached.
func fail(_ error: any Error) -> ExitCode {
    printError("sluice: \(error)")
    if let f = error as? HTTPClient.Failure, let status = f.status, (400..<500).contains(status) { return usageExit }
    return runtimeFailureExit
}

/// Writes `text` to standard output at once (no buffering: a tap's lines show as they
/// come); false when stdout is gone (a closed pipe).
func writeOut(_ text: String) -> Bool {
    var t = text
    return t.withUTF8 { buf in
        var done = 0
        while done < buf.count {
            guard let base = buf.baseAddress else { return true }
            let n = write(1, base + done, buf.count - done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            done += n
        }
        return true
    }
}
