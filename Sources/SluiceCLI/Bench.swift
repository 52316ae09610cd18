import ArgumentParser
import Sluice
import SluiceTooling

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `sluice bench`: throughput, per-step time, latency percentiles and peak memory of a
/// pipeline, with its output counted and discarded.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a pipeline: throughput, latency, peak memory.",
        discussion: """
            Runs the pipeline on its 'generate' inputs (or on the files given with
            --input) into outputs that count and discard what they get. Build in release
            mode first (swift build -c release) or the figures mean little.

            Examples:
              sluice bench Benchmarks/pipelines/filter-generate.yaml --events 1000000
              sluice bench pipelines/quickstart.yaml --input events.jsonl --warmup 100000
              sluice bench fraud.yaml --input charges=charges.jsonl --json
            """
    )

    @Argument(help: "The pipeline file (YAML).")
    var pipeline: String

    @Option(
        help: ArgumentHelp(
            "Events for every 'generate' input, overriding its count (default: its count, else 1000000).",
            valueName: "N"))
    var events: Int?

    @Option(
        name: .customLong("input"),
        help: ArgumentHelp(
            "Read input NAME from FILE ('-' is stdin); bare FILE binds the only input.", valueName: "NAME=FILE"))
    var inputs: [String] = []

    @Option(help: ArgumentHelp("Run N events first, unmeasured, in a separate run.", valueName: "N"))
    var warmup = 0

    @Option(
        name: .customLong("set"),
        help: ArgumentHelp("Override parameter KEY (params.KEY in expressions).", valueName: "KEY=VALUE"))
    var params: [String] = []

    @Option(help: ArgumentHelp("Run every stream that has a 'key' in N partitions.", valueName: "N"))
    var parallelism: Int?

    @Flag(help: "Print one JSON object instead of the table.")
    var json = false

    @Option(help: ArgumentHelp("Checkpoint the measured run into DIR (see docs/checkpoints.md).", valueName: "DIR"))
    var checkpointDir: String?

    @Option(help: ArgumentHelp("Time between checkpoints, such as 1s (default 10s).", valueName: "DURATION"))
    var checkpointEvery: String?

    func validate() throws {
        if let events, events < 0 { throw ValidationError("--events must be 0 or more") }
        if warmup < 0 { throw ValidationError("--warmup must be 0 or more") }
        if let parallelism, !(1...256).contains(parallelism) {
            throw ValidationError("--parallelism must be between 1 and 256")
        }
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let overrides = try bindings(params, flag: "--set", allowBare: false)
        var options = BenchOptions()
        options.inputs = try bindings(inputs, flag: "--input", allowBare: true)
        options.events = events
        options.warmup = warmup
        options.parallelism = parallelism
        options.checkpointDirectory = checkpointDir
        if let checkpointEvery {
            guard let span = TimeSpan(checkpointEvery), span.nanoseconds > 0 else {
                printError("sluice: --checkpoint-every '\(checkpointEvery)' is not a positive duration such as 1s")
                throw usageExit
            }
            options.checkpointInterval = Double(span.nanoseconds) / 1e9
        }
        let compiled = try loadPipeline(pipeline, params: overrides)

        let report: BenchReport
        do {
            report = try compiled.bench(options)
        } catch {
            printError("sluice: \(error.message)")
            throw error.isUsage ? usageExit : runtimeFailureExit
        }
        if case .failed(let message) = report.outcome {
            printError("sluice: \(message)")
            throw runtimeFailureExit
        }
        if json {
            var out: [UInt8] = []
            JSONWriter.write(report.json, into: &out)
            print(String(decoding: out, as: UTF8.self))
        } else {
            for line in report.lines { print(line) }
        }
    }
}
