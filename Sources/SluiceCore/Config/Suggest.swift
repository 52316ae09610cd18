/// The Damerau–Levenshtein distance (optimal string alignment) between two strings:
/// the number of insertions, deletions, substitutions and swaps of adjacent characters
/// that turn one into the other. Compares Unicode scalars.
@usableFromInline package func editDistance(_ a: String, _ b: String) -> Int {
    let x = Array(a.unicodeScalars)
    let y = Array(b.unicodeScalars)
    if x.isEmpty { return y.count }
    if y.isEmpty { return x.count }
    // Three rolling rows: two back (for transpositions), previous and current.
    var prev2 = [Int](repeating: 0, count: y.count + 1)
    var prev = Array(0...y.count)
    var cur = [Int](repeating: 0, count: y.count + 1)
    for i in 1...x.count {
        cur[0] = i
        for j in 1...y.count {
            let cost = x[i - 1] == y[j - 1] ? 0 : 1
            var d = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] {
                d = min(d, prev2[j - 2] + 1)
            }
            cur[j] = d
        }
        (prev2, prev, cur) = (prev, cur, prev2)
    }
    return prev[y.count]
}

/// The candidate closest to `word`, if one is close enough to be a likely typo: at most
/// `max(1, word.count / 3)` edits away, comparing without case (a candidate that
/// differs only in case always matches). Ties go to the candidate that
/// sorts first, so the answer does not depend on the collection's order.
///
/// `closestMatch(to: "fliter", among: ["filter", "map"])` is `"filter"`.
@usableFromInline package func closestMatch(to word: String, among candidates: some Collection<String>) -> String? {
    let lower = word.lowercased()
    let limit = max(1, word.unicodeScalars.count / 3)
    var best: (distance: Int, name: String)?
    for c in candidates where c != word {
        let d = c.lowercased() == lower ? 0 : editDistance(lower, c.lowercased())
        guard d <= limit, d < c.unicodeScalars.count else { continue }
        if let b = best, (b.distance, b.name) <= (d, c) { continue }
        best = (d, c)
    }
    return best?.name
}

/// `"; did you mean 'filter'?"` when a candidate is close to `word`, else an empty string;
/// for appending to "unknown ..." messages.
@usableFromInline package func didYouMean(_ word: String, among candidates: some Collection<String>) -> String {
    closestMatch(to: word, among: candidates).map { "; did you mean '\($0)'?" } ?? ""
}
