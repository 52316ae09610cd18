/// A fast 64-bit hash of JSON values used as keys (window keys, partition keys),
/// consistent with `JSON`'s `==`: equal values hash alike, whatever their spelling in the
/// input, and alike on every thread of a process (so partitions and windows agree).
@usableFromInline package enum JSONKeyHash {
    /// A hash consistent with `JSON`'s `==`: equal values hash alike. Strings compare by
    /// canonical equivalence, so a string hashes as the bytes of its normalized form when
    /// that is ASCII (nearly always), else through Swift's own (normalizing) string hash.
    @inline(__always)
    @usableFromInline package static func hash(_ key: JSON) -> UInt64 {
        switch key {
        case .string(let s):
            if let h = s.utf8.withContiguousStorageIfAvailable({ asciiHash($0) }), let h { return h }
            return slowStringHash(s)
        case .int(let i):
            return finish(UInt64(bitPattern: i) &* 0x9E37_79B9_7F4A_7C15 ^ 0x1)
        default:
            return finish(UInt64(bitPattern: Int64(key.hashValue)))
        }
    }

    /// FNV-1a over ASCII bytes, finished with a multiply-xorshift; nil at the first non-ASCII byte.
    @inline(__always)
    @usableFromInline package static func asciiHash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64? {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            if b >= 0x80 { return nil }
            h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3
        }
        return finish(h)
    }

    /// Non-ASCII (or non-contiguous) strings. Only three scalars decompose canonically to
    /// ASCII (KELVIN SIGN to `K`, GREEK QUESTION MARK to `;`, GREEK VARIA to a backtick),
    /// so a string whose other scalars are all ASCII equals exactly the ASCII string with
    /// those replaced, and hashes as it. Any other string equals no ASCII string.
    @usableFromInline package static func slowStringHash(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for u in s.unicodeScalars {
            let b: UInt32
            switch u.value {
            case 0..<0x80: b = u.value
            case 0x212A: b = 0x4B
            case 0x037E: b = 0x3B
            case 0x1FEF: b = 0x60
            default: return finish(UInt64(bitPattern: Int64(s.hashValue)) ^ 0x5bd1_e995)
            }
            h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3
        }
        return finish(h)
    }

    @inline(__always)
    @usableFromInline
    static func finish(_ x: UInt64) -> UInt64 {
        var h = x
        h ^= h >> 33
        h = h &* 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        return h
    }

    /// The hash of the JSON string literal at the start of `bytes` (which begin at its
    /// opening quote), read in place: nil unless it is plain ASCII without escapes (the
    /// caller then parses the value and uses ``hash(_:)``, which agrees).
    @inline(__always)
    @usableFromInline package static func rawString(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard bytes.count >= 2, bytes[0] == 0x22 else { return nil }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        var i = 1
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x22 { return finish(h) }
            if b == 0x5C || b >= 0x80 { return nil }
            h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3
            i += 1
        }
        return nil
    }
}
