import Foundation
import SluiceCore
import SluiceJSON
import SluicePipeline
import SluiceSteps
import Testing

/// Runs the `tests:` of the example pipelines (pipelines/fraud.yaml, absence.yaml)
/// through their pattern step, with event time from `ts` and the watermark at the
/// largest time seen minus `time.lateness`, as docs/pipeline-language.md ("Event time") says, until `sluice test` exists.
@Suite struct PatternPipelineTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    func runTests(_ file: String, stream: String, input: String, output: String, lateness: Int64) throws {
        let path = Self.root + "/pipelines/" + file
        let pipeline: Pipeline
        switch Result(catching: { () throws(Diagnostics) in try Pipeline.load(path: path) }) {
        case .success(let p): pipeline = p
        case .failure(let d): throw d
        }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let (node, _) = YAMLLoader.load(text: text, file: path)
        var diags = Diagnostics()
        guard let tests = node?["tests"]?.toJSON(diagnostics: &diags)?.arrayValue, !tests.isEmpty else {
            Issue.record("no tests in \(file)")
            return
        }
        for test in tests {
            let steps = pipeline.makeSteps(stream: stream)
            guard steps.count == 1, let step = steps.first else {
                Issue.record("expected one step")
                return
            }
            let h = StepHarness(step)
            var maxTime = Int64.min
            for e in test["input"]?[input]?.arrayValue ?? [] {
                guard case .int(let ts)? = e["ts"] else { continue }
                h.send(e, time: ts)
                maxTime = max(maxTime, ts)
                if maxTime - lateness > h.watermark { h.advance(to: maxTime - lateness) }
            }
            h.advance(to: Int64.max)
            let expected = test["expect"]?[output]?.arrayValue ?? []
            #expect(h.take() == expected, "\(file): \(test["name"]?.stringValue ?? "")")
            #expect(step.stateSize == 0)
        }
    }

    @Test func fraudPipelineTests() throws {
        try runTests("fraud.yaml", stream: "alerts", input: "charges", output: "out", lateness: 5000)
    }

    @Test func absencePipelineTests() throws {
        try runTests("absence.yaml", stream: "unshipped", input: "orders", output: "out", lateness: 60000)
    }
}
