import PropertyBased
import Testing

@testable import SluiceSteps

/// An element ordered by time, then by push order (a total order, as the steps use).
private struct Item: EventTimeOrdered, Equatable {
    var time: Int64
    var seq: Int

    func before(_ o: Item) -> Bool { time < o.time || (time == o.time && seq < o.seq) }
}

/// An element ordered by time only, to check the heap's tie order on its own.
private struct Plain: EventTimeOrdered {
    var time: Int64
    var tag: Int

    func before(_ o: Plain) -> Bool { time < o.time }
}

@Suite struct EventTimeQueueTests {
    @Test func popsInTimeThenPushOrder() {
        var q = EventTimeQueue<Item>()
        #expect(q.isEmpty && q.min == nil && q.popMin() == nil)
        for (i, t) in [30, 10, 20, 10, 40, 40, 5].enumerated() { q.push(Item(time: Int64(t), seq: i)) }
        #expect(q.count == 7)
        #expect(q.min == Item(time: 5, seq: 6))
        var out: [Item] = []
        while let e = q.popMin() { out.append(e) }
        #expect(out.map(\.seq) == [6, 1, 3, 2, 0, 4, 5])
        #expect(q.isEmpty && q.count == 0)
    }

    @Test func popUpToStopsAtTheLimit() {
        var q = EventTimeQueue<Item>()
        for (i, t) in [1, 5, 3, 9, 7].enumerated() { q.push(Item(time: Int64(t), seq: i)) }
        var out: [Int64] = []
        while let e = q.popMin(upTo: 5) { out.append(e.time) }
        #expect(out == [1, 3, 5])
        #expect(q.count == 2 && q.min?.time == 7)
        q.removeAll()
        #expect(q.isEmpty && q.popMin(upTo: .max) == nil)
    }

    @Test func inOrderLooksAheadOnlyWhileEverythingCameInOrder() {
        var q = EventTimeQueue<Item>()
        for i in 0..<5 { q.push(Item(time: Int64(i * 10), seq: i)) }
        #expect(q.inOrder(ahead: 0)?.seq == 0)
        #expect(q.inOrder(ahead: 4)?.seq == 4)
        #expect(q.inOrder(ahead: 5) == nil)
        q.popMin()
        #expect(q.inOrder(ahead: 1)?.seq == 2)
        q.push(Item(time: 1, seq: 9))  // out of order
        #expect(q.inOrder(ahead: 0) == nil)
        #expect(q.popMin()?.seq == 9)
        #expect(q.inOrder(ahead: 0)?.seq == 1)
    }

    /// A long in-order run drops its popped front as it goes, and stays correct across it.
    @Test func longRunsCompactTheFIFO() {
        var q = EventTimeQueue<Item>()
        var next = 0
        var popped: [Int] = []
        for round in 0..<3 {
            for _ in 0..<10_000 {
                q.push(Item(time: Int64(next), seq: next))
                next += 1
            }
            q.push(Item(time: Int64(round), seq: -1 - round))  // one late element
            for _ in 0..<9_000 { if let e = q.popMin() { popped.append(e.seq) } }
        }
        while let e = q.popMin() { popped.append(e.seq) }
        let want = (0..<next).map { $0 } + [-1, -2, -3]
        #expect(popped.sorted() == want.sorted())
        #expect(popped.count == next + 3)
        // Each late element came out first in its round.
        #expect(popped[0] == -1)
    }

    /// Ties under an order that is not total pop as the textbook swap-based binary heap
    /// pops them (what the hand-written heaps this queue replaced did).
    @Test func tiesPopAsTheTextbookHeapDoes() async {
        await propertyCheck(input: Gen.int64(in: 0...3).array(of: 0...40)) { times in
            var q = EventTimeQueue<Plain>()
            var ref = SwapHeap()
            // Out of order from the start, so everything but the first goes to the heap.
            q.push(Plain(time: 100, tag: -1))
            for (i, t) in times.enumerated() {
                q.push(Plain(time: t, tag: i))
                ref.push(Plain(time: t, tag: i))
            }
            var got: [Int] = []
            while let e = q.popMin(), e.tag >= 0 { got.append(e.tag) }
            var want: [Int] = []
            while let e = ref.pop() { want.append(e.tag) }
            #expect(got == want)
        }
    }

    /// Any mix of pushes and pops releases the same elements as a stable sort would.
    @Test func matchesASortedReference() async {
        // nil: pop; a time: push. Times in a small range make ties and disorder common.
        let ops = Gen.int64(in: -10...30).optional(valueRate: 0.6).array(of: 0...300)
        await propertyCheck(count: 200, input: ops, Gen.int64(in: -5...35)) { ops, limit in
            var q = EventTimeQueue<Item>()
            var ref: [Item] = []
            for (i, op) in ops.enumerated() {
                if let t = op {
                    q.push(Item(time: t, seq: i))
                    ref.append(Item(time: t, seq: i))
                } else {
                    let want = ref.min(by: { $0.before($1) })
                    if let want { ref.removeAll { $0 == want } }
                    #expect(q.min == want)
                    #expect(q.popMin() == want)
                }
                #expect(q.count == ref.count)
            }
            var got: [Item] = []
            while let e = q.popMin(upTo: limit) { got.append(e) }
            let sorted = ref.sorted { $0.before($1) }
            #expect(got == sorted.filter { $0.time <= limit })
            #expect(q.count == sorted.count - got.count)
        }
    }
}

/// The swap-based binary heap of the textbook, as a reference for tie order.
private struct SwapHeap {
    var items: [Plain] = []

    mutating func push(_ e: Plain) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard items[i].before(items[p]) else { break }
            items.swapAt(i, p)
            i = p
        }
    }

    mutating func pop() -> Plain? {
        guard !items.isEmpty else { return nil }
        if items.count == 1 { return items.removeLast() }
        let top = items[0]
        items[0] = items.removeLast()
        var i = 0
        let n = items.count
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var m = i
            if l < n, items[l].before(items[m]) { m = l }
            if r < n, items[r].before(items[m]) { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
        return top
    }
}
