import Foundation
import Testing

/// Docs and code comments point only inside the repository: no SPEC.md, DESIGN.md or
/// `shared/` (the conformance suites, which only test code reads), and every relative
/// Markdown link of the docs names a file that exists. The one exception is the README's
/// "Testing" section, which says where the conformance tests look for their suites.
@Suite struct DocsReferencesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func files(under folder: String, suffix: String) -> [String] {
        let base = root.appendingPathComponent(folder)
        guard let e = FileManager.default.enumerator(atPath: base.path) else { return [] }
        return e.compactMap { $0 as? String }.filter { $0.hasSuffix(suffix) }.map { "\(folder)/\($0)" }.sorted()
    }

    static func text(_ path: String) -> String {
        (try? String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)) ?? ""
    }

    @Test func nothingCitesFilesOutsideTheRepository() {
        let paths =
            ["README.md", "Makefile"] + Self.files(under: "docs", suffix: ".md")
            + Self.files(under: "Sources", suffix: ".swift")
            + Self.files(under: "pipelines", suffix: ".yaml")
        #expect(paths.count > 50)
        for path in paths {
            var section = ""
            for (i, line) in Self.text(path).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                if line.hasPrefix("## ") { section = String(line) }
                if path == "README.md" && section == "## Testing" { continue }
                for word in ["SPEC", "DESIGN.md", "shared/conformance", "../shared"] where line.contains(word) {
                    Issue.record("\(path):\(i + 1) cites '\(word)', outside the repository: \(line)")
                }
            }
        }
    }

    @Test func relativeLinksInTheDocsExist() {
        for path in ["README.md"] + Self.files(under: "docs", suffix: ".md") {
            let dir = URL(fileURLWithPath: path).deletingLastPathComponent().relativePath
            let text = Self.text(path)
            var rest = Substring(text)
            while let open = rest.range(of: "](") {
                rest = rest[open.upperBound...]
                guard let close = rest.firstIndex(of: ")") else { break }
                let target =
                    String(rest[..<close]).split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first
                    .map(String.init) ?? ""
                rest = rest[close...]
                if target.isEmpty || target.contains("://") || target.hasPrefix("mailto:") { continue }
                let full = Self.root.appendingPathComponent(dir == "." ? target : "\(dir)/\(target)").path
                #expect(
                    FileManager.default.fileExists(atPath: full), "\(path) links to '\(target)', which does not exist")
            }
        }
    }
}
