import Foundation
import Sluice
import Testing

/// Every ```yaml block of docs/*.md and README.md compiles, so that no documented example
/// fails for a user who copies it. The convention (docs/design.md, "Examples in the docs"):
///
/// - a block whose first line (after comments) starts with `- ` is a list of steps: it
///   is compiled as the `steps:` of a short-form pipeline;
/// - a block whose first line is `# inside: KIND` is the configuration of one step of
///   that kind;
/// - a mapping without `steps`, `inputs` or `streams` (`time:`, `tables:`, `tests:`) is
///   compiled with `steps: []` added;
/// - anything else is a whole pipeline;
/// - a block with a line `# error: TEXT` shows a mistake: it must fail to compile with a
///   diagnostic containing TEXT.
///
/// Relative paths in the examples are resolved against `pipelines/`, where the sample
/// data lives.
@Suite struct DocsExamplesTests {
    struct Example: CustomStringConvertible, Sendable {
        var file: String
        var line: Int
        var text: String
        var description: String { "\(file):\(line)" }
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The fenced yaml blocks of `text`, with the line of the opening fence.
    static func blocks(_ text: String, file: String) -> [Example] {
        var out: [Example] = []
        var current: [Substring]?
        var start = 0
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if var lines = current {
                if line.trimmingCharacters(in: .whitespaces) == "```" {
                    out.append(Example(file: file, line: start, text: lines.joined(separator: "\n") + "\n"))
                    current = nil
                } else {
                    lines.append(line)
                    current = lines
                }
            } else if line.trimmingCharacters(in: .whitespaces) == "```yaml" {
                current = []
                start = i + 1
            }
        }
        return out
    }

    static let examples: [Example] = {
        var files = ["README.md"]
        let docs =
            (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("docs").path)) ?? []
        files += docs.filter { $0.hasSuffix(".md") }.sorted().map { "docs/\($0)" }
        return files.flatMap { f in
            let text = (try? String(contentsOf: root.appendingPathComponent(f), encoding: .utf8)) ?? ""
            return blocks(text, file: f)
        }
    }()

    /// The pipeline an example stands for, by the convention above.
    static func pipeline(for text: String) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let indented = { (n: Int) in
            lines.map { $0.isEmpty ? "" : String(repeating: " ", count: n) + $0 }.joined(separator: "\n")
        }
        if let first = lines.first, first.hasPrefix("# inside: ") {
            let kind = first.dropFirst("# inside: ".count).trimmingCharacters(in: .whitespaces)
            return "steps:\n  - \(kind):\n" + indented(6) + "\n"
        }
        let content = lines.first { l in !l.trimmingCharacters(in: .whitespaces).isEmpty && !l.hasPrefix("#") } ?? ""
        if content.hasPrefix("- ") { return "steps:\n" + indented(2) + "\n" }
        let topKeys = Set(
            lines.compactMap { l -> String? in
                guard let first = l.first, first != " ", first != "#", let colon = l.firstIndex(of: ":") else {
                    return nil
                }
                return String(l[..<colon])
            })
        if topKeys.isDisjoint(with: ["steps", "inputs", "streams"]) { return text + "steps: []\n" }
        return text
    }

    @Test func theDocsHaveExamples() {
        #expect(Self.examples.count > 15)
        #expect(Self.examples.contains { $0.file == "docs/pipeline-language.md" })
    }

    @Test(arguments: examples)
    func exampleCompiles(_ example: Example) {
        let yaml = Self.pipeline(for: example.text)
        let expectedError = example.text.split(separator: "\n").first { $0.hasPrefix("# error: ") }
            .map { String($0.dropFirst("# error: ".count)) }
        let result = Result(catching: { () throws(Diagnostics) in
            try Pipeline.compile(
                yaml: yaml, file: example.description, baseDirectory: Self.root.appendingPathComponent("pipelines").path
            )
        })
        switch result {
        case .success:
            #expect(expectedError == nil, "\(example) compiles, but is marked '# error: \(expectedError ?? "")'")
        case .failure(let diagnostics):
            if let expectedError {
                #expect(diagnostics.description.contains(expectedError), "\(example): \(diagnostics)")
            } else {
                Issue.record("\(example) does not compile:\n\(diagnostics)\n--- compiled as:\n\(yaml)")
            }
        }
    }

    @Test func theWrappingConvention() {
        #expect(Self.pipeline(for: "- filter: true\n") == "steps:\n  - filter: true\n\n")
        #expect(Self.pipeline(for: "time: { field: ts }\n").hasSuffix("steps: []\n"))
        #expect(
            Self.pipeline(for: "# inside: route\nbig: amount > 1\n").hasPrefix("steps:\n  - route:\n      # inside"))
        #expect(Self.pipeline(for: "steps: []\n") == "steps: []\n")
    }
}
