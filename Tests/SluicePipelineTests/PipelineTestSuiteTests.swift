import Foundation
import SluiceJSON
import SluicePipeline
import SluiceTooling
import Testing

/// A fresh temporary folder with the given files (relative path → text).
func scratchFolder(_ files: [String: String]) throws -> String {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("sluice-pipeline-tests-\(UUID().uuidString)").path
    for (path, text) in files {
        let full = dir + "/" + path
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: true, encoding: .utf8)
    }
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

let filterPipeline = """
    params: { min: 10 }
    steps:
      - filter: amount > params.min
    """

@Suite struct PipelineTestSuiteTests {
    @Test func inlineAndSiblingTestsRunAndPass() throws {
        let dir = try scratchFolder([
            "p.yaml": filterPipeline + """

                tests:
                  - name: keeps big ones
                    input: { in: [ {amount: 5}, {amount: 50} ] }
                    expect: { out: [ {amount: 50} ] }
                """,
            "p.test.yaml": """
            tests:
              - name: params override
                params: { min: 100 }
                input: { in: [ {amount: 50}, {amount: 150} ] }
                expect: { out: [ {amount: 150} ] }
            """,
        ])
        let suite = PipelineTestSuite.load(path: dir + "/p.yaml")
        #expect(suite.tests.map(\.name) == ["keeps big ones", "params override"])
        #expect(suite.testFiles == [dir + "/p.yaml", dir + "/p.test.yaml"])
        let results = suite.run()
        #expect(results.map(\.passed) == [true, true])
        #expect(results[0].report == ["PASS \(dir)/p.yaml: keeps big ones"])
    }

    @Test func aFailureShowsAUnifiedDiffOfTheOutput() throws {
        let dir = try scratchFolder([
            "p.yaml": filterPipeline + """

                tests:
                  - name: wrong
                    input: { in: [ {amount: 11}, {amount: 12}, {amount: 13} ] }
                    expect: { out: [ {amount: 11}, {amount: 14}, {amount: 13} ] }
                """
        ])
        let results = PipelineTestSuite.load(path: dir + "/p.yaml").run()
        #expect(results.count == 1)
        #expect(results[0].passed == false)
        #expect(
            results[0].report == [
                "FAIL \(dir)/p.yaml: wrong",
                "  \(dir)/p.yaml:7:15: 'out': expected 3 events, got 3",
                "    --- expected",
                "    +++ actual",
                "      {\"amount\":11}",
                "    - {\"amount\":14}",
                "    + {\"amount\":12}",
                "      {\"amount\":13}",
            ])
    }

    @Test func unknownNamesAreLocatedWithSuggestions() throws {
        let dir = try scratchFolder([
            "p.yaml": filterPipeline + """

                tests:
                  - name: typo
                    input: { inn: [ {amount: 11} ] }
                    expect: { outt: [], main.rejectd: [] }
                """
        ])
        let results = PipelineTestSuite.load(path: dir + "/p.yaml").run()
        let messages = results.first?.diagnostics.items.filter { $0.severity == .error }.map(\.description) ?? []
        #expect(
            messages == [
                "\(dir)/p.yaml:6:14: error: unknown input 'inn' in test 'typo'; did you mean 'in'?\n\(dir)/p.yaml:6:14: note: the pipeline's inputs: 'in'",
                "\(dir)/p.yaml:7:15: error: unknown output 'outt' in test 'typo'; did you mean 'out'?\n\(dir)/p.yaml:7:15: note: a test can expect outputs, streams and side outputs: 'out', 'main', 'main.rejected' and 'in.malformed'",
                "\(dir)/p.yaml:7:25: error: unknown output 'main.rejectd' in test 'typo'; did you mean 'main.rejected'?\n\(dir)/p.yaml:7:25: note: a test can expect outputs, streams and side outputs: 'out', 'main', 'main.rejected' and 'in.malformed'",
            ])
    }

    @Test func sideOutputsAndStreamsCanBeExpected() throws {
        let dir = try scratchFolder([
            "p.yaml": filterPipeline + """

                tests:
                  - name: rejected
                    input: { in: [ {amount: 50}, {x: 1} ] }
                    expect:
                      main: [ {amount: 50} ]
                      main.rejected: [ {event: {x: 1}} ]
                      in.malformed: []
                    match: subset
                """
        ])
        let results = PipelineTestSuite.load(path: dir + "/p.yaml").run()
        #expect(results.map(\.passed) == [true], "\(results.flatMap(\.report))")
    }

    @Test func watermarksAndWrappedEvents() throws {
        let dir = try scratchFolder([
            "p.yaml": """
            steps:
              - enrich: { set: { seen: true } }
            tests:
              - name: watermark items are not events
                input: { in: [ {watermark: 5000}, {event: {watermark: 3}}, {event: 7}, 8 ] }
                expect: { out: [ {watermark: 3, seen: true} ], main.rejected: [ {event: 7}, {event: 8} ] }
                match: subset
            """
        ])
        let suite = PipelineTestSuite.load(path: dir + "/p.yaml")
        #expect(
            suite.tests.first?.inputItems["in"] == [.watermark(5000), .event(["watermark": 3]), .event(7), .event(8)])
        #expect(suite.run().map(\.passed) == [true])
    }

    @Test func aPipelineThatDoesNotCompileIsOneFailure() throws {
        let dir = try scratchFolder([
            "p.yaml": """
            steps:
              - fliter: amount > 1
            tests:
              - { name: a, input: {}, expect: {} }
              - { name: b, input: {}, expect: {} }
            """
        ])
        let results = PipelineTestSuite.load(path: dir + "/p.yaml").run()
        #expect(results.count == 1)
        #expect(results[0].name == "pipeline does not compile")
        #expect(results[0].report.contains("  \(dir)/p.yaml:2:5: error: unknown step 'fliter'; did you mean 'filter'?"))
    }

    @Test func badTestsFailOnTheirOwn() throws {
        let dir = try scratchFolder([
            "p.yaml": filterPipeline + """

                tests:
                  - { name: ok, input: { in: [] }, expect: { out: [] } }
                  - { name: typo, expct: {} }
                  - { name: tables, input: {}, expect: {}, tables: { users: [] } }
                  - { name: ok, input: {}, expect: {} }
                """
        ])
        let results = PipelineTestSuite.load(path: dir + "/p.yaml").run()
        #expect(results.map(\.passed) == [true, false, false, false])
        #expect(
            results[1].diagnostics.items.map(\.message).contains(
                "unknown key 'expct' in 'test 2'; did you mean 'expect'?"))
        #expect(
            results[2].diagnostics.items.map(\.message).contains(
                "expected a string for table 'users' in test 'tables', found a sequence"))
        #expect(results[3].diagnostics.items.map(\.message) == ["duplicate test name 'ok'"])
    }

    @Test func discoveryWalksFoldersAndReportsOrphanTestFiles() throws {
        let dir = try scratchFolder([
            "a.yaml": filterPipeline + "\ntests: [ { name: t, input: {}, expect: {} } ]\n",
            "sub/b.yaml": filterPipeline,
            "sub/b.test.yaml": "tests: [ { name: t, input: {}, expect: {} } ]\n",
            "sub/untested.yaml": filterPipeline,
            "sub/orphan.test.yaml": "tests: []\n",
            ".hidden/c.yaml": filterPipeline + "\ntests: [ { name: t, input: {}, expect: {} } ]\n",
        ])
        let suites = PipelineTestSuite.discover([dir, dir + "/a.yaml"])
        #expect(suites.map(\.pipelinePath) == [dir + "/a.yaml", dir + "/sub/b.yaml", dir + "/sub/orphan.test.yaml"])
        #expect(
            suites[2].diagnostics.items.first?.message
                == "test file '\(dir)/sub/orphan.test.yaml' has no pipeline '\(dir)/sub/orphan.yaml' beside it")
        #expect(PipelineTestSuite.discover([dir + "/sub/untested.yaml"]).map(\.isEmpty) == [true])
        #expect(PipelineTestSuite.discover([dir + "/missing.yaml"]).first?.diagnostics.hasErrors == true)
    }
}

