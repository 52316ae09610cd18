import ArgumentParser
import Dispatch
import Logging
import Sluice
import SluiceObservability
import SluiceTooling
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension JSONInputFormat: ExpressibleByArgument {}
extension DuplicateKeyPolicy: ExpressibleByArgument {}
extension LogFormat: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a pipeline over JSON events.",
        discussion: """
            Reads standard input and writes standard output unless the pipeline or the
            flags say otherwise. Lines that are not JSON go to the input's 'malformed'
            side output; side outputs that nothing reads are counted, summarised on
            stderr, and written to --dlq FILE when given.

            Examples:
              sluice run pipelines/quickstart.yaml < pipelines/data/orders.jsonl
              sluice run fraud.yaml --input events=day1.jsonl --output alerts=alerts.jsonl
              sluice run filter.yaml --set threshold=500 --dlq rejected.jsonl < in.jsonl
              sluice run fraud.yaml --metrics 9464 --log-format json < events.jsonl
            """
    )

    @Argument(help: "The pipeline file (YAML).")
    var pipeline: String

    @Option(
        name: .customLong("input"),
        help: ArgumentHelp(
            "Read input NAME from FILE ('-' is stdin); bare FILE binds the only input.", valueName: "NAME=FILE"))
    var inputs: [String] = []

    @Option(
        name: .customLong("output"),
        help: ArgumentHelp(
            "Write output NAME to FILE ('-' is stdout); bare FILE binds the only output.", valueName: "NAME=FILE"))
    var outputs: [String] = []

    @Option(
        name: .customLong("set"),
        help: ArgumentHelp(
            "Override parameter KEY (params.KEY in expressions); VALUE is read as JSON when it parses, else as a string.",
            valueName: "KEY=VALUE"))
    var params: [String] = []

    @Option(help: "Input format: jsonl (one value per line) or json (concatenated values, as jq reads).")
    var format: JSONInputFormat?

    @Option(
        help: ArgumentHelp(
            "What to do with an object that repeats a key: reject (it is malformed; the default), first or last (keep that value), for every input.",
            valueName: "policy"))
    var duplicateKeys: DuplicateKeyPolicy?

    @Option(help: ArgumentHelp("Write events of side outputs that nothing reads to FILE.", valueName: "FILE"))
    var dlq: String?

    @Flag(help: "Print progress to stderr about once a second and a per-step summary at the end.")
    var stats = false

    @Option(
        help: ArgumentHelp(
            "Run every stream that has a 'key' in N partitions, each on its own thread (per-key order is kept).",
            valueName: "N"))
    var parallelism: Int?

    @Option(
        help: ArgumentHelp(
            "Serve /metrics (Prometheus), /healthz, /ready and /tap on ADDR while the run lasts: PORT (loopback), HOST:PORT or [IPV6]:PORT; port 0 picks a free one.",
            valueName: "ADDR"))
    var metrics: String?

    @Option(help: ArgumentHelp("Structured log lines on stderr: text or json (start, stop, warnings, failures)."))
    var logFormat: LogFormat?

    @Option(
        help: ArgumentHelp(
            "Least level of the structured logs: trace, debug, info (the default once logs are on), notice, warning, error, critical.",
            valueName: "level"))
    var logLevel: Logger.Level?

    @Option(
        help: ArgumentHelp(
            "Take checkpoints in DIR and, when it holds one, resume from the newest (see docs/checkpoints.md).",
            valueName: "DIR"))
    var checkpointDir: String?

    @Option(help: ArgumentHelp("Time between checkpoints, such as 10s (the default) or 500ms.", valueName: "DURATION"))
    var checkpointEvery: String?

    @Flag(help: "Drop the checkpointed state of steps the pipeline no longer has instead of refusing to start.")
    var allowNonRestoredState = false

    func validate() throws {
        if let parallelism, !(1...256).contains(parallelism) {
            throw ValidationError("--parallelism must be between 1 and 256")
        }
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let overrides = try bindings(params, flag: "--set", allowBare: false)
        var options = RunOptions()
        options.inputs = try bindings(inputs, flag: "--input", allowBare: true)
        options.outputs = try bindings(outputs, flag: "--output", allowBare: true)
        options.format = format
        options.duplicateKeys = duplicateKeys
        options.deadLetterPath = dlq
        options.timing = stats
        options.parallelism = parallelism
        var flagAddress: MetricsAddress?
        if let metrics {
            switch MetricsAddress.parse(metrics) {
            case .success(let a): flagAddress = a
            case .failure(let e):
                printError("sluice: --metrics: \(e)")
                throw usageExit
            }
        }
        let log = RunLog(format: logFormat, level: logLevel)
        options.checkpointDirectory = checkpointDir
        options.allowNonRestoredState = allowNonRestoredState
        if let checkpointEvery {
            guard let span = TimeSpan(checkpointEvery), span.nanoseconds > 0 else {
                printError(
                    "sluice: --checkpoint-every '\(checkpointEvery)' is not a positive duration such as 10s or 500ms")
                throw usageExit
            }
            options.checkpointInterval = Double(span.nanoseconds) / 1e9
        }
        let compiled = try loadPipeline(pipeline, params: overrides)
        for w in compiled.warnings.items { log.warning("pipeline warning", ["diagnostic": w.description]) }

        // A scale-out Kafka input: this run is a member of the group, and each partition
        // it is assigned runs in a process of its own (this command again, told its
        // partition in the environment).
        var partitionProcess = false
        if compiled.scaleOutInput != nil {
            if let text = getenv(Pipeline.partitionEnvironmentName).map({ String(cString: $0) }) {
                do {
                    options = try compiled.partitionOptions(options, environment: text)
                } catch {
                    printError("sluice: \(error.message)")
                    throw usageExit
                }
                partitionProcess = true
            } else {
                try runScaleOutMember(compiled, options: options)
                return
            }
        }

        // The endpoint starts before any input is read: a port in use fails the run
        // before it has done anything. (A scale-out partition's process serves none: its
        // siblings would want the same port.)
        let address = partitionProcess ? nil : flagAddress ?? compiled.metricsAddress
        var server: MetricsServer?
        var live: RunMetrics?
        if let address {
            let m = RunMetrics(pipeline: compiled.name, eventTime: compiled.hasEventTime)
            do {
                server = try MetricsServer.start(address, metrics: m, exporter: MetricsExporter(m))
            } catch {
                printError("sluice: \(error)")
                log.error("metrics endpoint failed", ["address": "\(address)", "reason": "\(error)"])
                throw runtimeFailureExit
            }
            live = m
            if let server { printError("sluice: metrics on \(server.url)/metrics") }
        } else if !stats, isatty(2) == 1 {
            // Only for the progress bar: byte counts, no per-stage figures.
            live = RunMetrics(pipeline: compiled.name, eventTime: compiled.hasEventTime, measuresStages: false)
        }
        options.metrics = live
        defer { server?.stop() }

        let stop = StopSignals()
        let run: PipelineRun
        do {
            run = try compiled.start(options)
        } catch {
            printError("sluice: \(error.message)")
            log.error("run did not start", ["pipeline": compiled.name, "reason": error.message])
            switch error.kind {
            case .usage: throw usageExit
            case .fileConflict: throw pipelineErrorExit
            case .resource: throw runtimeFailureExit
            }
        }
        stop.attach(run.execution)
        log.info(
            "run started",
            [
                "pipeline": compiled.name, "file": pipeline, "inputs": compiled.inputNames.joined(separator: ","),
                "outputs": compiled.outputNames.joined(separator: ","), "metrics": server.map { $0.url } ?? "off",
            ])
        let progress = stats ? ProgressPrinter(run.execution) : nil
        let bar =
            !stats && live.map { ProgressBar.shouldShow($0) } == true
            ? live.map { m in
                let execution = run.execution
                return ProgressBar(m) { execution.eventsIn.load(ordering: .relaxed) }
            } : nil
        let outcome = run.wait()
        progress?.stop()
        bar?.stop()
        if stats {
            StatsTable.print(run.execution.totals)
            if let c = run.execution.checkpoints, !c.flushOnly { StatsTable.print(c.stats) }
        }
        for line in run.deadLetterSummary { printError(line) }
        log.finished(run, outputs: compiled.outputNames, outcome: outcome, signal: stop.received)
        if let signal = stop.received {
            let totals = run.execution.totals
            let read = totals.sourceEvents.values.reduce(0, +)
            let written = totals.sinkEvents.values.reduce(0, +)
            let saved =
                if let id = run.execution.checkpoints?.stats.lastID {
                    "open state was saved in checkpoint \(id); a restart with the same --checkpoint-dir resumes there"
                } else {
                    "open windows were not fired"
                }
            printError(
                "sluice: stopped by \(signal == SIGINT ? "SIGINT" : "SIGTERM") after reading \(read) event\(read == 1 ? "" : "s"); "
                    + "what was read was processed and written (\(written) out); \(saved)")
            if case .failed(let message) = outcome { printError("sluice: \(message)") }
            throw ExitCode(128 + signal)
        }
        switch outcome {
        case .completed, .outputClosed:
            return
        case .failed(let message):
            printError("sluice: \(message)")
            throw runtimeFailureExit
        }
    }
}

