/// A signed span of time with nanosecond precision, within ±10000 years
/// (±315,576,000,000 seconds, protobuf's range).
@usableFromInline package struct CELDuration: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Whole seconds (same sign as `nanos`).
    @usableFromInline package let seconds: Int64
    /// Nanoseconds, -999_999_999...999_999_999, same sign as `seconds`.
    @usableFromInline package let nanos: Int32

    static let maxSeconds: Int64 = 315_576_000_000

    /// Creates a duration, normalising the signs; throws when out of range.
    @usableFromInline package init(seconds: Int64, nanos: Int64 = 0) throws(CELError) {
        let (s1, o1) = seconds.addingReportingOverflow(nanos / 1_000_000_000)
        guard !o1 else { throw CELError("duration out of range") }
        var s = s1
        var n = nanos % 1_000_000_000
        if s > 0 && n < 0 {
            s -= 1
            n += 1_000_000_000
        } else if s < 0 && n > 0 {
            s += 1
            n -= 1_000_000_000
        }
        guard s >= -Self.maxSeconds, s <= Self.maxSeconds else { throw CELError("duration out of range") }
        self.seconds = s
        self.nanos = Int32(n)
    }

    /// The total in nanoseconds when it fits in `Int64` (about ±292 years).
    var totalNanos: Int64? {
        let (a, o1) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (b, o2) = a.addingReportingOverflow(Int64(nanos))
        return o1 || o2 ? nil : b
    }

    /// Orders by length (signed).
    @usableFromInline package static func < (a: CELDuration, b: CELDuration) -> Bool {
        a.seconds != b.seconds ? a.seconds < b.seconds : a.nanos < b.nanos
    }

    /// Protobuf JSON form: seconds with up to 9 fractional digits, then `s` (`"1.5s"`).
    @usableFromInline package var description: String {
        let negative = seconds < 0 || nanos < 0
        var s = negative ? "-" : ""
        s += String(seconds.magnitude)
        if nanos != 0 {
            var frac = pad(Int64(nanos.magnitude), 9)
            while frac.hasSuffix("0") { frac.removeLast() }
            s += "." + frac
        }
        return s + "s"
    }

    /// Parses Go-style durations: an optional sign, then one or more decimal numbers
    /// each with a unit `h`, `m`, `s`, `ms`, `us` (`µs`) or `ns`, e.g. `"1h30m"`, `"-1.5s"`.
    @usableFromInline package init(parsing text: String) throws(CELError) {
        let b = Array(text.unicodeScalars)
        var p = 0
        func fail() -> CELError { CELError("invalid duration '\(text)'") }
        var negative = false
        if p < b.count, b[p] == "-" || b[p] == "+" {
            negative = b[p] == "-"
            p += 1
        }
        if p < b.count, b[p] == "0", p + 1 == b.count {
            self = try CELDuration(seconds: 0)
            return
        }
        guard p < b.count else { throw fail() }
        // Accumulate in (seconds, nanos) with overflow checks; values beyond range error.
        var totalSeconds: Int64 = 0
        var totalNanos: Int64 = 0
        func isDigit(_ c: Unicode.Scalar) -> Bool { c.value >= 48 && c.value <= 57 }
        while p < b.count {
            var whole: Int64 = 0
            var digits = 0
            while p < b.count, isDigit(b[p]) {
                let (m, o1) = whole.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int64(b[p].value - 48))
                guard !o1, !o2 else { throw CELError("duration out of range") }
                whole = a
                digits += 1
                p += 1
            }
            var fracNum: Int64 = 0
            var fracDen: Int64 = 1
            var fracDigits = 0
            if p < b.count, b[p] == "." {
                p += 1
                while p < b.count, isDigit(b[p]) {
                    if fracDen < 1_000_000_000_000_000 {
                        fracNum = fracNum * 10 + Int64(b[p].value - 48)
                        fracDen *= 10
                    }
                    fracDigits += 1
                    p += 1
                }
            }
            guard digits + fracDigits > 0 else { throw fail() }
            var unit = ""
            while p < b.count, !isDigit(b[p]), b[p] != "." {
                unit.unicodeScalars.append(b[p])
                p += 1
            }
            let unitNanos: Int64
            switch unit {
            case "h": unitNanos = 3_600_000_000_000
            case "m": unitNanos = 60_000_000_000
            case "s": unitNanos = 1_000_000_000
            case "ms": unitNanos = 1_000_000
            case "us", "\u{B5}s", "\u{3BC}s": unitNanos = 1_000
            case "ns": unitNanos = 1
            default: throw fail()
            }
            // whole * unit, split into seconds and nanos so large values cannot overflow.
            if unitNanos >= 1_000_000_000 {
                let (m, o) = whole.multipliedReportingOverflow(by: unitNanos / 1_000_000_000)
                let (a, o2) = totalSeconds.addingReportingOverflow(m)
                guard !o, !o2 else { throw CELError("duration out of range") }
                totalSeconds = a
            } else {
                let perSecond = 1_000_000_000 / unitNanos
                totalSeconds += whole / perSecond
                totalNanos += whole % perSecond * unitNanos
            }
            // The fraction of one unit, in nanoseconds (below 1ns is dropped).
            if fracNum > 0 {
                // fracNum / fracDen < 1, so the quotient is below unitNanos and fits.
                let wide = fracNum.multipliedFullWidth(by: unitNanos)
                totalNanos += fracDen.dividingFullWidth(wide).quotient
            }
            totalSeconds += totalNanos / 1_000_000_000
            totalNanos %= 1_000_000_000
        }
        if negative {
            totalSeconds = -totalSeconds
            totalNanos = -totalNanos
        }
        self = try CELDuration(seconds: totalSeconds, nanos: totalNanos)
    }
}
