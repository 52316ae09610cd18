import SluiceConnectors
import SluiceCore
import SluiceJSON
import SluicePipeline
import SluiceSteps

/// The tests of one pipeline: those in its own `tests:` key and those in a sibling
/// `NAME.test.yaml` (a file whose only key is `tests:`).
///
/// ```swift
/// let suite = PipelineTestSuite.load(path: "pipelines/quickstart.yaml")
/// for result in suite.run() { print(result.report.joined(separator: "\n")) }
/// ```
///
/// Each test runs the pipeline from scratch over its in-memory inputs
/// (``Pipeline/collect(_:)``) and compares what came out with `expect:`:
///
/// ```
///  tests: ──read──▶ PipelineTestCase ──params──▶ Pipeline.load ──collect(input)──▶ outputs
///                                                                      │
///                                     expect: ──PipelineTestComparison─┴──▶ PipelineTestResult
/// ```
package struct PipelineTestSuite: Sendable {
    /// The pipeline file.
    package var pipelinePath: String
    /// Files the tests were read from (the pipeline and/or its `.test.yaml`).
    package var testFiles: [String]
    /// The tests, pipeline file first, in the order written.
    package var tests: [PipelineTestCase]
    /// Problems that belong to no single test: an unreadable file, a `tests:` that is not
    /// a list, a test file without its pipeline. Any error fails the suite.
    package var diagnostics: Diagnostics

    /// A suite.
    package init(
        pipelinePath: String, testFiles: [String] = [], tests: [PipelineTestCase] = [],
        diagnostics: Diagnostics = Diagnostics()
    ) {
        self.pipelinePath = pipelinePath
        self.testFiles = testFiles
        self.tests = tests
        self.diagnostics = diagnostics
    }

    /// True when there is nothing to run and nothing to report.
    package var isEmpty: Bool { tests.isEmpty && !diagnostics.hasErrors }

    /// The suffix of a file holding the tests of the pipeline beside it.
    package static let testFileSuffix = ".test.yaml"

    /// Reads the tests of the pipeline at `path` (`NAME.yaml`), or of the pipeline a
    /// test file belongs to (`NAME.test.yaml` → `NAME.yaml`).
    package static func load(path: String) -> PipelineTestSuite {
        if path.hasSuffix(testFileSuffix) {
            let pipeline = String(path.dropLast(testFileSuffix.count)) + ".yaml"
            guard FileSystem.exists(pipeline) else {
                var suite = PipelineTestSuite(pipelinePath: path, testFiles: [path])
                suite.diagnostics.error(
                    SourceLocation(file: path, line: 1, column: 1),
                    "test file '\(path)' has no pipeline '\(pipeline)' beside it",
                    hint: "a file NAME.test.yaml holds the tests of NAME.yaml")
                return suite
            }
            return load(path: pipeline)
        }
        var suite = PipelineTestSuite(pipelinePath: path)
        let (root, loadDiagnostics) = YAMLLoader.load(path: path, displayName: path)
        if let root {
            // Other problems in the file are the compiler's to report, when the tests run.
            if let node = root.mapping != nil ? root["tests"] : nil {
                suite.add(node, file: path)
            }
        } else {
            suite.diagnostics.items += loadDiagnostics.items
        }
        let sibling = testFilePath(for: path)
        if FileSystem.exists(sibling) {
            let (testRoot, testDiagnostics) = YAMLLoader.load(path: sibling, displayName: sibling)
            suite.diagnostics.items += testDiagnostics.items
            if let testRoot {
                let ctx = ConfigContext()
                if let m = ConfigMap(testRoot, what: sibling, context: ctx) {
                    if let node = m.node("tests", required: true) { suite.add(node, file: sibling) }
                    m.finish(allowed: ["tests"])
                }
                suite.diagnostics.items += ctx.diagnostics.items
            }
        }
        return suite
    }

    /// `NAME.test.yaml` for `NAME.yaml` (or `NAME.yml`).
    package static func testFilePath(for pipeline: String) -> String {
        for ext in [".yaml", ".yml"] where pipeline.hasSuffix(ext) {
            return String(pipeline.dropLast(ext.count)) + testFileSuffix
        }
        return pipeline + testFileSuffix
    }

    mutating func add(_ node: YAMLNode, file: String) {
        let (tests, diagnostics) = PipelineTestReader.read(node)
        self.tests += tests
        self.diagnostics.items += diagnostics.items
        testFiles.append(file)
    }

    /// The suites for command-line arguments: a file is one pipeline (or its test
    /// file); a directory means every `*.yaml` in it and below that has tests (hidden
    /// folders skipped), plus every `*.test.yaml` (whose pipeline must exist). A path
    /// that does not exist gives a suite with an error. Each pipeline appears once.
    package static func discover(_ paths: [String]) -> [PipelineTestSuite] {
        var suites: [PipelineTestSuite] = []
        var seen = Set<String>()
        func add(_ suite: PipelineTestSuite) {
            guard !seen.contains(suite.pipelinePath) else { return }
            seen.insert(suite.pipelinePath)
            suites.append(suite)
        }
        for path in paths {
            if FileSystem.isDirectory(path) {
                for file in FileSystem.yamlFiles(under: path) {
                    let suite = load(path: file)
                    if !suite.isEmpty { add(suite) }
                }
            } else if FileSystem.exists(path) {
                add(load(path: path))
            } else {
                var suite = PipelineTestSuite(pipelinePath: path)
                suite.diagnostics.error(nil, "cannot read '\(path)': no such file or folder")
                add(suite)
            }
        }
        return suites
    }

    /// Runs every test, in order. A suite-level error gives one failed result; a
    /// pipeline that does not compile gives one failed result with its diagnostics.
    package func run(registry: StepRegistry = .standard) -> [PipelineTestResult] {
        if diagnostics.hasErrors {
            return [PipelineTestResult(file: pipelinePath, name: "tests could not be read", diagnostics: diagnostics)]
        }
        let base: Pipeline
        switch Result(catching: { () throws(Diagnostics) in try Pipeline.load(path: pipelinePath, registry: registry) })
        {
        case .success(let p): base = p
        case .failure(let d):
            return [PipelineTestResult(file: pipelinePath, name: "pipeline does not compile", diagnostics: d)]
        }
        return tests.map { test in
            if test.diagnostics.hasErrors {
                return PipelineTestResult(file: pipelinePath, name: test.name, diagnostics: test.diagnostics)
            }
            var pipeline = base
            if !test.params.isEmpty || !test.tables.isEmpty {
                let dir = Pipeline.directory(of: pipelinePath)
                let tables = test.tables.mapValues { $0.hasPrefix("/") ? $0 : dir + "/" + $0 }
                switch Result(catching: { () throws(Diagnostics) in
                    try Pipeline.load(path: pipelinePath, registry: registry, params: test.params, tables: tables)
                }) {
                case .success(let p): pipeline = p
                case .failure(let d):
                    return PipelineTestResult(file: pipelinePath, name: test.name, diagnostics: d)
                }
            }
            return Self.run(test, on: pipeline)
        }
    }

    /// Runs one test on a compiled pipeline (its `params` already applied).
    package static func run(_ test: PipelineTestCase, on pipeline: Pipeline) -> PipelineTestResult {
        var result = PipelineTestResult(file: pipeline.file, name: test.name, diagnostics: test.diagnostics)
        checkNames(test, pipeline, into: &result.diagnostics)
        if result.diagnostics.hasErrors { return result }
        let outputs: [String: [Event]]
        do {
            let (all, outcome) = try pipeline.collect(test.inputItems)
            outputs = all
            if case .failed(let message) = outcome { result.runError = message }
        } catch {
            result.runError = error.message
            return result
        }
        for e in test.expectations {
            let actual = (outputs[e.name] ?? []).map(\.value)
            if let lines = PipelineTestComparison.diff(
                expected: e.events, actual: actual, match: test.match, unordered: test.unordered)
            {
                result.mismatches.append(
                    .init(
                        name: e.name, location: e.location, expectedCount: e.events.count, actualCount: actual.count,
                        lines: lines))
            }
        }
        return result
    }

    /// Every name a test may expect: outputs, streams, their side outputs and the
    /// inputs' `malformed`.
    static func expectableNames(_ p: Pipeline) -> [String] {
        var names = p.outputNames + p.streamNames
        for s in p.streams { names += s.sidePorts.keys.sorted().map { "\(s.name).\($0)" } }
        names += p.inputNames.map { "\($0).malformed" }
        return names
    }

    static func checkNames(_ test: PipelineTestCase, _ p: Pipeline, into d: inout Diagnostics) {
        let inputs = p.inputNames
        for i in test.inputs where !inputs.contains(i.name) {
            d.error(
                i.location, "unknown input '\(i.name)' in test '\(test.name)'\(didYouMean(i.name, among: inputs))",
                hint: "the pipeline's inputs: \(quotedList(inputs, or: false))")
        }
        let names = expectableNames(p)
        for e in test.expectations where !names.contains(e.name) {
            d.error(
                e.location, "unknown output '\(e.name)' in test '\(test.name)'\(didYouMean(e.name, among: names))",
                hint: "a test can expect outputs, streams and side outputs: \(quotedList(names, or: false))")
        }
    }
}
