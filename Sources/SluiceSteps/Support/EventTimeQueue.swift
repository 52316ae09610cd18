/// An element of an ``EventTimeQueue``: it has an event time and an order.
protocol EventTimeOrdered {
    /// The element's event time (a timer's due time, an expiry, an event's time).
    var time: Int64 { get }

    /// True when `self` pops before `other`. A strict order that refines `time`
    /// (`a.time < b.time` implies `a.before(b)`). Make it total (break ties with an
    /// arrival or creation number) where the order of equal times matters: elements
    /// neither of which is before the other pop in an unspecified order.
    func before(_ other: Self) -> Bool
}

/// Elements released in the order of ``EventTimeOrdered/before(_:)``, earliest first: the
/// one ordered event-time queue of the steps (reorder's buffer, dedupe's expiries, the
/// window timers).
///
/// Elements pushed in order (each no earlier than the one pushed before it, as the times
/// of mostly in-order input are) queue in a FIFO and push and pop in O(1); the others go
/// to a binary min-heap (O(log n)). ``min`` is the earlier of the two fronts, the FIFO's
/// when they tie. Both live in contiguous arrays, so an element that holds no references
/// is moved without retains or releases.
struct EventTimeQueue<Element: EventTimeOrdered> {
    /// In order from `head` on.
    private var fifo: [Element] = []
    private var head = 0
    /// A binary min-heap: `heap[i]` is not after its children `2i+1` and `2i+2`.
    private var heap: [Element] = []

    init() {}

    /// Elements queued.
    var count: Int { fifo.count - head + heap.count }

    var isEmpty: Bool { head == fifo.count && heap.isEmpty }

    /// The earliest element, or nil when empty.
    var min: Element? {
        @inline(__always) get {
            if head < fifo.count {
                let f = fifo[head]
                if let h = heap.first, h.before(f) { return h }
                return f
            }
            return heap.first
        }
    }

    /// ``min``'s time, read where the element is (``min`` copies it: for an element
    /// that holds references, a retain and a release of each).
    var minTime: Int64? {
        @inline(__always) get {
            if head < fifo.count {
                if !heap.isEmpty, heap[0].before(fifo[head]) { return heap[0].time }
                return fifo[head].time
            }
            return heap.isEmpty ? nil : heap[0].time
        }
    }

    /// Calls `body` with every element, in no particular order (for snapshots).
    func forEach(_ body: (Element) -> Void) {
        for i in head..<fifo.count { body(fifo[i]) }
        for e in heap { body(e) }
    }

    /// Adds an element.
    @inline(__always)
    mutating func push(_ e: Element) {
        if head == fifo.count {
            if head > 0 {
                fifo.removeAll(keepingCapacity: true)
                head = 0
            }
            fifo.append(e)
        } else if !e.before(fifo[fifo.count - 1]) {
            fifo.append(e)
        } else {
            heapPush(e)
        }
    }

    /// Removes and returns the earliest element (``min``), or nil when empty.
    @discardableResult
    @inline(__always)
    mutating func popMin() -> Element? {
        if head < fifo.count {
            if let h = heap.first, h.before(fifo[head]) { return heapPop() }
            let f = fifo[head]
            head += 1
            // Drop the popped front once it is all or most of the array.
            if head == fifo.count {
                fifo.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 4096, head * 2 >= fifo.count {
                fifo.removeSubrange(0..<head)
                head = 0
            }
            return f
        }
        return heapPop()
    }

    /// Removes and returns the earliest element if its time is at most `limit`.
    @inline(__always)
    mutating func popMin(upTo limit: Int64) -> Element? {
        guard let m = min, m.time <= limit else { return nil }
        return popMin()
    }

    /// The element `d` places after ``min`` when everything queued was pushed in order
    /// (a hint for loading state early; nil otherwise, or when fewer are queued).
    @inline(__always)
    func inOrder(ahead d: Int) -> Element? {
        guard heap.isEmpty, head + d < fifo.count else { return nil }
        return fifo[head + d]
    }

    /// What `read` reads of ``inOrder(ahead:)``, the element lent where it is: not copied,
    /// so what it holds is not retained or released (a borrowing closure parameter
    /// still copied it). `read` must not keep the pointer.
    @inline(__always)
    func inOrder<R>(ahead d: Int, _ read: (UnsafePointer<Element>) -> R) -> R? {
        guard heap.isEmpty, head + d < fifo.count else { return nil }
        return fifo.withUnsafeBufferPointer { b in b.baseAddress.map { read($0 + (head + d)) } }
    }

    /// Removes every element.
    mutating func removeAll() {
        fifo.removeAll(keepingCapacity: true)
        head = 0
        heap.removeAll(keepingCapacity: true)
    }

    // MARK: Heap

    // The sifts move elements through a hole instead of swapping them, so an element
    // that holds references is never retained or released on the way.

    /// Sifts `e` up from the end: it passes each parent it is strictly before.
    private mutating func heapPush(_ e: Element) {
        heap.append(e)
        heap.withUnsafeMutableBufferPointer { h in
            guard let base = h.baseAddress else { return }
            var i = h.count - 1
            let x = (base + i).move()
            while i > 0 {
                let p = (i - 1) / 2
                guard x.before(base[p]) else { break }
                (base + i).moveInitialize(from: base + p, count: 1)
                i = p
            }
            (base + i).initialize(to: x)
        }
    }

    /// Removes the root and sifts the last element down from it: at each level the
    /// earlier child (the right one only if strictly before the left) moves up while it
    /// is strictly before the element, as the textbook swap-based sift does.
    private mutating func heapPop() -> Element? {
        guard let last = heap.popLast() else { return nil }
        if heap.isEmpty { return last }
        return heap.withUnsafeMutableBufferPointer { h -> Element? in
            guard let base = h.baseAddress else { return nil }
            let top = base.move()
            let n = h.count
            var i = 0
            while true {
                let l = 2 * i + 1
                if l >= n { break }
                let r = l + 1
                let c = r < n && base[r].before(base[l]) ? r : l
                guard base[c].before(last) else { break }
                (base + i).moveInitialize(from: base + c, count: 1)
                i = c
            }
            (base + i).initialize(to: last)
            return top
        }
    }
}
