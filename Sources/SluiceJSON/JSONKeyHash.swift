/// A fast 64-bit hash of JSON values used as keys (window keys, partition keys),
/// consistent with `JSON`'s `==`: equal values hash alike, whatever their spelling in the
/// input, on every thread and in every process (so partitions and windows agree, and a
/// checkpoint's key groups name the same keys when a run resumes: docs/checkpoints.md).
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
            return finish(structural(key))
        }
    }

    /// The other values (not Swift's `hashValue`, which is seeded per process): their
    /// parts' hashes combined in order, a double by its bits (both zeros alike, as they
    /// are equal).
    @usableFromInline static func structural(_ key: JSON) -> UInt64 {
        switch key {
        case .null: return 0x6E75_6C6C
        case .bool(let b): return b ? 0x7472_7565 : 0x6661_6C73
        case .int, .string: return hash(key)
        case .double(let d): return (d == 0 ? 0 : d.bitPattern) &* 0x9E37_79B9_7F4A_7C15 ^ 0x2
        case .array(let a):
            var h: UInt64 = 0x6172_7261_79 ^ UInt64(a.count)
            for v in a { h = (h ^ hash(v)) &* 0x0000_0100_0000_01b3 }
            return h
        case .object(let o):
            var h: UInt64 = 0x6F62_6A65_6374 ^ UInt64(o.count)
            for (k, v) in o {
                h = (h ^ hash(.string(k))) &* 0x0000_0100_0000_01b3
                h = (h ^ hash(v)) &* 0x0000_0100_0000_01b3
            }
            return h
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

    /// Non-ASCII (or non-contiguous) strings: FNV-1a over the UTF-8 of their canonical
    /// composition (NFC), as strings are equal exactly when their NFC forms are. A string
    /// whose NFC form is ASCII (`\u{212A}` is `K`) hashes as that ASCII string does.
    @usableFromInline package static func slowStringHash(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s._nfcCodeUnits { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
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
