import ArgumentParser
import Sluice
import SluiceTooling

struct TestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run the tests written in pipelines.",
        discussion: """
            Runs the 'tests:' of each pipeline, and those in a NAME.test.yaml beside
            NAME.yaml. A folder means every pipeline in it and below it that has tests.
            Prints PASS or FAIL per test, a diff for each failure ('-' expected but not
            produced, '+' produced but not expected), and ends with 'N passed, M
            failed'. Exits 1 if any test failed or no test was found. A pipeline that
            does not compile counts as one failed test.

            A test:
              tests:
                - name: big orders pass
                  params: { threshold: 100 }
                  input:  { in: [ {id: 1, amount: 300}, {watermark: 5000} ] }
                  expect: { out: [ {id: 1, amount: 300} ] }
                  unordered: false     # true compares as multisets
                  match: exact         # subset: extra fields in actual events are fine

            Examples:
              sluice test pipelines/quickstart.yaml
              sluice test pipelines
            """
    )

    @Argument(
        help: ArgumentHelp(
            "Pipeline files, test files or folders (default: the current folder).", valueName: "pipeline-or-folder"))
    var paths: [String] = []

    func run() throws {
        let paths = self.paths.isEmpty ? ["."] : self.paths
        let suites = PipelineTestSuite.discover(paths)
        var passed = 0
        var failed = 0
        for suite in suites {
            if suite.isEmpty {
                print("no tests found in \(suite.pipelinePath)")
                continue
            }
            for result in suite.run() {
                for line in result.report { print(line) }
                if result.passed { passed += 1 } else { failed += 1 }
            }
        }
        if passed + failed == 0, suites.allSatisfy(\.isEmpty) {
            let folders = paths.filter { p in !suites.contains { $0.pipelinePath == p } }
            if !folders.isEmpty { print("no tests found in \(folders.joined(separator: ", "))") }
        }
        print("\(passed) passed, \(failed) failed")
        if failed > 0 || passed == 0 { throw runtimeFailureExit }
    }
}
