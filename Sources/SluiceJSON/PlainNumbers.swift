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
}
