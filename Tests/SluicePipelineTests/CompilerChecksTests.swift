import Foundation
import Sluice
import Testing

/// Mistakes the compiler catches before anything runs (issue 14).
@Suite struct CompilerChecksTests {
    func errors(_ yaml: String, params: [String: String] = [:]) -> [Diagnostic] {
        switch Result(catching: { () throws(Diagnostics) in
            try Pipeline.compile(yaml: yaml, file: "p.yaml", params: params)
        }) {
        case .success: return []
        case .failure(let d): return d.items.filter { $0.severity == .error }
        }
    }

    @Test func aCommaInAnUnquotedFlowValueGetsTheQuotingHint() {
        let found = errors(
            """
            steps:
              - enrich: { set: { total: items.map(i, i.price).sum() } }
            """)
        let first = found.first
        #expect(first?.message.contains("in expression") == true)
        #expect(first?.hint?.contains("a comma ends an unquoted value: quote the expression") == true)
    }

    @Test func aQuotedExpressionWithAnErrorGetsNoQuotingHint() {
        let found = errors(
            """
            steps:
              - filter: "f(a, "
            """)
        #expect(found.count == 1)
        #expect(found.first?.hint == nil)
    }

    @Test func aTypoInAParameterIsAnErrorWithASuggestion() {
        let found = errors(
            """
            params: { threshold: 100 }
            steps:
              - filter: amount > params.treshold
            """)
        #expect(found.count == 1)
        #expect(found.first?.message == "in expression: unknown parameter 'treshold'; did you mean 'threshold'?")
        // Points at `params` inside the expression: line 3, column 22.
        #expect(found.first?.location?.line == 3)
        #expect(found.first?.location?.column == 22)
        #expect(found.first?.hint?.contains("'threshold'") == true)
    }

    @Test func declaredParametersAndTestsOfParametersCompile() {
        #expect(
            errors(
                """
                params: { threshold: 100, limits: { eu: 5 } }
                steps:
                  - filter: amount > params.threshold && amount < params.limits.eu
                  - filter: has(params.other) || params["x"] == 1 || "params.nope" != ""
                """
            ).isEmpty)
    }

    @Test func aTypoInAParameterOfAGeneratedFieldIsAnError() {
        let found = errors(
            """
            params: { users: 10 }
            inputs:
              in: { generate: { count: 1, fields: { user: "random_int(1, params.usres)" } } }
            outputs:
              out: { from: [in], stdout: {} }
            """)
        #expect(found.first?.message == "in expression: unknown parameter 'usres'; did you mean 'users'?")
    }

    @Test func aParameterInAPipelineWithoutParamsIsAnError() {
        let found = errors("steps:\n  - filter: amount > params.limit\n")
        #expect(found.first?.message.contains("unknown parameter 'limit'") == true)
        #expect(found.first?.hint?.contains("declares no parameters") == true)
    }

    @Test func settingAnUndeclaredParameterIsAnError() {
        let yaml = "params: { threshold: 1 }\nsteps:\n  - filter: amount > params.threshold\n"
        #expect(errors(yaml, params: ["threshold": "5"]).isEmpty)
        let found = errors(yaml, params: ["treshold": "5"])
        #expect(found.count == 1)
        #expect(
            found.first?.message
                == "cannot set parameter 'treshold': the pipeline declares no such parameter; did you mean 'threshold'?"
        )
        #expect(found.first?.location?.line == 1)
    }

    @Test func aPipelineFileLargerThanTheLimitIsRefusedBeforeParsing() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-big-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("big.yaml").path
        var text = "steps: []\ntests:\n"
        let line = "  - { name: t, input: { in: [ {a: 1} ] }, expect: { out: [ {a: 1} ] } }\n"
        while text.utf8.count <= 4 << 20 { text += line }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        guard case .failure(let d) = Result(catching: { () throws(Diagnostics) in try Pipeline.load(path: path) })
        else {
            Issue.record("a file over 4 MiB loaded")
            return
        }
        #expect(d.items.count == 1)
        #expect(d.items.first?.message.contains("larger than the 4194304-byte limit for a pipeline file") == true)
    }
}
