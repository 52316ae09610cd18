import SluiceJSON

/// A 64-bit hash of a JSON value that is the same in every process (Swift's `Hasher` is
/// seeded per process, which would make sketch estimates vary between runs): FNV-1a over
/// the compact JSON text, finished with MurmurHash3's 64-bit mixer.
@usableFromInline package enum StableHash {
    /// The hash of `value`; `scratch` is a reusable buffer.
    @usableFromInline package static func hash(_ value: JSON, scratch: inout [UInt8]) -> UInt64 {
        scratch.removeAll(keepingCapacity: true)
        JSONWriter.write(value, into: &scratch)
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in scratch {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return mix(h)
    }

    /// MurmurHash3's finaliser: spreads every input bit over the whole word.
    @inline(__always)
    @usableFromInline package static func mix(_ x: UInt64) -> UInt64 {
        var k = x
        k ^= k >> 33
        k = k &* 0xff51_afd7_ed55_8ccd
        k ^= k >> 33
        k = k &* 0xc4ce_b9fe_1a85_ec53
        k ^= k >> 33
        return k
    }
}
