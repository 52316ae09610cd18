/// Compact JSON output: no insignificant whitespace, integers as integers, doubles in
/// the shortest form that reads back to the same value, strings escaped per RFC 8259
/// (`"`, `\`, and control characters; everything else as UTF-8).
///
/// JSON has no NaN or infinity; a double that is not finite is written as `null`.
public enum JSONWriter {
    /// Appends the compact text of `value` to `out`.
    public static func write(_ value: JSON, into out: inout [UInt8]) {
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
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                writeString(k, into: &out)
                out.append(UInt8(ascii: ":"))
                write(v, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// The compact text of `value` as a string.
    public static func string(_ value: JSON) -> String {
        var out: [UInt8] = []
        write(value, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always)
    static func appendStatic(_ s: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// Appends a decimal integer.
    public static func writeInt(_ value: Int64, into out: inout [UInt8]) {
        if value >= 0 && value < 10 {
            out.append(UInt8(value) + 0x30)
            return
        }
        var mag = value.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buf in
            var i = 20
            while mag > 0 {
                i -= 1
                buf[i] = UInt8(mag % 10) + 0x30
                mag /= 10
            }
            if value < 0 { out.append(UInt8(ascii: "-")) }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[i..<20]))
        }
    }

    /// Appends a double in shortest round-trip form (`12.5`, `1e+20`, `5.0`), or `null`.
    public static func writeDouble(_ value: Double, into out: inout [UInt8]) {
        guard value.isFinite else {
            appendStatic("null", to: &out)
            return
        }
        // Swift's description is the shortest round-trip form and keeps a ".0" on whole
        // numbers, so a double stays a double when read back.
        var s = value.description
        s.withUTF8 { out.append(contentsOf: $0) }
    }

    /// Appends a JSON string literal with RFC 8259 escapes.
    public static func writeString(_ value: String, into out: inout [UInt8]) {
        var value = value
        value.withUTF8 { writeString(utf8: $0, into: &out) }
    }

    /// Appends a JSON string literal for UTF-8 bytes that are already valid.
    public static func writeString(utf8 bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
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
