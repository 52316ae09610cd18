#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import SluiceJSON

// Bounded-memory estimators used by `count_distinct` and `percentile` once a window holds
// more values than their exact forms keep (see docs/windows.md for the error bounds).

/// A HyperLogLog distinct-value estimator (Flajolet et al. 2007) with the usual small-range
/// (linear counting) correction.
///
/// With precision 14 it uses 16,384 one-byte registers and its standard error is
/// 1.04 / √16384 ≈ 0.81 %. Values are hashed with ``StableHash``, which does not depend on
/// the process, so an estimate is the same on every run.
public struct HyperLogLog: Sendable, Equatable {
    /// Bits of the hash that select a register.
    public let precision: Int
    /// One register per bucket: the largest leading-zero run seen plus one.
    public private(set) var registers: [UInt8]

    /// An empty estimator with `2^precision` registers (precision 4...18).
    public init(precision: Int = 14) {
        let p = min(max(precision, 4), 18)
        self.precision = p
        registers = [UInt8](repeating: 0, count: 1 << p)
    }

    /// Adds a value by its 64-bit hash.
    public mutating func add(hash: UInt64) {
        let index = Int(hash >> UInt64(64 - precision))
        let rest = hash << UInt64(precision)
        let rank = UInt8(min(rest.leadingZeroBitCount, 64 - precision) + 1)
        if rank > registers[index] { registers[index] = rank }
    }

    /// Merges another estimator of the same precision (the union of both inputs).
    public mutating func merge(_ other: HyperLogLog) {
        guard other.precision == precision else { return }
        for i in registers.indices where other.registers[i] > registers[i] { registers[i] = other.registers[i] }
    }

    /// The estimated number of distinct values added.
    public var estimate: Int64 {
        let m = Double(registers.count)
        var sum = 0.0
        var zeros = 0
        for r in registers {
            sum += 1.0 / Double(UInt64(1) << UInt64(r))
            if r == 0 { zeros += 1 }
        }
        let alpha = 0.7213 / (1 + 1.079 / m)
        var e = alpha * m * m / sum
        if e <= 2.5 * m, zeros > 0 { e = m * log(m / Double(zeros)) }
        return Int64(e.rounded())
    }
}

/// A DDSketch quantile estimator (Masson, Rim, Lee 2019): values are counted in
/// logarithmic buckets so that every quantile it returns is within relative error
/// ``alpha`` of a value of the input at that rank.
///
/// Positive and negative values have their own buckets; values with magnitude below
/// ``minMagnitude`` count as zero. Each side keeps at most ``maxBuckets`` buckets; beyond
/// that the buckets nearest zero are merged (only reachable with values spread over more
/// than 17 orders of magnitude at the default settings).
public struct DDSketch: Sendable, Equatable {
    /// The relative accuracy: 0.01 means within 1 %.
    public let alpha: Double
    let gamma: Double
    let logGamma: Double
    /// Magnitudes below this count as zero.
    public static let minMagnitude = 1e-9
    /// The most buckets kept per sign.
    public static let maxBuckets = 2048

    var positive = BucketStore()
    var negative = BucketStore()
    var zeros: Int64 = 0
    /// How many values were added.
    public private(set) var count: Int64 = 0

    /// An empty sketch with relative accuracy `alpha`.
    public init(alpha: Double = 0.01) {
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
    public mutating func add(_ x: Double) {
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
    public mutating func merge(_ other: DDSketch) {
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
    public func quantile(_ q: Double) -> Double? {
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

/// A 64-bit hash of a JSON value that is the same in every process (Swift's `Hasher` is
/// seeded per process, which would make sketch estimates vary between runs): FNV-1a over
/// the compact JSON text, finished with MurmurHash3's 64-bit mixer.
public enum StableHash {
    /// The hash of `value`; `scratch` is a reusable buffer.
    public static func hash(_ value: JSON, scratch: inout [UInt8]) -> UInt64 {
        scratch.removeAll(keepingCapacity: true)
        JSONWriter.write(value, into: &scratch)
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in scratch {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return mix(h)
    }

    /// MurmurHash3's finaliser: spreads every input bit over the whole word.
    @inline(__always)
    public static func mix(_ x: UInt64) -> UInt64 {
        var k = x
        k ^= k >> 33
        k = k &* 0xff51_afd7_ed55_8ccd
        k ^= k >> 33
        k = k &* 0xc4ce_b9fe_1a85_ec53
        k ^= k >> 33
        return k
    }
}

/// A total order over JSON values, as jq orders them: null < false < true < numbers <
/// strings < arrays < objects. Numbers compare by value (integers exactly), strings by
/// Unicode scalars, arrays element by element, objects by their compact text.
public enum JSONOrder {
    static func rank(_ v: JSON) -> Int {
        switch v {
        case .null: 0
        case .bool(let b): b ? 2 : 1
        case .int, .double: 3
        case .string: 4
        case .array: 5
        case .object: 6
        }
    }

    /// True when `a` sorts before `b`.
    public static func less(_ a: JSON, _ b: JSON) -> Bool {
        switch (a, b) {
        case (.int(let x), .int(let y)): return x < y
        case (.int(let x), .double(let y)): return Double(x) < y
        case (.double(let x), .int(let y)): return x < Double(y)
        case (.double(let x), .double(let y)): return x < y
        case (.string(let x), .string(let y)): return x.unicodeScalars.lexicographicallyPrecedes(y.unicodeScalars)
        case (.array(let x), .array(let y)):
            for (p, q) in zip(x, y) {
                if less(p, q) { return true }
                if less(q, p) { return false }
            }
            return x.count < y.count
        case (.object, .object): return JSONWriter.string(a) < JSONWriter.string(b)
        default: return rank(a) < rank(b)
        }
    }
}
