import Atomics

/// A bounded, lock-free single-producer single-consumer queue.
///
/// ```
///   producer ──push──▶ [ slot | slot | slot | ... ] ──pop──▶ consumer
///                       tail ▲                head ▲
/// ```
/// `tail` is written only by the producer and `head` only by the consumer; each side
/// reads the other's index to know how much room or data there is. When the ring is full
/// the producer parks on its ``Parker`` and the consumer wakes it once the ring is half empty;
/// when empty, the consumer parks. That parking is Sluice's backpressure: a slow sink
/// holds its rings full and so holds the source still, and memory stays bounded by the
/// rings' capacities.
@usableFromInline package final class SPSCRing<Element: Sendable>: @unchecked Sendable {
    // Safety: `slots[i]` is written by the producer only while `i` is outside
    // `head..<tail` and read by the consumer only inside it; the acquire/release (here
    // sequentially consistent) index updates order those accesses.
    private let slots: UnsafeMutablePointer<Element?>
    private let mask: Int
    /// Number of elements the ring holds at most.
    @usableFromInline package let capacity: Int
    private let head = ManagedAtomic<Int>(0)
    private let tail = ManagedAtomic<Int>(0)
    private let closed = ManagedAtomic<Bool>(false)
    /// Where the consumer sleeps; may be shared by all rings one consumer reads.
    @usableFromInline package let consumerParker: Parker
    /// Where the producer sleeps; may be shared by all rings one producer writes.
    @usableFromInline package let producerParker: Parker

    /// A ring of at least `capacity` elements (rounded up to a power of two).
    @usableFromInline package init(capacity: Int, consumerParker: Parker = Parker(), producerParker: Parker = Parker())
    {
        var c = 2
        while c < capacity { c <<= 1 }
        self.capacity = c
        mask = c - 1
        slots = .allocate(capacity: c)
        slots.initialize(repeating: nil, count: c)
        self.consumerParker = consumerParker
        self.producerParker = producerParker
    }

    deinit {
        slots.deinitialize(count: capacity)
        slots.deallocate()
    }

    /// Elements currently queued (a snapshot).
    @usableFromInline package var count: Int {
        tail.load(ordering: .sequentiallyConsistent) - head.load(ordering: .sequentiallyConsistent)
    }

    /// Called by a consumer that will read no more (a failed sink): from now on pushes
    /// are accepted and dropped, so producers never wait on it again.
    @usableFromInline package func close() {
        closed.store(true, ordering: .sequentiallyConsistent)
        while tryPop() != nil {}
        producerParker.unpark()
    }

    /// True after ``close()``.
    @usableFromInline package var isClosed: Bool { closed.load(ordering: .relaxed) }

    /// Adds `element` if there is room; producer side only.
    @inline(__always)
    @usableFromInline package func tryPush(_ element: Element) -> Bool {
        if closed.load(ordering: .relaxed) { return true }
        let t = tail.load(ordering: .relaxed)
        if t - head.load(ordering: .sequentiallyConsistent) >= capacity { return false }
        slots[t & mask] = element
        tail.store(t + 1, ordering: .sequentiallyConsistent)
        consumerParker.unpark()
        return true
    }

    /// Removes the oldest element if any; consumer side only.
    ///
    /// A producer that found the ring full is woken only once the ring has drained to
    /// half its capacity, not after every element: woken after every element, it would
    /// push one, find the ring full again and sleep again, a pair of context switches per
    /// element on a machine whose cores are all busy. (No wake-up is lost: the producer
    /// sleeps only on a full ring, and the consumer checks for a sleeper on the element
    /// that brings it to half.)
    @inline(__always)
    @usableFromInline package func tryPop() -> Element? {
        let h = head.load(ordering: .relaxed)
        let t = tail.load(ordering: .sequentiallyConsistent)
        if h == t { return nil }
        let e = slots[h & mask].take()
        head.store(h + 1, ordering: .sequentiallyConsistent)
        if t - (h + 1) <= capacity / 2 { producerParker.unpark() }
        return e
    }

    /// Adds `element`, sleeping while the ring is full.
    @usableFromInline package func push(_ element: Element) {
        while true {
            if tryPush(element) { return }
            producerParker.prepare()
            if count < capacity {
                producerParker.cancel()
                continue
            }
            producerParker.park()
        }
    }

    /// Removes the oldest element, sleeping while the ring is empty.
    @usableFromInline package func pop() -> Element {
        while true {
            if let e = tryPop() { return e }
            consumerParker.prepare()
            if count > 0 {
                consumerParker.cancel()
                continue
            }
            consumerParker.park()
        }
    }
}
