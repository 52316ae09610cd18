import SluiceJSON

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A DDSketch quantile estimator (Masson, Rim, Lee 2019): values are counted in
/// logarithmic buckets so that every quantile it returns is within relative error
/// ``alpha`` of a value of the input at that rank.
///
/// Positive and negative values have their own buckets; values with magnitude below
/// ``minMagnitude`` count as zero. Each side keeps at most ``maxBuckets`` buckets; beyond
/// that the buckets nearest zero are merged (only reachable with values spread over more
/// than 17 orders of magnitude at the default settings).
@usableFromInline package struct DDSketch: Sendable, Equatable {
    /// The relative accuracy: 0.01 means within 1 %.
    @usableFromInline package let alpha: Double
    let gamma: Double
    let logGamma: Double
    /// Magnitudes below this count as zero.
    @usableFromInline package static let minMagnitude = 1e-9
    /// The most buckets kept per sign.
    @usableFromInline package static let maxBuckets = 2048

    var positive = BucketStore()
    var negative = BucketStore()
    var zeros: Int64 = 0
    /// How many values were added.
    @usableFromInline package internal(set) var count: Int64 = 0

    /// An empty sketch with relative accuracy `alpha`.
    @usableFromInline package init(alpha: Double = 0.01) {
        self.alpha = alpha
        gamma = (1 + alpha) / (1 - alpha)
        logGamma = log(gamma)
    }

    @inline(__always)
    func index(_ magnitude: Double) -> Int {
        Int((log(magnitude) / logGamma).rounded(.up))
    }

    @inline(__always)
    func value(_ index: Int) -> Double {
        2 * pow(gamma, Double(index)) / (gamma + 1)
    }

    /// Adds one value (NaN and infinities are ignored).
    @usableFromInline package mutating func add(_ x: Double) {
        guard x.isFinite else { return }
        count += 1
        if x > DDSketch.minMagnitude {
            positive.add(index(x))
        } else if x < -DDSketch.minMagnitude {
            negative.add(index(-x))
        } else {
            zeros += 1
        }
    }

    /// Adds every value counted by `other` (same `alpha`).
    @usableFromInline package mutating func merge(_ other: DDSketch) {
        count += other.count
        zeros += other.zeros
        positive.merge(other.positive)
        negative.merge(other.negative)
    }

    /// The estimated value at 0-based rank `rank` (0 ..< count) of the sorted input.
    func valueAt(rank: Int64) -> Double {
        var seen: Int64 = 0
        // Most negative first: the negative store from its largest index down.
        var i = negative.counts.count - 1
        while i >= 0 {
            seen += negative.counts[i]
            if seen > rank { return -value(negative.offset + i) }
            i -= 1
        }
        seen += zeros
        if seen > rank { return 0 }
        for (j, c) in positive.counts.enumerated() {
            seen += c
            if seen > rank { return value(positive.offset + j) }
        }
        return positive.counts.isEmpty ? 0 : value(positive.offset + positive.counts.count - 1)
    }

    /// The estimated `q`-quantile (0...1), interpolated linearly between the two ranks
    /// around `q × (count − 1)` as the exact computation does; nil when empty.
    @usableFromInline package func quantile(_ q: Double) -> Double? {
        guard count > 0 else { return nil }
        let pos = q * Double(count - 1)
        let lo = Int64(pos.rounded(.down))
        let frac = pos - Double(lo)
        let a = valueAt(rank: lo)
        if frac == 0 || lo + 1 >= count { return a }
        let b = valueAt(rank: lo + 1)
        return a + (b - a) * frac
    }
}

/// Dense counts for a contiguous range of bucket indexes.
struct BucketStore: Sendable, Equatable {
    var counts: [Int64] = []
    var offset = 0

    mutating func add(_ index: Int, count n: Int64 = 1) {
        let m = DDSketch.maxBuckets
        if counts.isEmpty {
            counts = [n]
            offset = index
            return
        }
        if index < offset {
            // Grow downwards, but never past `maxBuckets`: lower values join the lowest bucket.
            let top = offset + counts.count - 1
            let low = max(index, top - m + 1)
            if low < offset {
                counts.insert(contentsOf: repeatElement(0, count: offset - low), at: 0)
                offset = low
            }
            counts[max(index, offset) - offset] += n
        } else {
            if index >= offset + counts.count {
                counts.append(contentsOf: repeatElement(0, count: index - offset - counts.count + 1))
                if counts.count > m { collapse(to: index - m + 1) }
            }
            counts[index - offset] += n
        }
    }

    /// Merges every bucket below `newOffset` into the bucket at `newOffset`.
    mutating func collapse(to newOffset: Int) {
        let drop = min(newOffset - offset, counts.count - 1)
        guard drop > 0 else { return }
        let moved = counts[0..<drop].reduce(0, +)
        counts.removeFirst(drop)
        counts[0] += moved
        offset += drop
    }

    mutating func merge(_ other: BucketStore) {
        for (j, c) in other.counts.enumerated() where c > 0 {
            add(other.offset + j, count: c)
        }
    }
}
