import SluiceJSON

/// The key → key-index map of a ``WindowStateMachine``: an open-addressing hash table
/// (linear probing, backward-shift deletion) holding only indices and hashes; the keys
/// themselves stay in the machine's key array, which the caller compares against.
///
/// It exists because `Dictionary<JSON, _>` hashes every lookup with a freshly seeded
/// SipHash, a fifth of the cost of a keyed window's per-event path; ``KeyTable/hash(_:)``
/// hashes short ASCII strings (the usual key) with a few multiplications.
struct KeyTable {
    /// A key's bytes when they decide equality alone: an ASCII string of up to 15 bytes
    /// (its bytes and length) or an integer. Two exact fingerprints are equal exactly
    /// when their keys are; a key that has none (``inexact``) is compared the slow way.
    struct Fingerprint: Equatable {
        var low: UInt64
        var high: UInt64

        static let inexact = Fingerprint(low: 0, high: 0xFF << 56)
        /// Not a fingerprint: a key not hashed yet (``WindowStateMachine/KeyRef``).
        static let unhashed = Fingerprint(low: 0, high: 0xFE << 56)
        static let integerTag: UInt64 = 0x80 << 56

        var isExact: Bool { high >> 56 != 0xFF }

        /// The string of a fingerprint of string bytes (``KeyTable/shortPrint(_:)``).
        var shortString: String {
            let n = Int(high >> 56 & 0x0F)
            return String(unsafeUninitializedCapacity: n) { out in
                for i in 0..<n {
                    out[i] = UInt8(truncatingIfNeeded: i < 8 ? low >> (8 * UInt64(i)) : high >> (8 * UInt64(i - 8)))
                }
                return n
            }
        }

        /// For a fingerprint of string bytes (``KeyTable/shortPrint(_:)``): whether they are ASCII.
        var isASCII: Bool { (low | (high & 0x00FF_FFFF_FFFF_FFFF)) & 0x8080_8080_8080_8080 == 0 }

        /// True when a bucket holding key `k` with hash `bucketHash` and fingerprint
        /// `bucketPrint` holds the key looked up (`hash`, `print`): by the fingerprints
        /// when both are exact, else by asking `matches`.
        @inline(__always)
        static func bucket(
            _ bucketHash: UInt64, _ bucketPrint: Fingerprint, _ k: Int32, holds hash: UInt64, _ print: Fingerprint,
            _ matches: (Int32) -> Bool
        ) -> Bool {
            guard bucketHash == hash else { return false }
            if print.isExact && bucketPrint.isExact { return bucketPrint == print }
            return matches(k)
        }
    }

    /// A bucket: a key index (-1 when empty), its hash and fingerprint, and the window
    /// its last event went to (the tumbling fast path), side by side so that an in-order
    /// event of a known key reads one bucket and then its accumulators.
    struct Bucket: LinearProbeBucket {
        var hash: UInt64
        var print: Fingerprint
        var key: Int32
        /// The slot of the key's last event (-1: none) and that window's start.
        var lastSlot: Int32 = -1
        var lastStart: Int64 = 0

        init(hash: UInt64, print: Fingerprint = .inexact, key: Int32) {
            self.hash = hash
            self.print = print
            self.key = key
        }

        var isEmpty: Bool { key < 0 }
        var probeHash: Int { Int(truncatingIfNeeded: hash) }
        mutating func empty() { key = -1 }
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
        findBucket(hash: hash, print: .inexact, matches).map { buckets[$0].key }
    }

    /// The bucket of the key with hash `hash` and fingerprint `print`, or nil: keys whose
    /// fingerprints are both exact compare by them, others through `matches`.
    @inline(__always)
    func findBucket(hash: UInt64, print: Fingerprint, _ matches: (Int32) -> Bool) -> Int? {
        buckets.withUnsafeBufferPointer { buckets in
            var i = Int(truncatingIfNeeded: hash) & mask
            while true {
                let b = buckets[i]
                if b.key < 0 { return nil }
                if Fingerprint.bucket(b.hash, b.print, b.key, holds: hash, print, matches) { return i }
                i = (i + 1) & mask
            }
        }
    }

    /// The bucket at `i` (from ``findBucket(hash:print:_:)``, before the table changes).
    subscript(bucket i: Int) -> Bucket {
        @inline(__always) get { buckets[i] }
        @inline(__always) _modify { yield &buckets[i] }
    }

    /// Forgets that key index `k` (hash `hash`) last went to `slot`, if it did.
    mutating func forgetLast(hash: UInt64, _ k: Int32, slot: Int32) {
        guard let i = bucket(ofKey: k, hash: hash), buckets[i].lastSlot == slot else { return }
        buckets[i].lastSlot = -1
    }

