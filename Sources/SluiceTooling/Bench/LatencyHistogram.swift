/// A log-bucketed histogram of nanosecond latencies, accurate to about 1.6% (64 linear
/// sub-buckets per power of two, as HdrHistogram with two significant digits), in a
/// fixed 30 KB array: recording is an index computation and an increment, with no
/// allocation, so it can run on a sink's hot path.
package struct LatencyHistogram: Sendable {
    /// Values below this are counted exactly.
    static let exact = 128
    /// Linear sub-buckets per power of two above ``exact``.
    static let subBuckets = 64

    var counts: [UInt64]
    /// Values recorded.
    package private(set) var count: UInt64 = 0
    /// The largest value recorded (exact), or 0.
    package private(set) var max: UInt64 = 0

    /// An empty histogram.
    package init() {
        counts = Array(repeating: 0, count: Self.exact + 58 * Self.subBuckets)
    }

    static func index(_ v: UInt64) -> Int {
        if v < UInt64(exact) { return Int(v) }
        // v has b significant bits (b >= 8); keep its top 7 (64 ..< 128).
        let shift = (64 - v.leadingZeroBitCount) - 7
        return exact + (shift - 1) * subBuckets + Int((v >> UInt64(shift)) - 64)
    }

    /// The middle of bucket `i`'s range of values.
    static func value(at i: Int) -> UInt64 {
        if i < exact { return UInt64(i) }
        let shift = (i - exact) / subBuckets + 1
        let top = UInt64((i - exact) % subBuckets + 64)
        return (top << UInt64(shift)) + (UInt64(1) << UInt64(shift)) / 2
    }

    /// Counts one value.
    @inline(__always)
    package mutating func record(_ nanos: UInt64) {
        counts[Self.index(nanos)] &+= 1
        count &+= 1
        if nanos > max { max = nanos }
    }

    /// Adds every value of `other`.
    package mutating func merge(_ other: LatencyHistogram) {
        for i in counts.indices { counts[i] &+= other.counts[i] }
        count &+= other.count
        max = Swift.max(max, other.max)
    }

    /// The value at quantile `q` (0...1), or 0 when empty. The largest value is exact;
    /// the others are their bucket's midpoint, capped at the maximum.
    package func quantile(_ q: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let rank = Swift.max(1, UInt64((q * Double(count)).rounded(.up)))
        if rank >= count { return max }
        var seen: UInt64 = 0
        for (i, c) in counts.enumerated() where c > 0 {
            seen += c
            if seen >= rank { return Swift.min(Self.value(at: i), max) }
        }
        return max
    }
}
