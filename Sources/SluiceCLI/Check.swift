import ArgumentParser
import Sluice
import SluiceTooling

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile pipelines without running them.",
        discussion: """
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
            """
    )

    @Option(
        name: .customLong("sample"),
        help: ArgumentHelp(
            "Run each pipeline over the events of FILE too; bare FILE binds the only input.", valueName: "NAME=FILE"))
    var samples: [String] = []

    @Argument(help: ArgumentHelp("Pipeline files or folders to check.", valueName: "pipeline-or-folder"))
    var pipelines: [String]

    func validate() throws {
        if pipelines.isEmpty { throw ValidationError("give at least one pipeline file or folder") }
    }

    func run() throws {
        var failed = false
        let files = Pipeline.pipelineFiles(pipelines)
        if files.isEmpty {
            printError("sluice: no pipeline files in \(pipelines.joined(separator: ", "))")
            throw pipelineErrorExit
        }
        for path in files {
            switch Result(catching: { () throws(Diagnostics) in try Pipeline.load(path: path) }) {
            case .success(let p):
                printDiagnostics(p.warnings)
                if !samples.isEmpty {
                    let problems: Diagnostics
                    do {
                        problems = try p.checkSample(inputs: bindings(samples, flag: "--sample", allowBare: true))
                    } catch let error as RunError {
                        // The binding is --input's; name the flag the user wrote.
                        let message = error.message.replacing("--input", with: "--sample")
                        printError("sluice: \(path): \(message)")
                        throw error.isUsage ? usageExit : runtimeFailureExit
                    }
                    if problems.hasErrors {
                        printDiagnostics(problems)
                        failed = true
                        continue
                    }
                }
                print("ok: \(path)")
            case .failure(let diagnostics):
                printDiagnostics(diagnostics)
                failed = true
            }
        }
        if failed { throw pipelineErrorExit }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")

    func run() {
        print("sluice \(sluiceVersion)")
    }
}
