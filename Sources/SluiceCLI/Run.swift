import ArgumentParser
import Dispatch
import Sluice
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension JSONInputFormat: ExpressibleByArgument {}

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
            """
    )

    @Argument(help: "The pipeline file (YAML).")
    var pipeline: String

    @Option(name: .customLong("input"), help: ArgumentHelp("Read input NAME from FILE ('-' is stdin); bare FILE binds the only input.", valueName: "NAME=FILE"))
    var inputs: [String] = []

    @Option(name: .customLong("output"), help: ArgumentHelp("Write output NAME to FILE ('-' is stdout); bare FILE binds the only output.", valueName: "NAME=FILE"))
    var outputs: [String] = []

    @Option(name: .customLong("set"), help: ArgumentHelp("Override parameter KEY (params.KEY in expressions); VALUE is read as JSON when it parses, else as a string.", valueName: "KEY=VALUE"))
    var params: [String] = []

    @Option(help: "Input format: jsonl (one value per line) or json (concatenated values, as jq reads).")
    var format: JSONInputFormat?

    @Option(help: ArgumentHelp("Write events of side outputs that nothing reads to FILE.", valueName: "FILE"))
    var dlq: String?

    @Flag(help: "Print progress to stderr about once a second and a per-step summary at the end.")
    var stats = false

    @Option(help: ArgumentHelp("Run every stream that has a 'key' in N partitions, each on its own thread (per-key order is kept).", valueName: "N"))
    var parallelism: Int?

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
        options.deadLetterPath = dlq
        options.timing = stats
        options.parallelism = parallelism
        let compiled = try loadPipeline(pipeline, params: overrides)

        let run: PipelineRun
        do {
            run = try compiled.start(options)
        } catch {
            printError("sluice: \(error.message)")
            switch error.kind {
            case .usage: throw usageExit
            case .fileConflict: throw pipelineErrorExit
            case .resource: throw runtimeFailureExit
            }
        }
        let stop = StopSignals(run.execution)
        let progress = stats ? ProgressPrinter(run.execution) : nil
        let outcome = run.wait()
        progress?.stop()
        if stats { StatsTable.print(run.execution.totals) }
        for line in run.deadLetterSummary { printError(line) }
        if let signal = stop.received {
            let totals = run.execution.totals
            let read = totals.sourceEvents.values.reduce(0, +)
            let written = totals.sinkEvents.values.reduce(0, +)
            printError(
                "sluice: stopped by \(signal == SIGINT ? "SIGINT" : "SIGTERM") after reading \(read) event\(read == 1 ? "" : "s"); "
                    + "what was read was processed and written (\(written) out); open windows were not fired")
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

/// SIGINT and SIGTERM during a run: the first stops it gracefully (``Execution/cancel()``:
/// no more input is read, what was read is written, outputs are flushed, the summary is
/// printed, exit 128 + the signal); a second exits at once.
final class StopSignals {
    private let sources: [any DispatchSourceSignal]
    /// The first signal taken, shared with the handlers.
    private final class First: Sendable {
        let signal = Mutex<Int32?>(nil)
    }
    private let first = First()

    init(_ execution: Execution) {
        var sources: [any DispatchSourceSignal] = []
        let first = self.first
        for sig in [SIGINT, SIGTERM] {
            // Ignored by the default handler, delivered to the dispatch source instead.
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                let again = first.signal.withLock { f -> Bool in
                    if f != nil { return true }
                    f = sig
                    return false
                }
                if again { _exit(128 + sig) }
                execution.cancel()
            }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }

    /// The signal that stopped the run, if one did.
    var received: Int32? { first.signal.withLock { $0 } }

    deinit { for s in sources { s.cancel() } }
}
