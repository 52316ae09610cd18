import Testing

/// Golden help texts (80 columns): a change to the CLI surface shows up here as a diff
/// and is made on purpose. Regenerate with `COLUMNS=80 sluice CMD --help`.
@Suite struct HelpGoldenTests {
    static let rootHelp = #"""
        OVERVIEW: Sluice: a complex-event-processing stream engine for JSON events.

        Pipelines are YAML files. Exit codes: 0 success, 1 runtime failure,
        2 pipeline error, 64 usage error.

        USAGE: sluice <subcommand>

        OPTIONS:
          --version               Show the version.
          -h, --help              Show help information.

        SUBCOMMANDS:
          run                     Run a pipeline over JSON events.
          check                   Compile pipelines without running them.
          graph                   Draw a pipeline's graph (Mermaid or Graphviz dot).
          test                    Run the tests written in pipelines.
          bench                   Measure a pipeline: throughput, latency, peak memory.
          project                 Rebuild a pipeline's projections (read-model tables).
          top                     Show a live table of a running pipeline (events/s per
                                  step, side outputs, lag, backpressure).
          tap                     Print live events flowing through a stream or side
                                  output of a running pipeline, as JSON lines.
          version                 Print the version.

          See 'sluice help <subcommand>' for detailed help.
        """#

    static let runHelp = #"""
        OVERVIEW: Run a pipeline over JSON events.

        Reads standard input and writes standard output unless the pipeline or the
        flags say otherwise. Lines that are not JSON go to the input's 'malformed'
        side output; side outputs that nothing reads are counted, summarised on
        stderr, and written to --dlq FILE when given.

        Examples:
          sluice run pipelines/quickstart.yaml < pipelines/data/orders.jsonl
          sluice run fraud.yaml --input events=day1.jsonl --output alerts=alerts.jsonl
          sluice run filter.yaml --set threshold=500 --dlq rejected.jsonl < in.jsonl
          sluice run fraud.yaml --metrics 9464 --log-format json < events.jsonl

        USAGE: sluice run [<options>] <pipeline>

        ARGUMENTS:
          <pipeline>              The pipeline file (YAML).

        OPTIONS:
          --input <NAME=FILE>     Read input NAME from FILE ('-' is stdin); bare FILE
                                  binds the only input.
          --output <NAME=FILE>    Write output NAME to FILE ('-' is stdout); bare FILE
                                  binds the only output.
          --set <KEY=VALUE>       Override parameter KEY (params.KEY in expressions);
                                  VALUE is read as JSON when it parses, else as a
                                  string.
          --format <format>       Input format: jsonl (one value per line) or json
                                  (concatenated values, as jq reads). (values: jsonl,
                                  json)
          --duplicate-keys <policy>
                                  What to do with an object that repeats a key: reject
                                  (it is malformed; the default), first or last (keep
                                  that value), for every input. (values: reject, first,
                                  last)
          --dlq <FILE>            Write events of side outputs that nothing reads to
                                  FILE.
          --stats                 Print progress to stderr about once a second and a
                                  per-step summary at the end.
          --parallelism <N>       Run every stream that has a 'key' in N partitions,
                                  each on its own thread (per-key order is kept).
          --metrics <ADDR>        Serve /metrics (Prometheus), /healthz, /ready and
                                  /tap on ADDR while the run lasts: PORT (loopback),
                                  HOST:PORT or [IPV6]:PORT; port 0 picks a free one.
          --log-format <log-format>
                                  Structured log lines on stderr: text or json (start,
                                  stop, warnings, failures). (values: text, json)
          --log-level <level>     Least level of the structured logs: trace, debug,
                                  info (the default once logs are on), notice, warning,
                                  error, critical. (values: trace, debug, info, notice,
                                  warning, error, critical)
          --checkpoint-dir <DIR>  Take checkpoints in DIR and, when it holds one,
                                  resume from the newest (see docs/checkpoints.md).
          --checkpoint-every <DURATION>
                                  Time between checkpoints, such as 10s (the default)
                                  or 500ms.
          --allow-non-restored-state
                                  Drop the checkpointed state of steps the pipeline no
                                  longer has instead of refusing to start.
          --version               Show the version.
          -h, --help              Show help information.
        """#

    static let checkHelp = #"""
        OVERVIEW: Compile pipelines without running them.

        Prints 'ok: FILE' for each pipeline that compiles, and every error of those
        that do not, as FILE:LINE:COL: error: MESSAGE. Exits 2 if any has an error.
        A folder means every pipeline in it and below it (NAME.test.yaml files and
        hidden folders are skipped).

        With --sample, each pipeline that compiles also runs over the sample events
        (writing nothing), and every step that fails on all of them is an error:
        a typo in a field name, a string written without quotes.

        Examples:
          sluice check pipelines/quickstart.yaml
          sluice check pipelines
          sluice check pipelines/quickstart.yaml --sample pipelines/data/orders.jsonl

        USAGE: sluice check [--sample <NAME=FILE> ...] <pipeline-or-folder> ...

        ARGUMENTS:
          <pipeline-or-folder>    Pipeline files or folders to check.

        OPTIONS:
          --sample <NAME=FILE>    Run each pipeline over the events of FILE too; bare
                                  FILE binds the only input.
          --version               Show the version.
          -h, --help              Show help information.
        """#

    static let testHelp = #"""
        OVERVIEW: Run the tests written in pipelines.

        Runs the 'tests:' of each pipeline, and those in a NAME.test.yaml beside
        NAME.yaml. A folder means every pipeline in it and below it that has tests.
        Prints PASS or FAIL per test, a diff for each failure ('-' expected but not
        produced, '+' produced but not expected), and ends with 'N passed, M
        failed'. Exits 1 if any test failed or no test was found. A pipeline that
        does not compile counts as one failed test.

