import SluicePipeline

// The CLI's wording about dead letters: the library counts them (``PipelineRun/deadLetters``,
// ``PipelineRun/deadLetterReasons(_:)``), the tool says what to do about them.
extension PipelineRun {
    /// The end-of-run lines for stderr about dead letters (empty when there were none):
    /// per side output its count and its most frequent reasons, e.g.
    /// `  main.rejected: 1000 (no such field 'card': 1000, first at line 1)`.
    package var deadLetterSummary: [String] {
        let dl = deadLetters
        guard !dl.isEmpty else { return [] }
        let total = dl.reduce(0) { $0 + $1.count }
        let dest = deadLetterPath.map { "written to \($0)" } ?? "not written; pass --dlq FILE to keep them"
        var lines = [
            "sluice: \(total) event\(total == 1 ? "" : "s") went to side outputs that nothing reads (\(dest)):"
        ]
        for (n, c) in dl {
            let why = deadLetterReasons(n)?.summary() ?? ""
            lines.append(why.isEmpty ? "  \(n): \(c)" : "  \(n): \(c) (\(why))")
        }
        return lines
    }
}
