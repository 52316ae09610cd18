import Foundation
import Sluice
import Testing

/// Keeps docs/pipeline-language.md in step with the code: every registered step kind has
/// a section naming every key it accepts, and every connector kind is described.
@Suite struct PipelineTestDocsTests {
    static func document() throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return try String(contentsOf: root.appendingPathComponent("docs/pipeline-language.md"), encoding: .utf8)
    }

    /// The lines under the heading `### KIND`, up to the next heading of level 1 to 3.
    static func section(_ kind: String, in text: String) -> String? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0 == "### \(kind)" }) else { return nil }
        let rest = lines[(start + 1)...]
        let end =
            rest.firstIndex { $0.hasPrefix("# ") || $0.hasPrefix("## ") || $0.hasPrefix("### ") } ?? lines.endIndex
        return lines[start..<end].joined(separator: "\n")
    }

    @Test(arguments: StepRegistry.standard.all.map(\.kind))
    func everyStepKindHasASectionWithEveryKey(kind: String) throws {
        let text = try Self.document()
        let section = try #require(
            Self.section(kind, in: text), "docs/pipeline-language.md has no '### \(kind)' heading")
        let keys = StepRegistry.standard.definition(kind)?.keys ?? []
        for key in keys {
            #expect(section.contains("`\(key)`"), "the section of '\(kind)' does not mention its key '\(key)'")
        }
    }

    @Test func theSpecStepsAreAllDocumented() throws {
        let text = try Self.document()
        for kind in ["filter", "enrich", "map", "validate", "dedupe", "reorder", "route", "window", "pattern"] {
            #expect(Self.section(kind, in: text) != nil, "no section for '\(kind)'")
        }
    }

    @Test func everyConnectorKindIsDescribed() throws {
        let text = try Self.document()
        for kind in ["stdin", "file", "stdout", "stderr", "generate"] {
            #expect(text.contains("| `\(kind)`"), "no table row for the connector '\(kind)'")
        }
    }
}
