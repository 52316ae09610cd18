/// Compact JSON output: no insignificant whitespace, integers as integers, doubles in
/// the shortest form that reads back to the same value, strings escaped per RFC 8259
/// (`"`, `\`, and control characters; everything else as UTF-8).
///
/// JSON has no NaN or infinity; a double that is not finite is written as `null`.
@usableFromInline package enum JSONWriter {
    /// Appends the compact text of `value` to `out`.
    @usableFromInline package static func write(_ value: JSON, into out: inout [UInt8]) {
        switch value {
        case .null: appendStatic("null", to: &out)
        case .bool(let b): appendStatic(b ? "true" : "false", to: &out)
        case .int(let i): writeInt(i, into: &out)
        case .double(let d): writeDouble(d, into: &out)
        case .string(let s): writeString(s, into: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            var first = true
            for v in a {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                write(v, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            var first = true
            for (k, v) in o {
                writeKey(k, first: first, into: &out)
                first = false
                write(v, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// The compact text of `value` as a string.
    @usableFromInline package static func string(_ value: JSON) -> String {
        var out: [UInt8] = []
        write(value, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always)
    static func appendStatic(_ s: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// Appends a decimal integer.
    @usableFromInline package static func writeInt(_ value: Int64, into out: inout [UInt8]) {
        if value >= 0 && value < 10 {
            out.append(UInt8(value) + 0x30)
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxIntLength) { buf in
            guard let base = buf.baseAddress else { return }
            out.append(contentsOf: UnsafeBufferPointer(start: base, count: writeInt(value, at: base)))
        }
    }

    /// The most bytes a decimal `Int64` takes (`-9223372036854775808`).
    package static let maxIntLength = 20

    /// The two-digit numbers 00 to 99, one after the other.
    static let digitPairs: StaticString =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"
    /// 10^0 to 10^19.
    static let powersOfTen: [UInt64] = (0...19).map { n in (0..<n).reduce(1) { p, _ in p * 10 } }

    /// Writes `value` in decimal at `out`, which has room for ``maxIntLength`` bytes, two
    /// digits per division from the last; returns how many bytes it wrote.
    @inline(__always)
    package static func writeInt(_ value: Int64, at out: UnsafeMutablePointer<UInt8>) -> Int {
        var mag = value.magnitude
        var sign = 0
        if value < 0 {
            out[0] = UInt8(ascii: "-")
            sign = 1
        }
        // The digit count from the bit length: `t` (bits × log10(2), rounded down, 0...19)
        // is the count or one short of it, and one comparison settles which.
        let bits = UInt64.bitWidth - (mag | 1).leadingZeroBitCount
        let t = (bits &* 1233) >> 12
        let digits = max(1, mag >= powersOfTen[t] ? t + 1 : t)
        var i = sign + digits
        let pairs = digitPairs.utf8Start
        while mag >= 100 {
            let pair = Int(truncatingIfNeeded: mag % 100) &* 2
            mag /= 100
            i -= 2
            out[i] = pairs[pair]
            out[i + 1] = pairs[pair + 1]
        }
        if mag >= 10 {
            let pair = Int(truncatingIfNeeded: mag) &* 2
            out[i - 2] = pairs[pair]
            out[i - 1] = pairs[pair + 1]
        } else {
            out[i - 1] = UInt8(truncatingIfNeeded: mag) &+ 0x30
        }
        return sign + digits
    }

    /// Appends a double in shortest round-trip form (`12.5`, `1e+20`, `5.0`), or `null`.
    @usableFromInline package static func writeDouble(_ value: Double, into out: inout [UInt8]) {
        guard value.isFinite else {
            appendStatic("null", to: &out)
            return
        }
        // A whole number up to 2^53 is its integer digits and ".0", as Swift's
        // description writes it (larger ones it writes with an exponent): ten times
        // cheaper than the general algorithm, and common (`amount * 100.0`). Not -0.0.
        if value.magnitude <= 9_007_199_254_740_992.0, let whole = Int64(exactly: value),
            whole != 0 || value.sign == .plus
        {
            writeInt(whole, into: &out)
            appendStatic(".0", to: &out)
            return
        }
        // Swift's description is the shortest round-trip form and keeps a ".0" on whole
        // numbers, so a double stays a double when read back. `write(to:)` produces the
        // same text into a stack buffer; taken through `_writeASCII`, it does not become
        // a String (a heap allocation whenever it is over 15 bytes, as most are).
        var sink = ASCIISink()
        swap(&sink.bytes, &out)
        value.write(to: &sink)
        swap(&sink.bytes, &out)
    }

    /// The most bytes ``write(_:at:)`` writes for `value`, or nil for an array or an
    /// object (which it does not write): a double's shortest form takes at most 24 bytes,
    /// a string at most six per byte (`\u00XX`) and its quotes.
    @inlinable
    package static func scalarBound(_ value: JSON) -> Int? {
        switch value {
        case .string(let s): return s.utf8.count &* 6 &+ 2
        case .array, .object: return nil
        default: return 32
        }
    }

    /// Writes `value` (not an array or object; see ``scalarBound(_:)``) at `out`, which
    /// has room for ``scalarBound(_:)`` bytes, as ``write(_:into:)`` would append it;
    /// returns how many bytes it wrote.
    package static func write(_ value: JSON, at out: UnsafeMutablePointer<UInt8>) -> Int {
        switch value {
        case .null: return copyStatic("null", to: out)
        case .bool(let b): return copyStatic(b ? "true" : "false", to: out)
        case .int(let i): return writeInt(i, at: out)
        case .double(let d):
            guard d.isFinite else { return copyStatic("null", to: out) }
            // As in writeDouble(_:into:).
            if d.magnitude <= 9_007_199_254_740_992.0, let whole = Int64(exactly: d), whole != 0 || d.sign == .plus {
                let n = writeInt(whole, at: out)
                return n + copyStatic(".0", to: out + n)
            }
            var sink = PointerSink(base: out, capacity: 32)
            d.write(to: &sink)
            return sink.count
        case .string(var s): return s.withUTF8 { writeString(utf8: $0, at: out) }
        case .array, .object: return 0
        }
    }

    /// The text of the scalar that starts at `offset` in `bytes` (valid JSON, as a reader
    /// validated it) when it is exactly what ``write(_:at:)`` writes for the value it
    /// parses to, so a step can copy it instead of parsing and writing it again: an
    /// ASCII string without escapes, an integer of one to 18 digits (not `-0`, which
    /// writes `0`), `true`, `false` or `null`. Nil for anything else (a double, whose
    /// text need not be the shortest, a string with escapes or other than ASCII, an
    /// array or an object).
    package static func verbatimScalar(at offset: Int, in bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard offset >= 0, offset < bytes.count, let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
        else { return nil }
        let n = bytes.count
        var i = offset
        func literal(_ s: StaticString) -> UnsafeRawBufferPointer? {
            let k = s.utf8CodeUnitCount
            guard n - offset >= k else { return nil }
            for j in 0..<k where base[offset + j] != s.utf8Start[j] { return nil }
            return UnsafeRawBufferPointer(start: base + offset, count: k)
        }
        switch base[i] {
        case UInt8(ascii: "\""):
            i += 1
            while i < n {
                let b = base[i]
                if b == UInt8(ascii: "\"") {
                    return UnsafeRawBufferPointer(start: base + offset, count: i + 1 - offset)
                }
                if b == UInt8(ascii: "\\") || b >= 0x80 || b < 0x20 { return nil }
                i += 1
            }
            return nil
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            if base[i] == UInt8(ascii: "-") { i += 1 }
            let digits = i
            while i < n, base[i] >= UInt8(ascii: "0"), base[i] <= UInt8(ascii: "9") { i += 1 }
            let count = i - digits
            guard count >= 1, count <= 18 else { return nil }
            // A leading zero only as the whole number, unsigned.
            if base[digits] == UInt8(ascii: "0") && (count > 1 || digits > offset) { return nil }
            if i < n, base[i] == UInt8(ascii: ".") || base[i] == UInt8(ascii: "e") || base[i] == UInt8(ascii: "E") {
                return nil
            }
            return UnsafeRawBufferPointer(start: base + offset, count: i - offset)
        case UInt8(ascii: "t"): return literal("true")
        case UInt8(ascii: "f"): return literal("false")
        case UInt8(ascii: "n"): return literal("null")
        default: return nil
        }
    }

    @inline(__always)
    static func copyStatic(_ s: StaticString, to out: UnsafeMutablePointer<UInt8>) -> Int {
        out.update(from: s.utf8Start, count: s.utf8CodeUnitCount)
        return s.utf8CodeUnitCount
    }

    /// Writes a JSON string literal for valid UTF-8 `bytes` at `out` (room for six bytes
    /// per byte and two); returns how many bytes it wrote.
    static func writeString(utf8 bytes: UnsafeBufferPointer<UInt8>, at out: UnsafeMutablePointer<UInt8>) -> Int {
        out[0] = UInt8(ascii: "\"")
        var n = 1
        var runStart = 0
        for i in 0..<bytes.count {
            let b = bytes[i]
            if b >= 0x20 && b != 0x22 && b != 0x5C { continue }
            if i > runStart, let base = bytes.baseAddress {
                (out + n).update(from: base + runStart, count: i - runStart)
                n += i - runStart
            }
            runStart = i + 1
            out[n] = UInt8(ascii: "\\")
            n += 1
            switch b {
            case 0x22: out[n] = 0x22
            case 0x5C: out[n] = 0x5C
            case 0x0A: out[n] = UInt8(ascii: "n")
            case 0x0D: out[n] = UInt8(ascii: "r")
            case 0x09: out[n] = UInt8(ascii: "t")
            case 0x08: out[n] = UInt8(ascii: "b")
            case 0x0C: out[n] = UInt8(ascii: "f")
            default:
                out[n] = UInt8(ascii: "u")
                out[n + 1] = UInt8(ascii: "0")
                out[n + 2] = UInt8(ascii: "0")
                out[n + 3] = hexDigit(b >> 4)
                out[n + 4] = hexDigit(b & 0xF)
                n += 4
            }
            n += 1
        }
        if runStart < bytes.count, let base = bytes.baseAddress {
            (out + n).update(from: base + runStart, count: bytes.count - runStart)
            n += bytes.count - runStart
        }
        out[n] = UInt8(ascii: "\"")
        return n + 1
    }

    /// Collects what a number writes of itself at a pointer (at most `capacity` bytes;
    /// more is dropped, which a double's shortest form never needs).
    struct PointerSink: TextOutputStream {
        let base: UnsafeMutablePointer<UInt8>
        let capacity: Int
        var count = 0
        init(base: UnsafeMutablePointer<UInt8>, capacity: Int) {
            self.base = base
            self.capacity = capacity
        }
        mutating func write(_ string: String) {
            for b in string.utf8 where count < capacity {
                base[count] = b
                count += 1
            }
        }
        mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) {
            guard let src = buffer.baseAddress else { return }
            let n = min(buffer.count, capacity - count)
            (base + count).update(from: src, count: n)
            count += n
        }
    }

    /// Collects what a number writes of itself, straight into a byte array.
    struct ASCIISink: TextOutputStream {
        var bytes: [UInt8] = []
        mutating func write(_ string: String) { bytes.append(contentsOf: string.utf8) }
        mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) { bytes.append(contentsOf: buffer) }
    }

    /// Appends a JSON string literal with RFC 8259 escapes.
    @usableFromInline package static func writeString(_ value: String, into out: inout [UInt8]) {
        var value = value
        value.withUTF8 { writeString(utf8: $0, into: &out) }
    }

    /// Appends an object member's key and its colon (`"key":`), after a comma unless
    /// `first`.
    @usableFromInline package static func writeKey(_ key: String, first: Bool, into out: inout [UInt8]) {
        var key = key
        key.withUTF8 { k in
            if !quoteShort(k, before: first ? nil : UInt8(ascii: ","), after: UInt8(ascii: ":"), into: &out) {
                if !first { out.append(UInt8(ascii: ",")) }
                writeString(utf8: k, into: &out)
                out.append(UInt8(ascii: ":"))
            }
        }
    }

    /// Most strings are short and need no escapes: such a string is quoted on the stack,
    /// between `before` and `after` if given, and appended at once (one capacity check
    /// instead of three to five). False, with nothing written, for any other string.
    @inline(__always)
    static func quoteShort(_ bytes: UnsafeBufferPointer<UInt8>, before: UInt8?, after: UInt8?, into out: inout [UInt8])
        -> Bool
    {
        guard bytes.count <= 60, let base = bytes.baseAddress,
            !bytes.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C })
        else { return false }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { buf in
            guard let p = buf.baseAddress else { return }
            var n = 0
            if let before {
                p[n] = before
                n += 1
            }
            p[n] = UInt8(ascii: "\"")
            (p + n + 1).update(from: base, count: bytes.count)
            n += bytes.count + 1
            p[n] = UInt8(ascii: "\"")
            n += 1
            if let after {
                p[n] = after
                n += 1
            }
            out.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        }
        return true
    }

    /// Appends a JSON string literal for UTF-8 bytes that are already valid.
    @usableFromInline package static func writeString(utf8 bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        if quoteShort(bytes, before: nil, after: nil, into: &out) { return }
        out.append(UInt8(ascii: "\""))
        var runStart = 0
        for i in 0..<bytes.count {
            let b = bytes[i]
            if b >= 0x20 && b != 0x22 && b != 0x5C { continue }
            if i > runStart { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i])) }
            runStart = i + 1
            out.append(UInt8(ascii: "\\"))
            switch b {
            case 0x22: out.append(0x22)
            case 0x5C: out.append(0x5C)
            case 0x0A: out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(UInt8(ascii: "r"))
            case 0x09: out.append(UInt8(ascii: "t"))
            case 0x08: out.append(UInt8(ascii: "b"))
            case 0x0C: out.append(UInt8(ascii: "f"))
            default:
                out.append(UInt8(ascii: "u"))
                out.append(UInt8(ascii: "0"))
                out.append(UInt8(ascii: "0"))
                out.append(hexDigit(b >> 4))
                out.append(hexDigit(b & 0xF))
            }
        }
        if runStart < bytes.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...])) }
        out.append(UInt8(ascii: "\""))
    }

    @inline(__always)
    static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? v + 0x30 : v - 10 + 0x61 }
}