extension Run {
    /// Takes part in the group of a `scale_out` Kafka input, running each partition it is
    /// assigned in a process of its own, until SIGTERM or SIGINT (exit 128 + the signal)
    /// or a failure (exit 1).
    func runScaleOutMember(_ compiled: Pipeline, options: RunOptions) throws {
        let stop = StopSignals()
        do {
            try compiled.runScaleOutMember(options, arguments: CommandLine.arguments) { stop.received != nil }
        } catch {
            printError("sluice: \(error.message)")
            throw error.kind == .usage ? usageExit : runtimeFailureExit
        }
        if let signal = stop.received { throw ExitCode(128 + signal) }
    }
}

/// SIGINT and SIGTERM during a run: the first stops it gracefully (``Execution/cancel()``:
/// no more input is read, what was read is written, outputs are flushed, the summary is
/// printed, exit 128 + the signal); a second exits at once.
///
/// The handler is installed synchronously (no window in which a signal is lost) and only
/// writes the signal's number to a pipe, which is all a handler may safely do; a thread
/// reading the pipe acts on it. `SA_RESTART` keeps the stages' system calls going.
final class StopSignals {
    private final class State: Sendable {
        /// The first signal, and the run it stops once there is one.
        let inner = Mutex<(signal: Int32?, execution: Execution?)>((nil, nil))
    }
    private let state = State()

