extension JSONParser {
    /// The JSON number at the start of `bytes` when it is an integer of at most 18
    /// digits (no fraction, no exponent), as the JSON parser would read it; nil
    /// otherwise (the caller parses the value then). The bytes were validated.
    @inline(__always)
    @usableFromInline package static func plainInteger(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        let n = bytes.count
        var i = 0
        var negative = false
        if n > 0, bytes[0] == UInt8(ascii: "-") {
            negative = true
            i = 1
        }
        let first = i
        var v: Int64 = 0
        if let base = bytes.baseAddress {
            // Eight digits at a time while there are eight (SWAR: each byte a digit, then
            // pairs, fours and the eight combined).
            while i + 8 <= n {
                let w = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                guard w & 0xF0F0_F0F0_F0F0_F0F0 == 0x3030_3030_3030_3030,
                    (w &+ 0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0 == 0x3030_3030_3030_3030
                else { break }
                var d = w &- 0x3030_3030_3030_3030
                d = ((d &* 10) &+ (d >> 8)) & 0x00FF_00FF_00FF_00FF
                d = ((d &* 100) &+ (d >> 16)) & 0x0000_FFFF_0000_FFFF
                d = ((d &* 10000) &+ (d >> 32)) & 0xFFFF_FFFF
                v = v &* 100_000_000 &+ Int64(d)
                i += 8
            }
        }
        while i < n {
            let d = bytes[i] &- 0x30
            if d > 9 { break }
            v = v &* 10 &+ Int64(d)
            i += 1
        }
        let digits = i - first
        guard digits > 0, digits <= 18 else { return nil }
        if i < n {
            let b = bytes[i]
            if b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E") { return nil }
        }
        return negative ? -v : v
    }

    /// The JSON number starting at `offset` of validated `bytes` when it is a plain one
    /// (an optional minus, digits, an optional fraction, no exponent, at most 15
    /// significant digits), read as ``value(at:in:)`` reads it: an integer, or the
    /// double Clinger's fast path gives (the parser's own, exact: one rounding). Nil for
    /// anything else (another value, an exponent, more digits), which the caller then
    /// reads with ``value(at:in:)``.
    @inline(__always)
    @usableFromInline package static func plainNumber(at offset: Int, in bytes: UnsafeRawBufferPointer) -> JSON? {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), offset >= 0, offset < bytes.count
        else { return nil }
        let end = bytes.count
        var pos = offset
        var negative = false
        if base[pos] == UInt8(ascii: "-") {
            negative = true
            pos += 1
            if pos >= end { return nil }
        }
        var d = base[pos] &- 0x30
        if d > 9 { return nil }
        var mantissa: UInt64 = 0
        var sig = 0
        if d == 0 {
            pos += 1
            // A leading zero (not valid JSON; the parser says so).
            if pos < end, base[pos] &- 0x30 <= 9 { return nil }
        } else {
            repeat {
                mantissa = mantissa &* 10 &+ UInt64(d)
                sig += 1
                pos += 1
                if pos >= end { break }
                d = base[pos] &- 0x30
            } while d <= 9
            // 16 digits and more may not be exact as a double; 19 and more overflow.
            if sig > 15 { return nil }
        }
        if pos >= end || base[pos] != UInt8(ascii: ".") {
            if pos < end, base[pos] == UInt8(ascii: "e") || base[pos] == UInt8(ascii: "E") { return nil }
            return .int(negative ? -Int64(mantissa) : Int64(mantissa))
        }
        pos += 1
        var frac = 0
        while pos < end {
            d = base[pos] &- 0x30
            if d > 9 { break }
            // Leading zeros of a fraction after a zero integer part count as places, not
            // as significant digits (as the parser counts them).
            if mantissa != 0 || d != 0 {
                mantissa = mantissa &* 10 &+ UInt64(d)
                sig += 1
            }
            frac += 1
            pos += 1
            if sig > 15 || frac > 22 { return nil }
        }
        if frac == 0 { return nil }
        if pos < end, base[pos] == UInt8(ascii: "e") || base[pos] == UInt8(ascii: "E") { return nil }
        let v = Double(mantissa) / powersOfTen[frac]
        return .double(negative ? -v : v)
    }
}