@Suite struct PipelineTestComparisonTests {
    @Test func exactIgnoresKeyOrderButNotNumberKinds() {
        #expect(PipelineTestComparison.matches(["a": 1, "b": 2], ["b": 2, "a": 1], match: .exact))
        #expect(!PipelineTestComparison.matches(["a": 1], ["a": 1.0], match: .exact))
        #expect(!PipelineTestComparison.matches(["a": 1], ["a": 1, "b": 2], match: .exact))
        #expect(!PipelineTestComparison.matches([1, 2], [2, 1], match: .exact))
    }

    @Test func subsetAllowsExtraFieldsAtEveryDepth() {
        #expect(PipelineTestComparison.matches(["a": ["x": 1]], ["a": ["x": 1, "y": 2], "b": 3], match: .subset))
        #expect(PipelineTestComparison.matches([["x": 1]], [["x": 1, "y": 2]], match: .subset))
        #expect(!PipelineTestComparison.matches([["x": 1]], [["x": 1], ["x": 2]], match: .subset))
        #expect(!PipelineTestComparison.matches(["a": 1], ["b": 1], match: .subset))
    }

    @Test func unorderedPairsEventsAsMultisets() {
        let e: [JSON] = [1, 2, 2]
        #expect(PipelineTestComparison.diff(expected: e, actual: [2, 1, 2], match: .exact, unordered: true) == nil)
        #expect(
            PipelineTestComparison.diff(expected: e, actual: [2, 1, 1], match: .exact, unordered: true)
                == [.init(.same, 2), .init(.same, 1), .init(.missing, 2), .init(.extra, 1)])
        // Greedy would pair {a:1} with the first actual and leave {a:1,b:1} unmatched.
        let subset = PipelineTestComparison.diff(
            expected: [["a": 1], ["b": 1]], actual: [["a": 1, "b": 1], ["a": 1]], match: .subset, unordered: true)
        #expect(subset == nil)
    }

    @Test func orderedDiffKeepsTheLongestCommonRun() {
        let lines = PipelineTestComparison.diff(
            expected: [1, 2, 3, 4], actual: [1, 3, 4, 5], match: .exact, unordered: false)
        #expect(lines?.map(\.text) == ["  1", "- 2", "  3", "  4", "+ 5"])
    }

    @Test func longEqualRunsAreCollapsed() throws {
        let expected: [JSON] = (1...20).map { JSON.int(Int64($0)) }
        var actual = expected
        actual[10] = 99
        let lines = try #require(
            PipelineTestComparison.diff(expected: expected, actual: actual, match: .exact, unordered: false))
        let result = PipelineTestResult(
            file: "p.yaml", name: "t",
            mismatches: [
                .init(
                    name: "out", location: .init(file: "p.yaml", line: 1, column: 1), expectedCount: 20,
                    actualCount: 20, lines: lines)
            ])
        #expect(
            result.report.dropFirst(4) == [
                "      ... 7 matching events", "      8", "      9", "      10", "    - 11", "    + 99", "      12",
                "      13", "      14", "      ... 6 matching events",
            ])
    }
}
