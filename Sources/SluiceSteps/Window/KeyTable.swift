import SluiceJSON

/// The key → key-index map of a ``WindowStateMachine``: an open-addressing hash table
/// (linear probing, backward-shift deletion) holding only indices and hashes; the keys
/// themselves stay in the machine's key array, which the caller compares against.
///
/// It exists because `Dictionary<JSON, _>` hashes every lookup with a freshly seeded
/// SipHash, a fifth of the cost of a keyed window's per-event path; ``KeyTable/hash(_:)``
/// hashes short ASCII strings (the usual key) with a few multiplications.
struct KeyTable {
    /// A bucket: a key index (-1 when empty) and its hash, side by side so a probe
    /// touches one cache line.
    struct Bucket {
        var hash: UInt64
        var key: Int32
    }

    private var buckets: [Bucket]
    private var mask: Int
    /// Keys stored.
    private(set) var count = 0

    init() {
        buckets = Array(repeating: Bucket(hash: 0, key: -1), count: 16)
        mask = 15
    }

    /// The index of the key with hash `hash` for which `matches` holds, or nil.
    @inline(__always)
    func find(hash: UInt64, _ matches: (Int32) -> Bool) -> Int32? {
        var i = Int(truncatingIfNeeded: hash) & mask
        while true {
            let b = buckets[i]
            if b.key < 0 { return nil }
            if b.hash == hash, matches(b.key) { return b.key }
            i = (i + 1) & mask
        }
    }

    /// Adds key index `k` with hash `hash` (the key must not be present).
    mutating func insert(hash: UInt64, _ k: Int32) {
        if (count + 1) * 2 > buckets.count { grow() }
        var i = Int(truncatingIfNeeded: hash) & mask
        while buckets[i].key >= 0 { i = (i + 1) & mask }
        buckets[i] = Bucket(hash: hash, key: k)
        count += 1
    }

    /// Removes key index `k`, stored with hash `hash`.
    mutating func remove(hash: UInt64, _ k: Int32) {
        var i = Int(truncatingIfNeeded: hash) & mask
        while true {
            let b = buckets[i].key
            if b < 0 { return }
            if b == k { break }
            i = (i + 1) & mask
        }
        count -= 1
        // Backward shift: move later entries of the probe run into the hole unless their
        // home bucket lies cyclically in (hole, entry].
        var j = i
        while true {
            j = (j + 1) & mask
            if buckets[j].key < 0 { break }
            let home = Int(truncatingIfNeeded: buckets[j].hash) & mask
            let stays = i <= j ? (i < home && home <= j) : (i < home || home <= j)
            if stays { continue }
            buckets[i] = buckets[j]
            i = j
        }
        buckets[i].key = -1
    }

    private mutating func grow() {
        let old = buckets
        let n = old.count * 2
        buckets = Array(repeating: Bucket(hash: 0, key: -1), count: n)
        mask = n - 1
        for b in old where b.key >= 0 {
            var j = Int(truncatingIfNeeded: b.hash) & mask
            while buckets[j].key >= 0 { j = (j + 1) & mask }
            buckets[j] = b
        }
    }

    // MARK: Hashing

    /// A hash consistent with `JSON`'s `==`: equal values hash alike. Strings compare by
    /// canonical equivalence, so a string hashes as the bytes of its normalized form when
    /// that is ASCII (nearly always), else through Swift's own (normalizing) string hash.
    @inline(__always)
    static func hash(_ key: JSON) -> UInt64 {
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
    static func asciiHash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64? {
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
    static func slowStringHash(_ s: String) -> UInt64 {
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
    static func finish(_ x: UInt64) -> UInt64 {
        var h = x
        h ^= h >> 33
        h = h &* 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        return h
    }
}