    /// The bucket holding key index `k`, stored with hash `hash`, or nil.
    private func bucket(ofKey k: Int32, hash: UInt64) -> Int? {
        var i = Int(truncatingIfNeeded: hash) & mask
        while true {
            let b = buckets[i].key
            if b < 0 { return nil }
            if b == k { return i }
            i = (i + 1) & mask
        }
    }

    /// The first empty bucket of the probe run for `hash`.
    private func emptyBucket(for hash: UInt64) -> Int {
        var i = Int(truncatingIfNeeded: hash) & mask
        while buckets[i].key >= 0 { i = (i + 1) & mask }
        return i
    }

    /// Adds key index `k` with hash `hash` and fingerprint `print` (the key must not be
    /// present); returns its bucket.
    @discardableResult
    mutating func insert(hash: UInt64, print: Fingerprint = .inexact, _ k: Int32) -> Int {
        if (count + 1) * 2 > buckets.count { grow() }
        let i = emptyBucket(for: hash)
        buckets[i] = Bucket(hash: hash, print: print, key: k)
        count += 1
        return i
    }

    /// Removes key index `k`, stored with hash `hash`.
    mutating func remove(hash: UInt64, _ k: Int32) {
        guard let i = bucket(ofKey: k, hash: hash) else { return }
        count -= 1
        buckets.removeShifting(at: i, mask: mask)
    }

    private mutating func grow() {
        let old = buckets
        let n = old.count * 2
        buckets = Array(repeating: Bucket(hash: 0, key: -1), count: n)
        mask = n - 1
        for b in old where b.key >= 0 { buckets[emptyBucket(for: b.hash)] = b }
    }

    // MARK: Hashing

    /// The key's hash in this table and its ``Fingerprint``. Equal keys hash alike: an
    /// ASCII string of up to 15 bytes hashes its fingerprint's two words (read with two
    /// loads, not byte by byte), a longer ASCII string its bytes (FNV-1a), and any other
    /// string its canonical composition (NFC) the same way, so a string equal to a short
    /// ASCII one (`"\u{212A}"` is `"K"`) hashes as that one does. Other keys hash as
    /// ``JSONKeyHash/hash(_:)`` does. The hash is the table's own: nothing outside the
    /// process sees it.
    @inline(__always)
    static func hashAndPrint(_ key: JSON) -> (UInt64, Fingerprint) {
        switch key {
        case .string(let s):
            let r = s.utf8.withContiguousStorageIfAvailable { bytes -> (UInt64, Fingerprint)? in
                if bytes.count <= 15 {
                    let print = shortPrint(bytes)
                    guard print.isASCII else { return nil }
                    return (shortHash(print), print)
                }
                guard let h = JSONKeyHash.asciiHash(bytes) else { return nil }
                return (h, .inexact)
            }
            if let r, let r { return r }
            return (slowStringHash(s), .inexact)
        case .int(let i):
            return (JSONKeyHash.hash(key), Fingerprint(low: UInt64(bitPattern: i), high: Fingerprint.integerTag))
        default:
            return (JSONKeyHash.hash(key), .inexact)
        }
    }

