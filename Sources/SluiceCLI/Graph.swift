import ArgumentParser
import Sluice
import SluiceTooling

extension Pipeline.GraphFormat: ExpressibleByArgument {}

struct Graph: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw a pipeline's graph (Mermaid or Graphviz dot).",
        discussion: """
            Shows inputs, streams with their steps, side outputs (dashed, labelled),
            outputs, and the dead-letter counter that takes side outputs nothing reads.

            Examples:
              sluice graph pipelines/fanout.yaml
              sluice graph pipelines/fraud.yaml --format dot | dot -Tsvg > fraud.svg
            """
    )

    @Argument(help: "The pipeline file (YAML).")
    var pipeline: String

    @Option(help: "Output format.")
    var format: Pipeline.GraphFormat = .mermaid

    func run() throws {
        print(try loadPipeline(pipeline, params: [:]).graph(format: format), terminator: "")
    }
}
