import Foundation
import SluiceCore
import SluiceJSON
import Synchronization
import Testing

/// A stateless step that takes its time on one partition's thread, so that the other
/// partition finishes later batches first.
final class SlowOnFirstStep: Step {
    let slow: Bool
    let seen = Mutex(0)
    init(slow: Bool) { self.slow = slow }
    func process(_ event: Event, into out: inout StepOutput) {
        seen.withLock { $0 += 1 }
        out.emit(event)
    }
    func process(batch events: [Event], into out: inout StepOutput) {
        if slow { usleep(2_000) }
        for e in events {
            // Every tenth event goes to the rejected side output.
            if case .int(let n)? = e.value["n"], n % 10 == 0 {
                seen.withLock { $0 += 1 }
                out.reject(e, step: "slow", message: "tenth")
            } else {
                process(e, into: &out)
            }
        }
    }
}

@Suite struct DealingTests {
    /// Two partitions of stateless steps, one slow: batches go to whichever partition has
    /// room (both get some, though every event has the same key), and the sink writes
    /// them in the input's order.
    func run(deals: Bool, sink: LinesSink, rejected: LinesSink = LinesSink()) -> [SlowOnFirstStep] {
        let flow = Dataflow(ringCapacity: 4)
        let source = flow.addSource(ObjectsSource(name: "in", count: 20_000, batch: 50))
        // Every event hashes alike, as if all had one key.
        let part = flow.addPartitioner(name: "work", count: 2, dealsByLoad: deals) { _ in 7 }
        flow.connect(source, port: SourcePort.main, to: part)
        let out = flow.addSink(sink)
        let bad = flow.addSink(rejected)
        var steps: [SlowOnFirstStep] = []
        for i in 0..<2 {
            let step = SlowOnFirstStep(slow: i == 0)
            steps.append(step)
            let w = flow.addStream(
                name: "work#\(i)", chain: StepChain([StepChain.Entry(step: step, name: "slow", kind: "slow")]))
            flow.connect(part, port: i, to: w)
            flow.connect(w, port: Dataflow.mainPort, to: out)
            flow.connect(w, port: SidePort.rejected, to: bad)
        }
        #expect(Execution(flow).wait() == .completed)
        return steps
    }

    @Test func dealtBatchesComeOutInInputOrder() throws {
        let sink = LinesSink()
        let rejected = LinesSink()
        let steps = run(deals: true, sink: sink, rejected: rejected)
        let ns = try sink.lines.map { line -> Int64 in
            guard case .int(let n)? = try JSONParser.parse(line)["n"] else { return -1 }
            return n
        }
        #expect(ns == (0..<20_000).filter { $0 % 10 != 0 }.map(Int64.init))
        // Side outputs too: the rejected events, wrapped, in input order.
        let bad = try rejected.lines.map { line -> Int64 in
            guard case .int(let n)? = try JSONParser.parse(line)["event"]?["n"] else { return -1 }
            return n
        }
        #expect(bad == stride(from: 0, to: 20_000, by: 10).map(Int64.init))
        #expect(rejected.closes == 1)
        let seen = steps.map { $0.seen.withLock { $0 } }
        #expect(seen.reduce(0, +) == 20_000)
        // The slow partition gets fewer batches, but the fast one cannot take them all.
        #expect(seen[0] > 0 && seen[1] > seen[0], "partition counts \(seen)")
        #expect(sink.closes == 1)
    }

    /// Without dealing, one key means one partition: the other gets nothing.
    @Test func hashingSendsOneKeyToOnePartition() {
        let sink = LinesSink()
        let steps = run(deals: false, sink: sink)
        #expect(steps.map { $0.seen.withLock { $0 } }.sorted() == [0, 20_000])
        #expect(sink.lines.count == 18_000)
    }
}
