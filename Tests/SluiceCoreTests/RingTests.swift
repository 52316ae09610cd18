import Dispatch
import Foundation
import SluiceCore
import SluiceJSON
import Synchronization
import Testing

@Suite struct RingTests {
    @Test func fifoAcrossThreadsWithParking() {
        let ring = SPSCRing<Int>(capacity: 8)
        let n = 200_000
        let done = DispatchSemaphore(value: 0)
        let sum = Mutex(0)
        let consumer = Thread {
            var s = 0
            var expected = 0
            for _ in 0..<n {
                let v = ring.pop()
                if v != expected { s = -1_000_000_000 }
                expected += 1
                s += v
            }
            sum.withLock { $0 = s }
            done.signal()
        }
        consumer.start()
        for i in 0..<n { ring.push(i) }
        done.wait()
        #expect(sum.withLock { $0 } == n * (n - 1) / 2)
    }

    @Test func capacityIsABoundAndFullRingsRefusePushes() {
        let ring = SPSCRing<Int>(capacity: 5)
        #expect(ring.capacity == 8)
        for i in 0..<8 { #expect(ring.tryPush(i)) }
        #expect(!ring.tryPush(99))
        #expect(ring.tryPop() == 0)
        #expect(ring.tryPush(8))
        #expect(ring.count == 8)
    }

    /// A producer waiting on a full ring sleeps until the ring is half empty, then
    /// finishes its push: one wake-up per half ring, not one per element taken.
    @Test func aBlockedProducerWakesWhenTheRingIsHalfEmpty() {
        let ring = SPSCRing<Int>(capacity: 8)
        for i in 0..<8 { #expect(ring.tryPush(i)) }
        let pushed = Mutex(false)
        let done = DispatchSemaphore(value: 0)
        let producer = Thread {
            ring.push(8)
            pushed.withLock { $0 = true }
            done.signal()
        }
        producer.start()
        usleep(20_000)
        #expect(ring.tryPop() == 0)
        #expect(ring.tryPop() == 1)
        #expect(ring.tryPop() == 2)
        // Five left: more than half, so the producer still sleeps.
        usleep(50_000)
        #expect(!pushed.withLock { $0 })
        #expect(ring.tryPop() == 3)
        // Four left, half the ring: the producer is woken and pushes.
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(pushed.withLock { $0 })
        #expect((4...8).map { _ in ring.tryPop() } == [4, 5, 6, 7, 8])
    }

    @Test func closedRingsDropPushes() {
        let ring = SPSCRing<Int>(capacity: 2)
        ring.close()
        for i in 0..<10 { #expect(ring.tryPush(i)) }
        #expect(ring.tryPop() == nil)
    }
}

/// A sink that takes each batch slowly and records how many events were queued
/// upstream at the time: with a slow consumer, the source must be held back.
final class SlowSink: EventSink, @unchecked Sendable {
    let name = "slow"
    var seen = 0
    let onWrite: (Int) -> Void
    init(onWrite: @escaping (Int) -> Void) { self.onWrite = onWrite }
    func write(_ events: [Event]) throws {
        seen += events.count
        onWrite(seen)
        usleep(200)
    }
}

/// A source that counts what it has produced.
final class CountingSource: EventSource, @unchecked Sendable {
    let name = "in"
    let total: Int
    let batch: Int
    let produced = Atomic<Int>(0)
    init(total: Int, batch: Int) {
        self.total = total
        self.batch = batch
    }
    func run(_ out: SourceOutput) throws {
        var made = 0
        while made < total {
            let events = (0..<batch).map { Event(.int(Int64(made + $0))) }
            made += batch
            out.emit(events)
            produced.store(made, ordering: .sequentiallyConsistent)
        }
    }
}

@Suite struct BackpressureTests {
    @Test func aSlowSinkHoldsTheSourceBack() {
        let flow = Dataflow(ringCapacity: 4)
        let batch = 10
        let source = CountingSource(total: 20_000, batch: batch)
        let maxAhead = Mutex(0)
        let sink = SlowSink { seen in
            let ahead = source.produced.load(ordering: .sequentiallyConsistent) - seen
            maxAhead.withLock { $0 = max($0, ahead) }
        }
        let s = flow.addSource(source)
        let mid = flow.addStream(name: "main", chain: StepChain([]))
        let k = flow.addSink(sink)
        flow.connect(s, port: SourcePort.main, to: mid)
        flow.connect(mid, port: Dataflow.mainPort, to: k)
        let outcome = Execution(flow).wait()
        #expect(outcome == .completed)
        #expect(sink.seen == 20_000)
        // Two rings of 4 batches, one batch in each stage's hands, one being emitted:
        // never more than that many events between the source and the sink.
        let bound = (4 + 4 + 3) * batch
        #expect(maxAhead.withLock { $0 } <= bound, "source ran \(maxAhead.withLock { $0 }) events ahead")
    }
}