        A test:
          tests:
            - name: big orders pass
              params: { threshold: 100 }
              input:  { in: [ {id: 1, amount: 300}, {watermark: 5000} ] }
              expect: { out: [ {id: 1, amount: 300} ] }
              unordered: false     # true compares as multisets
              match: exact         # subset: extra fields in actual events are fine

        Examples:
          sluice test pipelines/quickstart.yaml
          sluice test pipelines

        USAGE: sluice test [<pipeline-or-folder> ...]

        ARGUMENTS:
          <pipeline-or-folder>    Pipeline files, test files or folders (default: the
                                  current folder).

        OPTIONS:
          --version               Show the version.
          -h, --help              Show help information.
        """#

    static let benchHelp = #"""
        OVERVIEW: Measure a pipeline: throughput, latency, peak memory.

        Runs the pipeline on its 'generate' inputs (or on the files given with
        --input) into outputs that count and discard what they get. Build in release
        mode first (swift build -c release) or the figures mean little.

        Examples:
          sluice bench Benchmarks/pipelines/filter-generate.yaml --events 1000000
          sluice bench pipelines/quickstart.yaml --input events.jsonl --warmup 100000
          sluice bench fraud.yaml --input charges=charges.jsonl --json

        USAGE: sluice bench <pipeline> [--events <N>] [--input <NAME=FILE> ...] [--warmup <N>] [--set <KEY=VALUE> ...] [--parallelism <N>] [--json] [--checkpoint-dir <DIR>] [--checkpoint-every <DURATION>]

        ARGUMENTS:
          <pipeline>              The pipeline file (YAML).

        OPTIONS:
          --events <N>            Events for every 'generate' input, overriding its
                                  count (default: its count, else 1000000).
          --input <NAME=FILE>     Read input NAME from FILE ('-' is stdin); bare FILE
                                  binds the only input.
          --warmup <N>            Run N events first, unmeasured, in a separate run.
                                  (default: 0)
          --set <KEY=VALUE>       Override parameter KEY (params.KEY in expressions).
          --parallelism <N>       Run every stream that has a 'key' in N partitions.
          --json                  Print one JSON object instead of the table.
          --checkpoint-dir <DIR>  Checkpoint the measured run into DIR (see
                                  docs/checkpoints.md).
          --checkpoint-every <DURATION>
                                  Time between checkpoints, such as 1s (default 10s).
          --version               Show the version.
          -h, --help              Show help information.
        """#

    static let versionHelp = #"""
        OVERVIEW: Print the version.

        USAGE: sluice version

        OPTIONS:
          --version               Show the version.
          -h, --help              Show help information.
        """#

    static let topHelp = #"""
        OVERVIEW: Show a live table of a running pipeline (events/s per step, side
        outputs, lag, backpressure).

        URL is the endpoint of a run started with --metrics (as it printed:
        http://127.0.0.1:9464). The table refreshes every second; on a terminal it
        redraws in place, otherwise each table is printed after the last.

        Examples:
          sluice top http://127.0.0.1:9464
          sluice top :9464 --once

        USAGE: sluice top <url> [--once] [--interval <seconds>]

        ARGUMENTS:
          <url>                   The endpoint: http://HOST:PORT, HOST:PORT or :PORT.

        OPTIONS:
          --once                  Print one table (rates over one interval) and exit.
          --interval <seconds>    Seconds between refreshes. (default: 1.0)
          --version               Show the version.
          -h, --help              Show help information.
        """#

    static let tapHelp = #"""
        OVERVIEW: Print live events flowing through a stream or side output of a
        running pipeline, as JSON lines.

        URL is the endpoint of a run started with --metrics. Events are samples: when
        this reader falls behind, the pipeline drops samples for it rather than slow
        down (sluice_tap_dropped_events_total counts them). Ends at --limit, at the
        end of the run, or on Ctrl-C.

        Examples:
          sluice tap http://127.0.0.1:9464 --stream enriched --limit 10
          sluice tap :9464 --stream orders --side rejected
          sluice tap :9464 --stream in --side malformed

        USAGE: sluice tap <url> --stream <name> [--side <name>] [--limit <N>]

        ARGUMENTS:
          <url>                   The endpoint: http://HOST:PORT, HOST:PORT or :PORT.

        OPTIONS:
          --stream <name>         The stream (or input) to tap.
          --side <name>           Tap this side output of the stream instead (rejected,
                                  late, a route branch...).
          --limit <N>             Stop after N events.
          --version               Show the version.
          -h, --help              Show help information.
        """#

    @Test(arguments: [
        (["--help"], HelpGoldenTests.rootHelp),
        (["run", "--help"], HelpGoldenTests.runHelp),
        (["check", "--help"], HelpGoldenTests.checkHelp),
        (["test", "--help"], HelpGoldenTests.testHelp),
        (["bench", "--help"], HelpGoldenTests.benchHelp),
        (["version", "--help"], HelpGoldenTests.versionHelp),
        (["top", "--help"], HelpGoldenTests.topHelp),
        (["tap", "--help"], HelpGoldenTests.tapHelp),
    ])
    func helpMatchesTheGolden(args: [String], golden: String) throws {
        let r = try CLI.run(args)
        #expect(r.status == 0)
        // ArgumentParser ends subcommand help with a blank line; the text is what matters.
        var text = Substring(r.stdout)
        while text.last == "\n" { text = text.dropLast() }
        #expect(String(text) == golden)
    }

    @Test func everySubcommandHasExamples() throws {
        for command in ["run", "check", "test", "bench", "top", "tap"] {
            #expect(
                try CLI.run([command, "--help"]).stdout.contains("Examples:"),
                "'sluice \(command) --help' has no examples")
        }
    }
}
