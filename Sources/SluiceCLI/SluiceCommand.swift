import ArgumentParser
import CSluiceShims
import Sluice
import SluiceTooling

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `sluice`: the command-line client of the Sluice library.
@main
struct SluiceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "Sluice: a complex-event-processing stream engine for JSON events.",
        discussion: """
            Pipelines are YAML files. Exit codes: 0 success, 1 runtime failure,
            2 pipeline error, 64 usage error.
            """,
        version: "sluice \(sluiceVersion)",
        subcommands: [
            Run.self, Check.self, Graph.self, TestCommand.self, Bench.self, Project.self, Top.self, Tap.self,
            Version.self,
        ]
    )

    /// Parses and runs, after turning an unknown command word (`sluice rn`) into an
    /// error with a suggestion; ArgumentParser would only say "unexpected argument".
    static func main() {
        // Buffers of events are allocated on one thread and freed on another, a batch
        // later; glibc gave the freed ones back to the system at once (its trim
        // threshold starts at 128 KiB), so every new buffer faulted its pages in again:
        // about 10% of a run's CPU. Keep up to 64 MiB of freed memory instead, and take
        // blocks under 8 MiB from the heap (docs/performance.md, issue 22).
        sluice_malloc_keep_freed(64 << 20, 8 << 20)
        let args = Array(CommandLine.arguments.dropFirst())
        if let first = args.first, !first.hasPrefix("-") {
            let names =
                configuration.subcommands.compactMap { $0.configuration.commandName ?? defaultName($0) } + ["help"]
            if !names.contains(first) {
                printError("sluice: unknown command '\(first)'\(didYouMean(first, among: names))")
                printError("commands: \(names.joined(separator: ", ")); see 'sluice --help'")
                Self.exit(withError: usageExit)
            }
        }
        main(nil)
    }

    /// The command name ArgumentParser derives from a type name (`Run` is `run`).
    static func defaultName(_ command: ParsableCommand.Type) -> String {
        String(describing: command).lowercased()
    }
}

/// Writes a line to standard error.
func printError(_ text: String) {
    var line = text
    line += "\n"
    line.withUTF8 { buf in
        var done = 0
        while done < buf.count {
            let n = write(2, buf.baseAddress! + done, buf.count - done)
            if n <= 0 { return }
            done += n
        }
    }
}

/// Prints diagnostics compiler-style, one per line.
func printDiagnostics(_ diagnostics: Diagnostics) {
    for d in diagnostics.items { printError(d.description) }
}

/// The pipeline-error exit code.
let pipelineErrorExit = ExitCode(2)
/// The runtime-failure exit code.
let runtimeFailureExit = ExitCode(1)
/// The usage-error exit code (EX_USAGE), as ArgumentParser uses for its own errors.
let usageExit = ExitCode(64)

/// `NAME=VALUE` flags (`--set`, `--input`, `--output`) as a dictionary; a bare value
/// gets the empty name when `allowBare`.
func bindings(_ values: [String], flag: String, allowBare: Bool) throws -> [String: String] {
    var out: [String: String] = [:]
    for v in values {
        let (k, value) = try splitBinding(v, flag: flag, allowBare: allowBare)
        out[k] = value
    }
    return out
}

/// Compiles the pipeline at `path`, printing warnings, or prints the diagnostics and
/// exits 2.
func loadPipeline(_ path: String, params: [String: String]) throws -> Pipeline {
    switch Result(catching: { () throws(Diagnostics) in try Pipeline.load(path: path, params: params) }) {
    case .success(let p):
        printDiagnostics(p.warnings)
        return p
    case .failure(let diagnostics):
        printDiagnostics(diagnostics)
        throw pipelineErrorExit
    }
}

/// Splits `NAME=VALUE`; a value without `=` has the empty name when `allowBare`.
func splitBinding(_ text: String, flag: String, allowBare: Bool) throws -> (String, String) {
    if let eq = text.firstIndex(of: "=") {
        let name = String(text[..<eq])
        let value = String(text[text.index(after: eq)...])
        if name.isEmpty { throw ValidationError("\(flag) '\(text)': the name before '=' is empty") }
        return (name, value)
    }
    if allowBare { return ("", text) }
    throw ValidationError("\(flag) '\(text)': expected KEY=VALUE")
}
