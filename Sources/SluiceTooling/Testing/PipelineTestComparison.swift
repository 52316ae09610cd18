import SluiceJSON
import SluicePipeline

/// How `sluice test` compares expected events with actual ones, and the diff it shows
/// when they differ.
package enum PipelineTestComparison {
    /// True when `actual` satisfies `expected` under `match`.
    ///
    /// Both modes compare numbers by JSON kind: an integer (`1`) never equals a double
    /// (`1.0`), as the output keeps the distinction. Object key order never matters.
    package static func matches(_ expected: JSON, _ actual: JSON, match: PipelineTestCase.Match) -> Bool {
        switch (expected, actual) {
        case (.object(let e), .object(let a)):
            if match == .exact, e.count != a.count { return false }
            for (k, v) in e {
                guard let av = a[k], matches(v, av, match: match) else { return false }
            }
            return true
        case (.array(let e), .array(let a)):
            guard e.count == a.count else { return false }
            return zip(e, a).allSatisfy { matches($0, $1, match: match) }
        default:
            return expected == actual
        }
    }

    /// The diff of `expected` against `actual`, or nil when they match: in order (a
    /// longest-common-subsequence diff) or, with `unordered`, as multisets (each expected
    /// event paired with a distinct actual one).
    package static func diff(
        expected: [JSON], actual: [JSON], match: PipelineTestCase.Match, unordered: Bool
    ) -> [PipelineTestDiffLine]? {
        let lines =
            unordered
            ? unorderedDiff(expected: expected, actual: actual, match: match)
            : orderedDiff(expected: expected, actual: actual, match: match)
        return lines.allSatisfy { $0.kind == .same } ? nil : lines
    }

    static func orderedDiff(expected: [JSON], actual: [JSON], match: PipelineTestCase.Match) -> [PipelineTestDiffLine] {
        let n = expected.count
        let m = actual.count
        // Too big for the table: compare position by position.
        guard n * m <= 4_000_000 else {
            var out: [PipelineTestDiffLine] = []
            for i in 0..<max(n, m) {
                if i < n, i < m, matches(expected[i], actual[i], match: match) {
                    out.append(.init(.same, actual[i]))
                } else {
                    if i < n { out.append(.init(.missing, expected[i])) }
                    if i < m { out.append(.init(.extra, actual[i])) }
                }
            }
            return out
        }
        // lcs[i][j]: length of the longest common subsequence of expected[i...] and actual[j...].
        var lcs = [[Int]](repeating: [Int](repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                lcs[i][j] =
                    matches(expected[i], actual[j], match: match)
                    ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
            }
        }
        var out: [PipelineTestDiffLine] = []
        var i = 0
        var j = 0
        while i < n || j < m {
            if i < n, j < m, matches(expected[i], actual[j], match: match), lcs[i][j] == lcs[i + 1][j + 1] + 1 {
                out.append(.init(.same, actual[j]))
                i += 1
                j += 1
            } else if i < n, j == m || lcs[i + 1][j] >= lcs[i][j + 1] {
                out.append(.init(.missing, expected[i]))
                i += 1
            } else {
                out.append(.init(.extra, actual[j]))
                j += 1
            }
        }
        return out
    }

    static func unorderedDiff(expected: [JSON], actual: [JSON], match: PipelineTestCase.Match) -> [PipelineTestDiffLine]
    {
        // Maximum bipartite matching (augmenting paths): with `subset`, a greedy pairing
        // could take an actual event that a later expected event needed.
        var owner = [Int?](repeating: nil, count: actual.count)  // actual index -> expected index
        let candidates = expected.map { e in actual.indices.filter { matches(e, actual[$0], match: match) } }
        func augment(_ e: Int, _ visited: inout [Bool]) -> Bool {
            for a in candidates[e] where !visited[a] {
                visited[a] = true
                if let other = owner[a] {
                    if augment(other, &visited) {
                        owner[a] = e
                        return true
                    }
                } else {
                    owner[a] = e
                    return true
                }
            }
            return false
        }
        var matched = [Bool](repeating: false, count: expected.count)
        for e in expected.indices {
            var visited = [Bool](repeating: false, count: actual.count)
            matched[e] = augment(e, &visited)
        }
        var out: [PipelineTestDiffLine] = []
        for (a, o) in owner.enumerated() where o != nil { out.append(.init(.same, actual[a])) }
        for (e, ok) in matched.enumerated() where !ok { out.append(.init(.missing, expected[e])) }
        for (a, o) in owner.enumerated() where o == nil { out.append(.init(.extra, actual[a])) }
        return out
    }
}

/// One line of a test diff: an event both sides have, one only expected, or one only
/// produced.
package struct PipelineTestDiffLine: Sendable, Equatable {
    /// Which side the event is on.
    package enum Kind: Sendable, Equatable {
        /// Expected and produced (the produced event is shown).
        case same
        /// Expected but not produced (`-`).
        case missing
        /// Produced but not expected (`+`).
        case extra
    }

    /// Which side the event is on.
    package var kind: Kind
    /// The event.
    package var event: JSON

    /// A diff line.
    package init(_ kind: Kind, _ event: JSON) {
        self.kind = kind
        self.event = event
    }

    /// `  EVENT`, `- EVENT` or `+ EVENT`, with the event as compact JSON.
    package var text: String {
        let mark =
            switch kind {
            case .same: " "
            case .missing: "-"
            case .extra: "+"
            }
        return "\(mark) \(JSONWriter.string(event))"
    }
}
