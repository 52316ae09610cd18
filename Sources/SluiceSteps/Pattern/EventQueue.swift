import SluiceCore

/// Events waiting for the watermark, released in event-time order, equal times in arrival
/// order (a stable sort, as Flink CEP's buffer by timestamp).
///
/// Events that arrive in time order (the usual case) go to a FIFO; the few that arrive
/// out of order go to a binary heap; ``popReady(upTo:)`` merges the two. The FIFO and
/// the heap hold plain entries that name the event's slot in the step's ``SharedBuffer``,
/// so reordering them moves a few integers and never retains or releases an event.
struct EventQueue {
    struct Entry {
        var time: Int64
        var arrival: Int64
        var key: Int32
        /// The event's slot in the step's ``SharedBuffer`` (held by the queue until the
        /// entry is popped), or -1 when the event was not stored.
        var slot: Int32
        /// The conditions the event satisfies, one bit per condition evaluated on arrival
        /// (see ``PatternStep``).
        var mask: UInt64
        /// The conditions evaluated on arrival (the others are evaluated when matched).
        var known: UInt64

        @inline(__always)
        func before(_ o: Entry) -> Bool { time < o.time || (time == o.time && arrival < o.arrival) }
    }

    private var fifo: [Entry] = []
    private var head = 0
    private var heap: [Entry] = []
    private var arrivals: Int64 = 0

    /// Events waiting.
    var count: Int { fifo.count - head + heap.count }

    /// Adds an event, stored in `slot` of the step's ``SharedBuffer`` (-1: not stored,
    /// for an event no partial match can take).
    @inline(__always)
    mutating func push(time: Int64, key: Int32, mask: UInt64, known: UInt64, slot: Int32) {
        arrivals += 1
        let e = Entry(time: time, arrival: arrivals, key: key, slot: slot, mask: mask, known: known)
        if head == fifo.count || fifo[fifo.count - 1].time <= time {
            if head == fifo.count, head > 0 {
                fifo.removeAll(keepingCapacity: true)
                head = 0
            }
            fifo.append(e)
        } else {
            heapPush(e)
        }
    }

    /// The entry `d` places after the next one in arrival order, when the events in
    /// between arrived in time order (a hint for loading its state early; nil otherwise).
    @inline(__always)
    func peek(ahead d: Int) -> Entry? {
        guard heap.isEmpty, head + d < fifo.count else { return nil }
        return fifo[head + d]
    }

    /// Removes and returns the earliest entry with time ≤ `limit`, if any.
    mutating func popReady(upTo limit: Int64) -> Entry? {
        let hasFifo = head < fifo.count
        let takeFifo: Bool
        if heap.isEmpty {
            guard hasFifo else { return nil }
            takeFifo = true
        } else if hasFifo {
            takeFifo = fifo[head].before(heap[0])
        } else {
            takeFifo = false
        }
        if takeFifo {
            guard fifo[head].time <= limit else { return nil }
            let a = fifo[head]
            head += 1
            if head == fifo.count || head > 4096 && head * 2 > fifo.count {
                fifo.removeFirst(head)
                head = 0
            }
            return a
        }
        guard heap[0].time <= limit else { return nil }
        return heapPop()
    }

    private mutating func heapPush(_ e: Entry) {
        heap.append(e)
        var i = heap.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if heap[i].before(heap[p]) {
                heap.swapAt(i, p)
                i = p
            } else {
                break
            }
        }
    }

    private mutating func heapPop() -> Entry? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if heap.isEmpty { return top }
        heap[0] = last
        var i = 0
        let n = heap.count
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var m = i
            if l < n, heap[l].before(heap[m]) { m = l }
            if r < n, heap[r].before(heap[m]) { m = r }
            if m == i { break }
            heap.swapAt(i, m)
            i = m
        }
        return top
    }
}

/// A min-heap of (deadline, key) pairs: when each key's earliest partial match expires.
struct DeadlineHeap {
    private var items: [(deadline: Int64, key: Int32)] = []

    /// The earliest deadline.
    var minDeadline: Int64? { items.first?.deadline }

    var isEmpty: Bool { items.isEmpty }

    mutating func push(_ deadline: Int64, _ key: Int32) {
        items.append((deadline, key))
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if items[i].deadline < items[p].deadline {
                items.swapAt(i, p)
                i = p
            } else {
                break
            }
        }
    }

    /// Removes and returns the earliest entry if its deadline is at most `limit`.
    mutating func popDue(upTo limit: Int64) -> (deadline: Int64, key: Int32)? {
        guard let top = items.first, top.deadline <= limit else { return nil }
        return pop()
    }

    mutating func pop() -> (deadline: Int64, key: Int32)? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if items.isEmpty { return top }
        // Sift `last` down from the root: at each level the smaller child (the right one
        // only if strictly smaller) moves up while it is strictly before `last`, which is
        // the textbook swap-based sift, so equal deadlines pop in the same order; done
        // in place without bounds checks, the child chosen without a branch.
        items.withUnsafeMutableBufferPointer { h in
            let n = h.count
            var i = 0
            while true {
                let l = 2 * i + 1
                if l >= n { break }
                let r = l + 1
                let c = r < n && h[r].deadline < h[l].deadline ? r : l
                if !(h[c].deadline < last.deadline) { break }
                h[i] = h[c]
                i = c
            }
            h[i] = last
        }
        return top
    }
}