    /// Installs the handler; call before the run starts, then ``attach(_:)``.
    init() {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        stopSignalPipe = fds[1]
        let reader = fds[0]
        let state = self.state
        DispatchQueue.global().async {
            while true {
                var byte: UInt8 = 0
                let n = read(reader, &byte, 1)
                if n < 0 && errno == EINTR { continue }
                guard n == 1 else { return }
                let sig = Int32(byte)
                let (again, execution) = state.inner.withLock { s -> (Bool, Execution?) in
                    if s.signal != nil { return (true, nil) }
                    s.signal = sig
                    return (false, s.execution)
                }
                if again { _exit(128 + sig) }
                execution?.cancel()
            }
        }
        for sig in [SIGINT, SIGTERM] {
            var action = sigaction()
            #if canImport(Glibc)
                action.__sigaction_handler.sa_handler = { sig in
                    var byte = UInt8(truncatingIfNeeded: sig)
                    _ = write(stopSignalPipe, &byte, 1)
                }
            #else
                action.__sigaction_u.__sa_handler = { sig in
                    var byte = UInt8(truncatingIfNeeded: sig)
                    _ = write(stopSignalPipe, &byte, 1)
                }
            #endif
            action.sa_flags = SA_RESTART
            sigemptyset(&action.sa_mask)
            sigaction(sig, &action, nil)
        }
        // A parent may have started us with them blocked (the mask is inherited); the
        // stage threads inherit this thread's mask, so unblock them here, before they start.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// The run a signal stops (at once, if one came while it was starting).
    func attach(_ execution: Execution) {
        let signalled = state.inner.withLock { s -> Bool in
            s.execution = execution
            return s.signal != nil
        }
        if signalled { execution.cancel() }
    }

    /// The signal that stopped the run, if one did.
    var received: Int32? { state.inner.withLock { $0.signal } }
}

/// The write end of the pipe the signal handler writes to; set once, before the handler
/// is installed, and only read afterwards.
nonisolated(unsafe) private var stopSignalPipe: Int32 = -1
