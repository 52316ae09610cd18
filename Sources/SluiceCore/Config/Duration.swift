/// A non-negative length of time with nanosecond precision, as written in pipelines:
/// `250ms`, `10s`, `5m`, `2h`, `1d`, `1m30s`, `1.5s`, `100us` (or `µs`), `10ns`.
///
/// Stored as an `Int64` count of nanoseconds, which covers about 292 years.
@usableFromInline package struct TimeSpan: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The length in nanoseconds.
    @usableFromInline package var nanoseconds: Int64

    /// A span of `nanoseconds`.
    @usableFromInline package init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    /// A span of whole milliseconds (saturating at the limits of `Int64` nanoseconds).
    @usableFromInline package init(milliseconds: Int64) {
        let (v, o) = milliseconds.multipliedReportingOverflow(by: 1_000_000)
        nanoseconds = o ? (milliseconds < 0 ? .min : .max) : v
    }

    /// A span of whole seconds (saturating).
    @usableFromInline package static func seconds(_ s: Int64) -> TimeSpan {
        TimeSpan(milliseconds: s.multipliedSaturating(by: 1000))
    }

    /// A span of whole milliseconds (saturating).
    @usableFromInline package static func milliseconds(_ ms: Int64) -> TimeSpan { TimeSpan(milliseconds: ms) }

    /// Zero.
    @usableFromInline package static let zero = TimeSpan(nanoseconds: 0)

    /// The length in whole milliseconds, rounded down.
    @usableFromInline package var milliseconds: Int64 { nanoseconds / 1_000_000 }

    /// The length in seconds.
    @usableFromInline package var seconds: Double { Double(nanoseconds) / 1e9 }

    /// Orders by length.
    @usableFromInline package static func < (a: TimeSpan, b: TimeSpan) -> Bool { a.nanoseconds < b.nanoseconds }

    /// Why a text is not a duration.
    @usableFromInline package struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        /// What is wrong, e.g. "a bare number has no unit".
        @usableFromInline package var message: String
        /// How to fix it, e.g. "add a unit, e.g. '10s'".
        @usableFromInline package var hint: String?

        /// An error.
        @usableFromInline package init(_ message: String, hint: String? = nil) {
            self.message = message
            self.hint = hint
        }

        /// The message.
        @usableFromInline package var description: String { message }
    }

    /// The units, longest names first where one is a prefix of another.
    static let units: [(name: String, nanos: Int64)] = [
        ("ns", 1),
        ("us", 1_000),
        ("µs", 1_000),
        ("μs", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
        ("d", 86_400_000_000_000),
    ]

    static let unitHint = "units are ns, us, ms, s, m, h, d; combine them as in '1m30s'"

    /// Parses a duration; see the type's documentation for the syntax. Components may be
    /// combined in any order (`1h30m`) and each may have a decimal fraction (`1.5s`).
    @usableFromInline package static func parse(_ text: String) -> Result<TimeSpan, ParseError> {
        let s = Array(text.unicodeScalars)
        if s.isEmpty { return .failure(ParseError("empty duration", hint: "write e.g. '10s'")) }
        if s.allSatisfy({ $0.properties.numericType != nil || $0 == "." || $0 == "-" || $0 == "+" }) {
            let example = text.hasPrefix("-") ? "'10s'" : "'\(text)s'"
            return .failure(ParseError("a bare number has no unit", hint: "add a unit, e.g. \(example)"))
        }
        if s.first == "-" { return .failure(ParseError("a duration cannot be negative")) }
        var i = s.startIndex
        var total: Int64 = 0
        let overflow = ParseError("duration is too long", hint: "the longest duration is about 292 years")
        while i < s.endIndex {
            var whole: Int64 = 0
            var digits = 0
            var fracDigits: [UInt8] = []
            while i < s.endIndex, let d = asciiDigit(s[i]) {
                let (m, o1) = whole.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int64(d))
                if o1 || o2 { return .failure(overflow) }
                whole = a
                digits += 1
                i += 1
            }
            if i < s.endIndex, s[i] == "." {
                i += 1
                while i < s.endIndex, let d = asciiDigit(s[i]) {
                    fracDigits.append(d)
                    i += 1
                }
                if fracDigits.isEmpty {
                    return .failure(ParseError("expected digits after '.' in '\(text)'"))
                }
            }
            if digits == 0, fracDigits.isEmpty {
                return .failure(ParseError("expected a number in '\(text)'", hint: unitHint))
            }
            let unitStart = i
            while i < s.endIndex, asciiDigit(s[i]) == nil, s[i] != "." { i += 1 }
            let unit = String(String.UnicodeScalarView(s[unitStart..<i]))
            if unit.isEmpty {
                return .failure(ParseError("missing unit after the last number in '\(text)'", hint: unitHint))
            }
            guard let nanos = units.first(where: { $0.name == unit })?.nanos else {
                return .failure(ParseError("unknown duration unit '\(unit)'", hint: unitHint))
            }
            let (w, o1) = whole.multipliedReportingOverflow(by: nanos)
            if o1 { return .failure(overflow) }
            // The fraction, exact to the nanosecond (extra digits are truncated).
            var frac: Int64 = 0
            var scale = nanos
            for d in fracDigits {
                scale /= 10
                if scale == 0 { break }
                frac += Int64(d) * scale
            }
            let (part, o2) = w.addingReportingOverflow(frac)
            let (t, o3) = total.addingReportingOverflow(part)
            if o2 || o3 { return .failure(overflow) }
            total = t
        }
        return .success(TimeSpan(nanoseconds: total))
    }

    /// Parses a duration, or nil; use ``parse(_:)`` for the reason.
    @usableFromInline package init?(_ text: String) {
        guard case .success(let v) = TimeSpan.parse(text) else { return nil }
        self = v
    }

    private static func asciiDigit(_ c: Unicode.Scalar) -> UInt8? {
        c.value >= 48 && c.value <= 57 ? UInt8(c.value - 48) : nil
    }

    /// The span in the syntax ``parse(_:)`` reads, largest units first: `1m30s`, `250ms`,
    /// `1d2h`, `1500us` becomes `1ms500us`, zero is `0s`.
    @usableFromInline package var description: String {
        if nanoseconds == 0 { return "0s" }
        var rest = nanoseconds.magnitude
        var out = nanoseconds < 0 ? "-" : ""
        for (name, nanos) in TimeSpan.units.reversed() where name != "µs" && name != "μs" {
            let n = UInt64(nanos)
            if rest >= n {
                out += "\(rest / n)\(name)"
                rest %= n
            }
        }
        return out
    }
}

extension Int64 {
    fileprivate func multipliedSaturating(by other: Int64) -> Int64 {
        let (v, o) = multipliedReportingOverflow(by: other)
        if !o { return v }
        return (self < 0) != (other < 0) ? .min : .max
    }
}
