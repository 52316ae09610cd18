import Sluice
import Testing

/// A source or sink bound under a name the pipeline lacks, or an input or output left
/// unbound once an embedder binds others, is an error naming it: never a silent fall
/// back to the process's stdin or stdout.
@Suite struct EmbedderBindingTests {
    static let yaml = """
        inputs: { in: { stdin: {} }, extra: { stdin: {} } }
        streams: { main: { from: [in, extra] } }
        outputs: { out: { from: [main], stdout: {} }, copy: { from: [main], stdout: {} } }
        """

    func pipeline() throws -> Pipeline {
        try Pipeline.compile(yaml: Self.yaml)
    }

    func startError(_ options: RunOptions) throws -> RunError? {
        let pipeline = try pipeline()
        do throws(RunError) {
            let run = try pipeline.start(options)
            run.execution.cancel()
            _ = run.wait()
            return nil
        } catch {
            return error
        }
    }

    func bound() -> RunOptions {
        var options = RunOptions()
        options.sources = ["in": MemorySource(name: "in", items: []), "extra": MemorySource(name: "extra", items: [])]
        options.sinks = ["out": CollectingSink(name: "out"), "copy": CollectingSink(name: "copy")]
        return options
    }

    @Test func aMisspelledSourceIsNamed() throws {
        var options = bound()
        options.sources["inn"] = options.sources.removeValue(forKey: "in")
        let error = try #require(try startError(options))
        #expect(error.kind == .usage)
        #expect(error.message.contains("RunOptions.sources binds 'inn', which is no input of the pipeline"), "\(error)")
        #expect(error.message.contains("did you mean 'in'"), "\(error)")
    }

    @Test func aMisspelledSinkIsNamed() throws {
        var options = bound()
        options.sinks["outt"] = options.sinks.removeValue(forKey: "out")
        let error = try #require(try startError(options))
        #expect(error.message.contains("RunOptions.sinks binds 'outt', which is no output"), "\(error)")
    }

    @Test func anUnboundInputIsNamed() throws {
        var options = bound()
        options.sources["extra"] = nil
        let error = try #require(try startError(options))
        #expect(error.message.contains("input 'extra' is not bound"), "\(error)")
        // Asked for explicitly, standard input is fine.
        options.inputs["extra"] = "/dev/null"
        #expect(try startError(options) == nil)
    }

    @Test func anUnboundOutputIsNamed() throws {
        var options = bound()
        options.sinks["copy"] = nil
        let error = try #require(try startError(options))
        #expect(error.message.contains("output 'copy' is not bound"), "\(error)")
        options.outputs["copy"] = "/dev/null"
        #expect(try startError(options) == nil)
    }

    @Test func everythingBoundRuns() throws {
        #expect(try startError(bound()) == nil)
    }
}
