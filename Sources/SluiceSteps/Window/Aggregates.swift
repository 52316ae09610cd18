import SluiceJSON

/// The running state of one aggregate in one window. A flat value: only `collect`,
/// `percentile` and `count_distinct` hold a reference (allocated when the window opens).
struct Accumulator {
    /// Non-null values seen (events, for `count()`).
    var n: Int64 = 0
    /// Integer part of `sum`.
    var isum: Int64 = 0
    /// Double part of `sum`; the sum for `avg`; the running mean for `stddev`; for `min`
    /// and `max`, the value so far while it is a double (``hasDouble``).
    var dsum: Double = 0
    /// ``sawDouble``, ``overflow`` and ``hasDouble``.
    var flags: UInt8 = 0

    static let sawDoubleFlag: UInt8 = 1
    static let overflowFlag: UInt8 = 2
    static let hasDoubleFlag: UInt8 = 4

    /// `sum` saw a double.
    var sawDouble: Bool {
        get { flags & Self.sawDoubleFlag != 0 }
        set { flags = newValue ? flags | Self.sawDoubleFlag : flags & ~Self.sawDoubleFlag }
    }
    /// `sum` overflowed 64-bit integers.
    var overflow: Bool {
        get { flags & Self.overflowFlag != 0 }
        set { flags = newValue ? flags | Self.overflowFlag : flags & ~Self.overflowFlag }
    }
    /// `min`/`max`: the value so far is the double `dsum` (else it is the extra's `value`).
    var hasDouble: Bool {
        get { flags & Self.hasDoubleFlag != 0 }
        set { flags = newValue ? flags | Self.hasDoubleFlag : flags & ~Self.hasDoubleFlag }
    }
}

/// The rest of an aggregate's state, kept apart from ``Accumulator`` so that the part
/// every event touches stays small (32 bytes): `count`, `sum`, `avg` and `min`/`max` over
/// doubles never read it.
struct AccumulatorExtra {
    /// Sum of squared deviations for `stddev` (Welford).
    var m2: Double = 0
    /// `min`, `max` (unless a double, see ``Accumulator/hasDouble``), `first`, `last`:
    /// the value so far.
    var value: JSON = .null
    /// `first`/`last`: the event time and arrival number of `value`.
    var time: Int64 = 0
    var seq: UInt64 = 0
    /// The values kept by `collect`, `percentile` and `count_distinct`.
    var box: AggregateBox?
}

/// Storage for the aggregates that need more than a few numbers.
enum AggregateBox {
    case items(ItemsBox)
    case quantiles(QuantileBox)
    case distinct(DistinctBox)
}

/// `collect`: the values with their event times and arrival numbers.
final class ItemsBox {
    var items: [(time: Int64, seq: UInt64, value: JSON)] = []
}

/// `percentile`: exact values until there are too many, then a sketch.
final class QuantileBox {
    var exact: [Double] = []
    var sketch: DDSketch?

    func add(_ x: Double) {
        if sketch != nil {
            sketch?.add(x)
            return
        }
        exact.append(x)
        if exact.count > Aggregates.exactPercentileLimit { spill() }
    }

    func spill() {
        var s = DDSketch(alpha: Aggregates.percentileAlpha)
        for v in exact { s.add(v) }
        sketch = s
        exact = []
    }

    func merge(_ other: QuantileBox) {
        if let o = other.sketch {
            if sketch == nil { spill() }
            sketch?.merge(o)
        } else {
            for v in other.exact { add(v) }
        }
    }

    func quantile(_ p: Double) -> Double? {
        if let sketch { return sketch.quantile(p) }
        return Aggregates.exactQuantile(exact, p)
    }
}

/// `count_distinct`: an exact set until there are too many values, then HyperLogLog.
final class DistinctBox {
    var exact: Set<JSON> = []
    var hll: HyperLogLog?

    func add(_ v: JSON, scratch: inout [UInt8]) {
        if hll != nil {
            hll?.add(hash: StableHash.hash(v, scratch: &scratch))
            return
        }
        exact.insert(v)
        if exact.count > Aggregates.exactDistinctLimit { spill(scratch: &scratch) }
    }

    func spill(scratch: inout [UInt8]) {
        var h = HyperLogLog(precision: Aggregates.distinctPrecision)
        for v in exact { h.add(hash: StableHash.hash(v, scratch: &scratch)) }
        hll = h
        exact = []
    }

    func merge(_ other: DistinctBox, scratch: inout [UInt8]) {
        if let o = other.hll {
            if hll == nil { spill(scratch: &scratch) }
            hll?.merge(o)
        } else {
            for v in other.exact { add(v, scratch: &scratch) }
        }
    }

    var count: Int64 { hll?.estimate ?? Int64(exact.count) }
}

