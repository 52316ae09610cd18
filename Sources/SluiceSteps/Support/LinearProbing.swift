/// A bucket of an open-addressing table with linear probing (the window's `KeyTable`, the
/// saga's `SagaIndex`).
protocol LinearProbeBucket {
    /// Whether the bucket holds no entry.
    var isEmpty: Bool { get }
    /// The entry's hash, whose low bits (masked) name its home bucket.
    var probeHash: Int { get }
    /// Marks the bucket empty.
    mutating func empty()
}

extension Array where Element: LinearProbeBucket {
    /// Empties bucket `hole` of a table of `mask + 1` buckets without tombstones: later
    /// entries of the probe run move back into the hole unless their home bucket lies
    /// cyclically in (hole, entry], so every entry stays reachable from its home.
    @inline(__always)
    mutating func removeShifting(at hole: Int, mask: Int) {
        var i = hole
        var j = i
        while true {
            j = (j + 1) & mask
            if self[j].isEmpty { break }
            let home = self[j].probeHash & mask
            let stays = i <= j ? (i < home && home <= j) : (i < home || home <= j)
            if stays { continue }
            self[i] = self[j]
            i = j
        }
        self[i].empty()
    }
}