    /// The fingerprint of up to 15 bytes: their bytes (little-endian, low word first) and
    /// their count in the top byte. (Whether they are ASCII is the caller's check.)
    @inline(__always)
    static func shortPrint(_ bytes: UnsafeBufferPointer<UInt8>) -> Fingerprint {
        let n = bytes.count
        guard n > 0, let base = bytes.baseAddress else { return Fingerprint(low: 0, high: 0) }
        // Two overlapping loads inside the bytes (no call to memcpy, nothing read past
        // them); the bytes they share land on the same bits.
        let p = UnsafeRawPointer(base)
        var low: UInt64 = 0
        var high: UInt64 = 0
        if n >= 8 {
            low = UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))
            // Bytes n-8..<n; bytes 8..<n (none when n == 8: a shift by 64 gives 0) to bit 0.
            high = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)) >> (8 * UInt64(16 - n))
        } else if n >= 4 {
            let a = UInt64(UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)))
            let b = UInt64(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)))
            low = a | b << (8 * UInt64(n - 4))
        } else {
            for i in 0..<n { low |= UInt64(base[i]) << (8 * UInt64(i)) }
        }
        return Fingerprint(low: low, high: high | UInt64(n) << 56)
    }

    /// The key of the JSON string at `o` in `bytes` when it is short (up to 15 bytes),
    /// ASCII and has no escapes, hashed from its bytes; nil otherwise. The same hash and
    /// fingerprint as ``hashAndPrint(_:)`` of the string's value. On the table, a
    /// struct: a static method of a class (`WindowStep`) made each caller load the
    /// class's metadata first.
    @inline(__always)
    static func shortStringKey(at o: Int, in bytes: UnsafeRawBufferPointer) -> WindowStateMachine.KeyRef? {
        guard let base = bytes.baseAddress, o >= 0, o < bytes.count, bytes[o] == UInt8(ascii: "\"") else {
            return nil
        }
        let start = o + 1
        if start + 16 <= bytes.count {
            // Sixteen bytes at once: the first quote, and no backslash or non-ASCII byte
            // before it. The string's bytes are the fingerprint (``shortPrint(_:)``
            // of them, which this equals): the words masked below the quote.
            let lo = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: start, as: UInt64.self))
            let hi = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: start + 8, as: UInt64.self))
            let badLow = zeroBytes(lo ^ 0x5C5C_5C5C_5C5C_5C5C) | lo
            let quotesLow = zeroBytes(lo ^ 0x2222_2222_2222_2222)
            let n: Int
            var low: UInt64
            var high: UInt64 = 0
            if quotesLow != 0 {
                // The quote's high bit is bit 8n + 7: the bytes below it are `below`.
                let count = quotesLow.trailingZeroBitCount &>> 3
                let below = (1 &<< UInt64(count &* 8)) &- 1
                guard badLow & below & 0x8080_8080_8080_8080 == 0 else { return nil }
                n = count
                low = lo & below
            } else {
                let quotesHigh = zeroBytes(hi ^ 0x2222_2222_2222_2222)
                guard quotesHigh != 0, badLow & 0x8080_8080_8080_8080 == 0 else { return nil }
                let count = quotesHigh.trailingZeroBitCount &>> 3
                let below = (1 &<< UInt64(count &* 8)) &- 1
                let badHigh = zeroBytes(hi ^ 0x5C5C_5C5C_5C5C_5C5C) | hi
                guard badHigh & below & 0x8080_8080_8080_8080 == 0 else { return nil }
                n = 8 &+ count
                low = lo
                high = hi & below
            }
            let print = Fingerprint(low: low, high: high | UInt64(n) &<< 56)
            return .init(hash: shortHash(print), shortString: print)
        }
        return shortStringKeyNearEnd(at: o, in: bytes)
    }

    /// ``shortStringKey(at:in:)`` of a string less than sixteen bytes before the end of
    /// `bytes`, byte by byte (out of line: the sixteen-byte case is inlined).
    @inline(never)
    static func shortStringKeyNearEnd(at o: Int, in bytes: UnsafeRawBufferPointer) -> WindowStateMachine.KeyRef? {
        guard let base = bytes.baseAddress else { return nil }
        let start = o + 1
        var n = -1
        var i = start
        while i < min(bytes.count, start + 16) {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                n = i - start
                break
            }
            if b == UInt8(ascii: "\\") || b >= 0x80 { return nil }
            i += 1
        }
        if n < 0 { return nil }
        let print = shortPrint(
            UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self) + start, count: n))
        return .init(hash: shortHash(print), shortString: print)
    }

    /// The high bit of each zero byte of `x` (exact: no borrow crosses bytes), and
    /// nothing else.
    @inline(__always)
    static func zeroBytes(_ x: UInt64) -> UInt64 {
        ~(((x & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7F7F_7F7F_7F7F_7F7F) | x) & 0x8080_8080_8080_8080
    }

    /// The hash of a short ASCII string, from its fingerprint.
    @inline(__always)
    static func shortHash(_ print: Fingerprint) -> UInt64 {
        var h = print.low &* 0x9E37_79B9_7F4A_7C15 ^ print.high
        h ^= h >> 29
        h = h &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 32
        return h
    }

    /// A string that is not ASCII (or not contiguous): hashed as its NFC form, which is
    /// what it compares equal by; as ``shortHash(_:)`` when that form is short ASCII.
    static func slowStringHash(_ s: String) -> UInt64 {
        let nfc = Array(s._nfcCodeUnits)
        return nfc.withUnsafeBufferPointer { bytes in
            if bytes.count <= 15 {
                let print = shortPrint(bytes)
                if print.isASCII { return shortHash(print) }
            }
            return JSONKeyHash.slowStringHash(s)
        }
    }

    /// ``hashAndPrint(_:)``'s hash: equal keys hash alike.
    @inline(__always)
    static func hash(_ key: JSON) -> UInt64 { hashAndPrint(key).0 }

}
