/// A point in time with nanosecond precision, between 0001-01-01T00:00:00Z and
/// 9999-12-31T23:59:59.999999999Z (CEL's range).
@usableFromInline package struct CELTimestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Seconds since the Unix epoch.
    @usableFromInline package let seconds: Int64
    /// Nanoseconds within the second, 0...999_999_999.
    @usableFromInline package let nanos: Int32

    /// Seconds of 0001-01-01T00:00:00Z.
    static let minSeconds: Int64 = -62_135_596_800
    /// Seconds of 9999-12-31T23:59:59Z.
    static let maxSeconds: Int64 = 253_402_300_799

    /// Creates a timestamp; throws when outside CEL's range or `nanos` is out of 0..<1e9.
    @usableFromInline package init(seconds: Int64, nanos: Int32 = 0) throws(CELError) {
        guard nanos >= 0, nanos < 1_000_000_000 else { throw CELError("timestamp nanos out of range") }
        guard seconds >= Self.minSeconds, seconds <= Self.maxSeconds else {
            throw CELError("timestamp out of range")
        }
        self.seconds = seconds
        self.nanos = nanos
    }

    init(unchecked seconds: Int64, nanos: Int32) {
        self.seconds = seconds
        self.nanos = nanos
    }

    /// Normalises `seconds`/`nanos` (nanos may be any sign) and range-checks.
    static func normalised(seconds: Int64, nanos: Int64) throws(CELError) -> CELTimestamp {
        var s = seconds
        var n = nanos
        s += n / 1_000_000_000
        n %= 1_000_000_000
        if n < 0 {
            n += 1_000_000_000
            s -= 1
        }
        return try CELTimestamp(seconds: s, nanos: Int32(n))
    }

    /// Orders by time.
    @usableFromInline package static func < (a: CELTimestamp, b: CELTimestamp) -> Bool {
        a.seconds != b.seconds ? a.seconds < b.seconds : a.nanos < b.nanos
    }

    /// RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits, e.g. `2009-02-13T23:31:30.5Z`
    /// (trailing zeros trimmed as Go and the conformance suite do).
    @usableFromInline package var description: String {
        let days = floorDiv(seconds, 86_400)
        let secOfDay = seconds - days * 86_400
        let (y, m, d) = civil(fromDays: days)
        var s = pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2) + "T"
        s += pad(secOfDay / 3600, 2) + ":" + pad(secOfDay / 60 % 60, 2) + ":" + pad(secOfDay % 60, 2)
        if nanos != 0 {
            var frac = pad(Int64(nanos), 9)
            while frac.hasSuffix("0") { frac.removeLast() }
            s += "." + frac
        }
        return s + "Z"
    }

    /// Parses RFC 3339 (`2009-02-13T23:31:30.5Z`, `...+01:00`), with range checks.
    @usableFromInline package init(parsing text: String) throws(CELError) {
        let b = Array(text.utf8)
        var p = 0
        func fail() -> CELError { CELError("invalid timestamp '\(text)'") }
        func digits(_ n: Int) throws(CELError) -> Int64 {
            guard p + n <= b.count else { throw fail() }
            var v: Int64 = 0
            for _ in 0..<n {
                let c = b[p]
                guard c >= 48 && c <= 57 else { throw fail() }
                v = v * 10 + Int64(c - 48)
                p += 1
            }
            return v
        }
        func expect(_ set: [UInt8]) throws(CELError) {
            guard p < b.count, set.contains(b[p]) else { throw fail() }
            p += 1
        }
        // A five-digit year is well-formed but outside CEL's range.
        var yearDigits = 0
        while p + yearDigits < b.count, b[p + yearDigits] >= 48, b[p + yearDigits] <= 57 { yearDigits += 1 }
        if yearDigits > 4 { throw CELError("timestamp out of range") }
        let year = try digits(4)
        try expect([45])
        let month = try digits(2)
        try expect([45])
        let day = try digits(2)
        try expect([84, 116, 32])
        let hour = try digits(2)
        try expect([58])
        let minute = try digits(2)
        try expect([58])
        let second = try digits(2)
        var nanos: Int64 = 0
        if p < b.count, b[p] == 46 {
            p += 1
            var count = 0
            while p < b.count, b[p] >= 48, b[p] <= 57 {
                if count < 9 { nanos = nanos * 10 + Int64(b[p] - 48) }
                count += 1
                p += 1
            }
            guard count > 0 else { throw fail() }
            for _ in count..<max(count, 9) { nanos *= 10 }
        }
        var offset: Int64 = 0
        guard p < b.count else { throw fail() }
        if b[p] == 90 || b[p] == 122 {
            p += 1
        } else if b[p] == 43 || b[p] == 45 {
            let sign: Int64 = b[p] == 45 ? -1 : 1
            p += 1
            let oh = try digits(2)
            try expect([58])
            let om = try digits(2)
            // RFC 3339: a zone offset is at most 23:59 either way.
            guard oh < 24, om < 60 else { throw fail() }
            offset = sign * (oh * 3600 + om * 60)
        } else {
            throw fail()
        }
        guard p == b.count else { throw fail() }
        guard month >= 1, month <= 12, day >= 1, day <= daysInMonth(year, month),
            hour < 24, minute < 60, second < 61
        else { throw fail() }
        if year < 1 { throw CELError("timestamp out of range") }
        let days = days(fromCivil: year, month, day)
        let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset
        self = try CELTimestamp(seconds: secs, nanos: Int32(nanos))
    }
}

/// Floor division for possibly negative dividends.
func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

func pad(_ v: Int64, _ width: Int) -> String {
    let s = String(v)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}

func isLeap(_ y: Int64) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

func daysInMonth(_ y: Int64, _ m: Int64) -> Int64 {
    switch m {
    case 2: return isLeap(y) ? 29 : 28
    case 4, 6, 9, 11: return 30
    default: return 31
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
func days(fromCivil y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
    let y = m <= 2 ? y0 - 1 : y0
    let era = floorDiv(y, 400)
    let yoe = y - era * 400
    let mp = (m + 9) % 12
    let doy = (153 * mp + 2) / 5 + d - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
    let z = z0 + 719_468
    let era = floorDiv(z, 146_097)
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp < 10 ? mp + 3 : mp - 9
    return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
}
