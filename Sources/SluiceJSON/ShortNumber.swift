extension JSONParser {
    /// The number starting at `offset` of `bytes` when it is short and plain, as
    /// ``value(at:in:)`` gives it; nil for anything else (then call that).
    ///
    /// Short and plain: an optional `-`, then 15 digits or fewer in all (leading zeros of
    /// a fraction included) with an optional fraction, no exponent, and a byte after it
    /// that cannot continue a number (or the end of `bytes`). The parser gives such a
    /// number without a fraction as an int, and one with a fraction as its mantissa
    /// divided by a power of ten (Clinger's fast path: both exact, so rounded once); this
    /// computes the same, without the parser's general loop, bounds checks and error
    /// paths. For reading a field at the offset the reader recorded, where most values
    /// are such numbers (`"amount":145.93`). `ShortNumberTests` compares it with
    /// ``value(at:in:)`` on random texts.
    @inlinable
    package static func shortNumber(at offset: Int, in bytes: UnsafeRawBufferPointer) -> JSON? {
        guard let base = bytes.baseAddress, offset >= 0, offset < bytes.count else { return nil }
        let end = bytes.count
        var p = offset
        var b = base.load(fromByteOffset: p, as: UInt8.self)
        let negative = b == UInt8(ascii: "-")
        if negative {
            p += 1
            guard p < end else { return nil }
            b = base.load(fromByteOffset: p, as: UInt8.self)
        }
        var digit = b &- 0x30
        guard digit < 10 else { return nil }
        var mantissa: Int64 = 0
        var digits = 0
        if digit == 0 {
            // A leading zero: the integer part is this one digit.
            digits = 1
            p += 1
        } else {
            repeat {
                mantissa = mantissa &* 10 &+ Int64(digit)
                digits += 1
                p += 1
                guard p < end else { break }
                digit = base.load(fromByteOffset: p, as: UInt8.self) &- 0x30
            } while digit < 10 && digits <= 15
        }
        var fraction = 0
        if p < end, base.load(fromByteOffset: p, as: UInt8.self) == UInt8(ascii: ".") {
            p += 1
            guard p < end else { return nil }
            digit = base.load(fromByteOffset: p, as: UInt8.self) &- 0x30
            guard digit < 10 else { return nil }
            repeat {
                mantissa = mantissa &* 10 &+ Int64(digit)
                digits += 1
                fraction += 1
                p += 1
                guard p < end else { break }
                digit = base.load(fromByteOffset: p, as: UInt8.self) &- 0x30
            } while digit < 10 && digits <= 15
        }
        guard digits <= 15 else { return nil }
        if p < end {
            let next = base.load(fromByteOffset: p, as: UInt8.self)
            // A digit (too many, or after a leading zero), an exponent or a second point.
            if next &- 0x30 < 10 || next == UInt8(ascii: "e") || next == UInt8(ascii: "E")
                || next == UInt8(ascii: ".")
            {
                return nil
            }
        }
        // A point is followed by a digit at least, so no fraction means no point.
        if fraction == 0 { return .int(negative ? -mantissa : mantissa) }
        let d = Double(mantissa) / shortPowerOfTen(fraction)
        return .double(negative ? -d : d)
    }

    /// 10^`n` for `n` in 0...15, exactly (without the lazily initialised global table).
    @inlinable @inline(__always)
    static func shortPowerOfTen(_ n: Int) -> Double {
        switch n {
        case 0: return 1e0
        case 1: return 1e1
        case 2: return 1e2
        case 3: return 1e3
        case 4: return 1e4
        case 5: return 1e5
        case 6: return 1e6
        case 7: return 1e7
        case 8: return 1e8
        case 9: return 1e9
        case 10: return 1e10
        case 11: return 1e11
        case 12: return 1e12
        case 13: return 1e13
        case 14: return 1e14
        default: return 1e15
        }
    }
}