/// The arithmetic of the aggregate functions: add a value, merge two windows (session
/// merges), produce the result.
@usableFromInline package enum Aggregates {
    /// `percentile` keeps every value up to this many per window, then switches to a sketch.
    @usableFromInline package static let exactPercentileLimit = 2048
    /// Relative accuracy of the `percentile` sketch: 1 %.
    @usableFromInline package static let percentileAlpha = 0.01
    /// `count_distinct` is exact up to this many distinct values per window.
    @usableFromInline package static let exactDistinctLimit = 4096
    /// HyperLogLog precision of `count_distinct` beyond the exact limit: 2^14 registers,
    /// standard error 0.81 %.
    @usableFromInline package static let distinctPrecision = 14

    /// The exact `p`-quantile of `values` with linear interpolation between the closest
    /// ranks (numpy's default, Excel's PERCENTILE.INC); nil when empty.
    @usableFromInline package static func exactQuantile(_ values: [Double], _ p: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let pos = p * Double(sorted.count - 1)
        let lo = Int(pos.rounded(.down))
        let hi = Swift.min(lo + 1, sorted.count - 1)
        let frac = pos - Double(lo)
        return sorted[lo] + (sorted[hi] - sorted[lo]) * frac
    }

    /// Fresh extra state for `f` (allocating its box, if it needs one: see
    /// ``AggregateFunction/needsBox``).
    static func make(_ f: AggregateFunction) -> AccumulatorExtra {
        var a = AccumulatorExtra()
        switch f {
        case .collect: a.box = .items(ItemsBox())
        case .percentile: a.box = .quantiles(QuantileBox())
        case .countDistinct: a.box = .distinct(DistinctBox())
        default: break
        }
        return a
    }

    /// Why `value` cannot be aggregated by `f`, or nil when it can (null always can: it is skipped).
    @inline(__always)
    static func check(_ f: AggregateFunction, _ value: JSON) -> String? {
        guard f.needsNumbers else { return nil }
        switch value {
        case .int, .double, .null: return nil
        default: return "expected a number, got \(value.kindName)"
        }
    }

    /// The value so far of `min`/`max`/`first`/`last` (with `n > 0`).
    @inline(__always)
    static func value(_ a: Accumulator, _ x: AccumulatorExtra) -> JSON {
        a.hasDouble ? .double(a.dsum) : x.value
    }

    /// Sets the value so far of `min`/`max`, keeping a double in the accumulator itself.
    @inline(__always)
    static func setValue(_ a: inout Accumulator, _ x: inout AccumulatorExtra, _ v: JSON) {
        if case .double(let d) = v {
            a.dsum = d
            a.hasDouble = true
            x.value = .null
        } else {
            x.value = v
            a.hasDouble = false
        }
    }

    /// Adds one event's value (already checked with ``check(_:_:)``).
    static func add(
        _ f: AggregateFunction, _ a: inout Accumulator, _ x: inout AccumulatorExtra, _ v: JSON, time: Int64,
        seq: UInt64,
        scratch: inout [UInt8]
    ) {
        if case .countAll = f {
            a.n += 1
            return
        }
        if case .null = v { return }
        switch f {
        case .countAll, .count:
            a.n += 1
        case .sum:
            a.n += 1
            switch v {
            case .int(let i):
                let (s, o) = a.isum.addingReportingOverflow(i)
                if o { a.overflow = true } else { a.isum = s }
            case .double(let d):
                a.dsum += d
                a.sawDouble = true
            default: break
            }
        case .avg:
            a.n += 1
            a.dsum += v.numberValue ?? 0
        case .stddev:
            let y = v.numberValue ?? 0
            a.n += 1
            let delta = y - a.dsum
            a.dsum += delta / Double(a.n)
            x.m2 += delta * (y - a.dsum)
        case .min:
            if a.n == 0 || JSONOrder.less(v, value(a, x)) { setValue(&a, &x, v) }
            a.n += 1
        case .max:
            if a.n == 0 || JSONOrder.less(value(a, x), v) { setValue(&a, &x, v) }
            a.n += 1
        case .first:
            if a.n == 0 || (time, seq) < (x.time, x.seq) { (x.value, x.time, x.seq) = (v, time, seq) }
            a.n += 1
        case .last:
            if a.n == 0 || (time, seq) > (x.time, x.seq) { (x.value, x.time, x.seq) = (v, time, seq) }
            a.n += 1
        case .countDistinct:
            a.n += 1
            if case .distinct(let b)? = x.box { b.add(v, scratch: &scratch) }
        case .percentile:
            a.n += 1
            if case .quantiles(let b)? = x.box { b.add(v.numberValue ?? 0) }
        case .collect:
            a.n += 1
            if case .items(let b)? = x.box { b.items.append((time, seq, v)) }
        }
    }

    /// ``add(_:_:_:_:time:seq:scratch:)`` for `sum` when `v` is a number or null (true);
    /// false, changing nothing, for any other value.
    @inline(__always)
    static func addSum(_ a: inout Accumulator, _ v: JSON) -> Bool {
        switch v {
        case .double(let d):
            a.n += 1
            a.dsum += d
            a.sawDouble = true
        case .int(let i):
            a.n += 1
            let (s, o) = a.isum.addingReportingOverflow(i)
            if o { a.overflow = true } else { a.isum = s }
        case .null:
            break
        default:
            return false
        }
        return true
    }

    /// ``add(_:_:_:_:time:seq:scratch:)`` for `max` (or `min`) when `v` is a double or
    /// null and the value so far is a double or there is none (true); false, changing
    /// nothing, otherwise. Numbers compare as in ``JSONOrder``.
    @inline(__always)
    static func addMinMax(_ a: inout Accumulator, _ v: JSON, max: Bool) -> Bool {
        let y: Double
        switch v {
        case .double(let d): y = d
        case .null: return true
        default: return false
        }
        if a.n > 0 {
            guard a.hasDouble else { return false }
            if max ? a.dsum < y : y < a.dsum { a.dsum = y }
        } else {
            a.dsum = y
            a.hasDouble = true
        }
        a.n += 1
        return true
    }

    /// Folds `b` into `a` (two session windows becoming one).
    static func merge(
        _ f: AggregateFunction, _ a: inout Accumulator, _ ax: inout AccumulatorExtra, _ b: Accumulator,
        _ bx: AccumulatorExtra, scratch: inout [UInt8]
    ) {
        guard b.n > 0 || b.overflow else { return }
        if a.n == 0 && !a.overflow {
            a = b
            ax = bx
            return
        }
        switch f {
        case .countAll, .count:
            a.n += b.n
        case .sum:
            let (s, o) = a.isum.addingReportingOverflow(b.isum)
            if o || b.overflow { a.overflow = true } else { a.isum = s }
            a.dsum += b.dsum
            a.sawDouble = a.sawDouble || b.sawDouble
            a.n += b.n
        case .avg:
            a.dsum += b.dsum
            a.n += b.n
        case .stddev:
            // Chan et al.'s parallel update.
            let n = a.n + b.n
            let delta = b.dsum - a.dsum
            ax.m2 += bx.m2 + delta * delta * Double(a.n) * Double(b.n) / Double(n)
            a.dsum += delta * Double(b.n) / Double(n)
            a.n = n
        case .min:
            let v = value(b, bx)
            if JSONOrder.less(v, value(a, ax)) { setValue(&a, &ax, v) }
            a.n += b.n
        case .max:
            let v = value(b, bx)
            if JSONOrder.less(value(a, ax), v) { setValue(&a, &ax, v) }
            a.n += b.n
        case .first:
            if (bx.time, bx.seq) < (ax.time, ax.seq) { (ax.value, ax.time, ax.seq) = (bx.value, bx.time, bx.seq) }
            a.n += b.n
        case .last:
            if (bx.time, bx.seq) > (ax.time, ax.seq) { (ax.value, ax.time, ax.seq) = (bx.value, bx.time, bx.seq) }
            a.n += b.n
        case .countDistinct:
            if case .distinct(let p)? = ax.box, case .distinct(let q)? = bx.box { p.merge(q, scratch: &scratch) }
            a.n += b.n
        case .percentile:
            if case .quantiles(let p)? = ax.box, case .quantiles(let q)? = bx.box { p.merge(q) }
            a.n += b.n
        case .collect:
            if case .items(let p)? = ax.box, case .items(let q)? = bx.box { p.items += q.items }
            a.n += b.n
        }
    }

    /// The aggregate's value for the window, or an error message (integer overflow).
    static func result(_ f: AggregateFunction, _ a: Accumulator, _ x: AccumulatorExtra) -> Result<JSON, WindowError> {
        switch f {
        case .countAll, .count:
            return .success(.int(a.n))
        case .sum:
            if a.overflow { return .failure(WindowError("integer overflow")) }
            if a.n == 0 { return .success(.null) }
            return .success(a.sawDouble ? .double(Double(a.isum) + a.dsum) : .int(a.isum))
        case .avg:
            return .success(a.n == 0 ? .null : .double(a.dsum / Double(a.n)))
        case .stddev:
            return .success(a.n == 0 ? .null : .double((x.m2 / Double(a.n)).squareRoot()))
        case .min, .max:
            return .success(a.n == 0 ? .null : value(a, x))
        case .first, .last:
            return .success(a.n == 0 ? .null : x.value)
        case .countDistinct:
            if case .distinct(let b)? = x.box { return .success(.int(b.count)) }
            return .success(.int(0))
        case .percentile(let p):
            if case .quantiles(let b)? = x.box, let q = b.quantile(p) { return .success(.double(q)) }
            return .success(.null)
        case .collect:
            guard case .items(let b)? = x.box else { return .success(.array([])) }
            let sorted = b.items.sorted { ($0.time, $0.seq) < ($1.time, $1.seq) }
            return .success(.array(sorted.map(\.value)))
        }
    }
}

/// A problem computing a window's result.
struct WindowError: Error, Sendable, Equatable {
    /// What went wrong.
    var message: String
    init(_ message: String) { self.message = message }
}
