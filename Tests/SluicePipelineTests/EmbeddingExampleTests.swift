import Foundation
import Sluice
import Testing

// The worked example of docs/embedding.md. `exampleMatchesTheDocs` checks that the
// text between the markers is exactly the code block in the docs, so the published
// example always compiles and runs.

// BEGIN EXAMPLE
/// A custom step: upper-cases one string field.
final class UppercaseStep: Step {
    let field: String
    init(field: String) { self.field = field }

    func process(_ event: Event, into out: inout StepOutput) {
        guard case .object(var o) = event.value, case .string(let s)? = o[field] else {
            out.reject(event, step: "uppercase", message: "no string field '\(field)'")
            return
        }
        o[field] = .string(s.uppercased())
        var e = event
        e.setValue(.object(o))
        out.emit(e)
    }
}

func runExample() async throws -> [JSON] {
    // 1. Register the custom step so YAML can use it, with its own config checks, on a
    //    copy of the built-in registry that is passed to the compiler.
    var registry = StepRegistry.standard
    registry.register(
        StepDefinition(kind: "uppercase", summary: "Upper-case a field.", keys: ["field"]) { ctx in
            guard let config = ctx.map(), let field = config.string("field", required: true) else { return nil }
            config.finish()
            return { UppercaseStep(field: field) }
        })

    // 2. Compile a pipeline from YAML text (or `Pipeline.load(path:)` for a file).
    let yaml = """
        steps:
          - filter: amount > 100
          - uppercase: { field: country }
        """
    //    Mistakes throw `Diagnostics` (`file:line:col: error: ...` lines).
    let pipeline = try Pipeline.compile(yaml: yaml, registry: registry)

    // 3. Bind the input to a push source and the output to an async sequence.
    let input = PushInput(name: "in")
    let output = AsyncOutput(name: "out")
    var options = RunOptions()
    options.bind(input: "in", to: input)
    options.bind(output: "out", to: output)
    let run = try pipeline.start(options)

    // 4. Send events (each `send` waits while the engine is full) and read results.
    Task {
        for (amount, country) in [(50, "us"), (150, "de"), (300, "fr")] {
            await input.send(["amount": .int(Int64(amount)), "country": .string(country)])
        }
        input.finish()
    }
    var results: [JSON] = []
    for await event in output { results.append(event) }
    _ = await run.finished()
    return results
}
// END EXAMPLE

@Suite struct EmbeddingExampleTests {
    @Test func exampleRunsAndGivesTheDocumentedResult() async throws {
        let results = try await runExample()
        #expect(results == [["amount": 150, "country": "DE"], ["amount": 300, "country": "FR"]])
    }

    @Test func exampleMatchesTheDocs() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let test = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
        let docs = try String(contentsOf: root.appendingPathComponent("docs/embedding.md"), encoding: .utf8)
        guard let b = test.range(of: "// BEGIN EXAMPLE\n"), let e = test.range(of: "// END EXAMPLE") else {
            Issue.record("markers missing")
            return
        }
        let example = String(test[b.upperBound..<e.lowerBound])
        #expect(docs.contains("```swift\nimport Sluice\n\n" + example + "```"))
    }

    @Test func pushInputAppliesBackpressure() async throws {
        let pipeline = try compile("steps: [ { filter: 'true' } ]")
        let input = PushInput(name: "in", capacity: 4)
        let output = AsyncOutput(name: "out", capacity: 4)
        var options = RunOptions()
        options.sources["in"] = input
        options.sinks["out"] = output
        let run = try pipeline.start(options)
        let sender = Task {
            for i in 0..<2000 { await input.send(["i": .int(Int64(i))]) }
            input.finish()
        }
        var n = 0
        var inOrder = true
        for await e in output {
            if e["i"] != .int(Int64(n)) { inOrder = false }
            n += 1
        }
        await sender.value
        #expect(n == 2000)
        #expect(inOrder)
        #expect(await run.finished() == .completed)
    }
}
