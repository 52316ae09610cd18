import CSluiceShims
import SluiceJSON

/// The key → key-index map of a ``PatternStep``: an open-addressing hash table (linear
/// probing; keys are never removed) of 32-byte buckets, two per cache line, each holding
/// a key index, its hash and its ``KeyTable/Fingerprint``.
///
/// A short ASCII string or integer key (the usual kind) is compared by its fingerprint
/// in the bucket, so finding a known key reads one cache line, which the step asks for
/// early (``prefetch(hash:)``) and reads after evaluating the event's conditions. Other
/// keys are compared by the caller against the step's key values.
///
/// `~Copyable`: its buckets are a ``RawColumn``, freed when the table goes.
struct PatternKeyTable: ~Copyable {
    struct Bucket {
        var hash: UInt64
        var print: KeyTable.Fingerprint
        /// The key index; -1 when the bucket is empty.
        var key: Int32
    }

    private var buckets: RawColumn<Bucket>
    private var mask: Int
    /// Keys stored.
    private(set) var count = 0

    init() {
        buckets = Self.emptyBuckets(16)
        mask = 15
    }

    private static func emptyBuckets(_ n: Int) -> RawColumn<Bucket> {
        var b = RawColumn<Bucket>(capacity: n, alignment: 64)
        for _ in 0..<n { b.append(Bucket(hash: 0, print: .inexact, key: -1)) }
        return b
    }

    /// Starts loading the bucket where the probe for `hash` begins.
    @inline(__always)
    func prefetch(hash: UInt64) {
        sluice_prefetch(buckets.base + (Int(truncatingIfNeeded: hash) & mask))
    }

    /// The index of the key with hash `hash` and fingerprint `print`, or nil: keys whose
    /// fingerprints are both exact compare by them, others through `matches`.
    @inline(__always)
    func find(hash: UInt64, print: KeyTable.Fingerprint, _ matches: (Int32) -> Bool) -> Int32? {
        var i = Int(truncatingIfNeeded: hash) & mask
        while true {
            let b = buckets[i]
            if b.key < 0 { return nil }
            if KeyTable.Fingerprint.bucket(b.hash, b.print, b.key, holds: hash, print, matches) { return b.key }
            i = (i + 1) & mask
        }
    }

    /// Adds key index `k` with hash `hash` and fingerprint `print` (the key must not be present).
    mutating func insert(hash: UInt64, print: KeyTable.Fingerprint, _ k: Int32) {
        if (count + 1) * 2 > mask + 1 { grow() }
        place(Bucket(hash: hash, print: print, key: k))
        count += 1
    }

    private func place(_ b: Bucket) {
        var i = Int(truncatingIfNeeded: b.hash) & mask
        while buckets[i].key >= 0 { i = (i + 1) & mask }
        buckets[i] = b
    }

    private mutating func grow() {
        let n = (mask + 1) * 2
        var old = Self.emptyBuckets(n)
        swap(&old, &buckets)
        mask = n - 1
        for i in 0..<old.count where old[i].key >= 0 { place(old[i]) }
    }
}
