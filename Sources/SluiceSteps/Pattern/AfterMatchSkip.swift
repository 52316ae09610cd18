/// The after-match skip strategy (Flink's `AfterMatchSkipStrategy`): which of the
/// matches one event (or one expiry) completes are emitted, in which order, and which
/// partial matches go with them.
///
/// Matches are emitted earliest start first; among matches with the same start, the one
/// whose events come first. A match is skipped when it starts at or before the
/// *threshold* that the matches emitted before it set (`past_last`: their last event,
/// `to_next`: their first), and partial matches that start at or before the final
/// threshold are discarded (``prune(_:upTo:)``). `none` skips and discards nothing.
struct AfterMatchSkip {
    let strategy: SkipStrategy
    let buffer: SharedBuffer

    // Scratch for ordering matches with the same start, reused so that the steady state
    // does not allocate.
    var path: [(step: Int, node: Int32)] = []
    var pathSeqs: [Int64] = []
    var pathStarts: [Int] = []
    var order: [Int] = []
    var startSeqs: [Int64] = []
    var sorted: [CompletedMatch] = []

    init(_ strategy: SkipStrategy, buffer: SharedBuffer) {
        self.strategy = strategy
        self.buffer = buffer
    }

    /// Orders `completed` for emission and removes the matches the strategy skips
    /// (letting go of their nodes); returns the threshold: partial matches that started
    /// at or before it are to be discarded (`Int64.min`: none).
    mutating func select(_ completed: inout RawColumn<CompletedMatch>) -> Int64 {
        if completed.count > 1 {
            // Stable insertion sort by start (few matches, no allocation); only matches
            // that start alike need the comparison of their paths below, which this
            // presorting leaves unchanged (it breaks ties by position).
            var tie = false
            for i in 1..<completed.count {
                let m = completed[i]
                var j = i - 1
                while j >= 0, completed[j].startSeq > m.startSeq {
                    completed[j + 1] = completed[j]
                    j -= 1
                }
                completed[j + 1] = m
            }
            for i in 1..<completed.count where completed[i].startSeq == completed[i - 1].startSeq {
                tie = true
                break
            }
            if tie { sortByPath(&completed) }
        }
        var threshold = Int64.min
        if strategy == .none { return threshold }
        var kept = 0
        for i in 0..<completed.count {
            let m = completed[i]
            if m.startSeq <= threshold {
                buffer.release(m.node)
                continue
            }
            switch strategy {
            case .pastLast: threshold = max(threshold, m.lastSeq)
            case .toNext: threshold = max(threshold, m.startSeq)
            case .none: break
            }
            completed[kept] = m
            kept += 1
        }
        if kept < completed.count { completed.removeLast(completed.count - kept) }
        return threshold
    }

    /// Orders `completed` by start, then by the sequence numbers of their paths
    /// (lexicographically), then by position.
    mutating func sortByPath(_ completed: inout RawColumn<CompletedMatch>) {
        pathSeqs.removeAll(keepingCapacity: true)
        pathStarts.removeAll(keepingCapacity: true)
        startSeqs.removeAll(keepingCapacity: true)
        for i in 0..<completed.count {
            let m = completed[i]
            startSeqs.append(m.startSeq)
            buffer.path(m.node, into: &path)
            pathStarts.append(pathSeqs.count)
            for e in path { pathSeqs.append(buffer.seq(ofNode: e.node)) }
        }
        pathStarts.append(pathSeqs.count)
        order.removeAll(keepingCapacity: true)
        order.append(contentsOf: 0..<completed.count)
        let seqs = pathSeqs, starts = pathStarts, first = startSeqs
        order.sort { a, b in
            if first[a] != first[b] { return first[a] < first[b] }
            var i = starts[a]
            var j = starts[b]
            let ea = starts[a + 1], eb = starts[b + 1]
            while i < ea, j < eb {
                if seqs[i] != seqs[j] { return seqs[i] < seqs[j] }
                i += 1
                j += 1
            }
            if i < ea || j < eb { return i == ea }  // a proper prefix comes first
            return a < b
        }
        sorted.removeAll(keepingCapacity: true)
        for i in order { sorted.append(completed[i]) }
        for i in sorted.indices { completed[i] = sorted[i] }
    }

    /// Removes the partial matches of `list` that started at or before `threshold`,
    /// letting go of their nodes.
    mutating func prune(_ list: inout RawColumn<PartialMatch>, upTo threshold: Int64) {
        var w = 0
        for i in 0..<list.count {
            if list[i].startSeq <= threshold {
                buffer.release(list[i].node)
            } else {
                list[w] = list[i]
                w += 1
            }
        }
        list.removeLast(list.count - w)
    }
}
