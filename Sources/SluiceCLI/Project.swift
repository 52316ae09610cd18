import ArgumentParser
import Sluice
import SluiceTooling

/// `sluice project`: work on a pipeline's projections (docs/event-sourcing.md).
struct Project: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rebuild a pipeline's projections (read-model tables).",
        subcommands: [Rebuild.self]
    )

    /// `sluice project rebuild PIPELINE [--projection NAME]`.
    struct Rebuild: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Empty a pipeline's projection tables and fill them again by replaying its inputs.",
            discussion: """
                Drops each projection table (all of the pipeline's 'project' outputs, or
                those named with --projection) and runs the pipeline once: store inputs
                replay from their 'from:' without following, and the pipeline's other
                outputs are not written. Stop the pipeline that keeps the projection
                current before rebuilding it.

                Example:
                  sluice project rebuild pipelines/order-summary.yaml --projection order_summary
                """
        )

        @Argument(help: "The pipeline file (YAML).")
        var pipeline: String

        @Option(
            name: .customLong("projection"),
            help: ArgumentHelp("Rebuild only this projection (its table or output name).", valueName: "NAME"))
        var projections: [String] = []

        @Option(
            name: .customLong("set"),
            help: ArgumentHelp("Override parameter KEY (params.KEY in expressions).", valueName: "KEY=VALUE"))
        var params: [String] = []

        @Option(help: ArgumentHelp("Write events of side outputs that nothing reads to FILE.", valueName: "FILE"))
        var dlq: String?

        func run() throws {
            let overrides = try bindings(params, flag: "--set", allowBare: false)
            let compiled = try loadPipeline(pipeline, params: overrides)
            let run: PipelineRun
            do {
                run = try compiled.rebuildProjections(projections, deadLetterPath: dlq)
            } catch {
                printError("sluice: \(error.message)")
                switch error.kind {
                case .usage: throw usageExit
                case .fileConflict: throw pipelineErrorExit
                case .resource: throw runtimeFailureExit
                }
            }
            let outcome = run.wait()
            for line in run.deadLetterSummary { printError(line) }
            if case .failed(let message) = outcome {
                printError("sluice: \(message)")
                throw runtimeFailureExit
            }
            let names = compiled.projections.filter {
                projections.isEmpty || projections.contains($0.output) || projections.contains($0.table)
            }
            for p in names { printError("sluice: rebuilt projection '\(p.table)' in '\(p.path)'") }
        }
    }
}
