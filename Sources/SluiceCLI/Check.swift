import ArgumentParser
import Sluice

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile pipelines without running them.",
        discussion: """
            Prints 'ok: FILE' for each pipeline that compiles, and every error of those
            that do not, as FILE:LINE:COL: error: MESSAGE. Exits 2 if any has an error.

            Examples:
              sluice check pipelines/*.yaml
            """
    )

    @Argument(help: "Pipeline files to check.")
    var pipelines: [String]

    func validate() throws {
        if pipelines.isEmpty { throw ValidationError("give at least one pipeline file") }
    }

    func run() throws {
        var failed = false
        for path in pipelines {
            switch Pipeline.load(path: path) {
            case .success(let p):
                printDiagnostics(p.warnings)
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
