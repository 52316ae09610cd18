import CSluiceShims
import SluiceJSON

/// Saga id → slot of a ``SagaStateMachine``: an open-addressing hash table (linear
/// probing, backward-shift deletion) of 8-byte buckets, each a slot and its id's 32-bit
/// hash; the ids themselves stay in the machine's records, which the caller compares
/// against.
///
/// It replaces a `Dictionary<JSON, Int>`, which hashed every reply's id with a freshly
/// seeded SipHash and took about three times the memory per saga; ``JSONKeyHash`` hashes
/// a short ASCII id with a few multiplications, consistently with `JSON`'s `==`.
struct SagaIndex {
    struct Bucket: LinearProbeBucket {
        var hash: UInt32
        /// The slot; -1 when the bucket is empty.
        var slot: Int32

        var isEmpty: Bool { slot < 0 }
        var probeHash: Int { Int(hash) }
        mutating func empty() { slot = -1 }
    }

    private var buckets: [Bucket]
    private var mask: Int
    /// Ids stored.
    private(set) var count = 0

    init() {
        buckets = Array(repeating: Bucket(hash: 0, slot: -1), count: 16)
        mask = 15
    }

    /// The hash of `id` the table uses (equal ids hash alike).
    @inline(__always)
    static func hash(_ id: JSON) -> UInt32 {
        let h = JSONKeyHash.hash(id)
        return UInt32(truncatingIfNeeded: h ^ (h >> 32))
    }

    /// The slot of the id with hash `hash` for which `matches(slot)` holds, or nil.
    @inline(__always)
    func find(hash: UInt32, _ matches: (Int) -> Bool) -> Int? {
        buckets.withUnsafeBufferPointer { b in
            var i = Int(hash) & mask
            while true {
                let e = b[i]
                if e.slot < 0 { return nil }
                if e.hash == hash && matches(Int(e.slot)) { return Int(e.slot) }
                i = (i + 1) & mask
            }
        }
    }

    // MARK: Prefetching (hints only, see `SagaStep.prefetchAhead()`)

    /// Starts loading the bucket where a lookup of `hash` begins.
    @inline(__always)
    func prefetch(hash: UInt32) {
        buckets.withUnsafeBufferPointer { b in
            guard let base = b.baseAddress else { return }
            sluice_prefetch(base + (Int(hash) & mask))
        }
    }

    /// The slot of the first of the few buckets from `hash`'s home that has that hash,
    /// without comparing ids (so perhaps another id's), or -1: where to start loading
    /// a saga's state before it is looked up.
    @inline(__always)
    func probableSlot(hash: UInt32) -> Int {
        buckets.withUnsafeBufferPointer { b in
            var i = Int(hash) & mask
            for _ in 0..<4 {
                let e = b[i]
                if e.slot < 0 { return -1 }
                if e.hash == hash { return Int(e.slot) }
                i = (i + 1) & mask
            }
            return -1
        }
    }

    /// Adds `slot` for an id with hash `hash` (the id must not be present).
    mutating func insert(hash: UInt32, slot: Int) {
        if (count + 1) * 2 > buckets.count { grow() }
        place(Bucket(hash: hash, slot: Int32(truncatingIfNeeded: slot)))
        count += 1
    }

    private mutating func place(_ e: Bucket) {
        var i = Int(e.hash) & mask
        while buckets[i].slot >= 0 { i = (i + 1) & mask }
        buckets[i] = e
    }

    /// Removes `slot`, stored for an id with hash `hash` (nothing when it is not there).
    mutating func remove(hash: UInt32, slot: Int) {
        var i = Int(hash) & mask
        while true {
            let s = buckets[i].slot
            if s < 0 { return }
            if Int(s) == slot { break }
            i = (i + 1) & mask
        }
        count -= 1
        buckets.removeShifting(at: i, mask: mask)
    }

    private mutating func grow() {
        let old = buckets
        let n = old.count * 2
        buckets = Array(repeating: Bucket(hash: 0, slot: -1), count: n)
        mask = n - 1
        for e in old where e.slot >= 0 { place(e) }
    }
}
