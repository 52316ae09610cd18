import SluiceCore
import SluicePipeline

/// The outcome of one pipeline test: passed, or why not.
package struct PipelineTestResult: Sendable {
    /// An output whose events differ from the expected ones.
    package struct Mismatch: Sendable {
        /// The output, stream or side output name.
        package var name: String
        /// Where the name is written in `expect:`.
        package var location: SourceLocation
        /// Events expected.
        package var expectedCount: Int
        /// Events produced.
        package var actualCount: Int
        /// The diff, expected against actual.
        package var lines: [PipelineTestDiffLine]

        /// A mismatch.
        package init(
            name: String, location: SourceLocation, expectedCount: Int, actualCount: Int, lines: [PipelineTestDiffLine]
        ) {
            self.name = name
            self.location = location
            self.expectedCount = expectedCount
            self.actualCount = actualCount
            self.lines = lines
        }
    }

    /// The pipeline file.
    package var file: String
    /// The test name (or a phrase such as `pipeline does not compile` for a failure
    /// that belongs to no single test).
    package var name: String
    /// Problems reading the test or compiling the pipeline for it.
    package var diagnostics: Diagnostics
    /// Why the run itself failed, if it did.
    package var runError: String?
    /// Outputs that did not match, in the order of `expect:`.
    package var mismatches: [Mismatch]

    /// A result.
    package init(
        file: String, name: String, diagnostics: Diagnostics = Diagnostics(), runError: String? = nil,
        mismatches: [Mismatch] = []
    ) {
        self.file = file
        self.name = name
        self.diagnostics = diagnostics
        self.runError = runError
        self.mismatches = mismatches
    }

    /// True when the test ran and every expectation held.
    package var passed: Bool { !diagnostics.hasErrors && runError == nil && mismatches.isEmpty }

    /// Lines of unchanged events kept around each difference in ``report``.
    static let context = 3

    /// The report `sluice test` prints: `PASS FILE: NAME`, or `FAIL FILE: NAME` followed
    /// by the diagnostics, the run error and a diff per mismatched output (`-` expected
    /// but missing, `+` produced but not expected, one JSON value per line).
    package var report: [String] {
        guard !passed else { return ["PASS \(file): \(name)"] }
        var out = ["FAIL \(file): \(name)"]
        for d in diagnostics.items { out += d.description.split(separator: "\n").map { "  \($0)" } }
        if let runError { out.append("  the run failed: \(runError)") }
        for m in mismatches {
            out.append(
                "  \(m.location): '\(m.name)': expected \(plural(m.expectedCount, "event")), got \(m.actualCount)")
            out.append("    --- expected")
            out.append("    +++ actual")
            out += Self.collapse(m.lines).map { "    \($0)" }
        }
        return out
    }

    /// The diff lines, with long runs of equal events cut to ``context`` lines around
    /// each change.
    static func collapse(_ lines: [PipelineTestDiffLine]) -> [String] {
        var keep = [Bool](repeating: false, count: lines.count)
        for (i, l) in lines.enumerated() where l.kind != .same {
            for k in max(0, i - context)...min(lines.count - 1, i + context) { keep[k] = true }
        }
        var out: [String] = []
        var skipped = 0
        for (i, l) in lines.enumerated() {
            if keep[i] {
                if skipped > 0 { out.append("  ... \(plural(skipped, "matching event"))") }
                skipped = 0
                out.append(l.text)
            } else {
                skipped += 1
            }
        }
        if skipped > 0 { out.append("  ... \(plural(skipped, "matching event"))") }
        return out
    }
}

func plural(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }
