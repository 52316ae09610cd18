import SluiceCore
import SluiceJSON
import Testing

/// The physical plan of a dataflow, one choice per test, computed from graphs alone
/// (nothing runs).
@Suite struct ExecutionPlanTests {
    /// A sink that does not write JSON text.
    final class ValuesSink: EventSink, @unchecked Sendable {
        let name = "values"
        func write(_ events: [Event]) throws {}
    }

    static func stream(_ flow: Dataflow, _ name: String) -> Dataflow.NodeID {
        flow.addStream(name: name, chain: StepChain([]))
    }

    /// source -> partitioner(2) -> two streams -> `sink`.
    static func keyed(deals: Bool, sink: any EventSink) -> (Dataflow, part: Int, sink: Int) {
        let flow = Dataflow()
        let source = flow.addSource(ObjectsSource(name: "in", count: 0))
        let part = flow.addPartitioner(name: "work", count: 2, dealsByLoad: deals) { _ in 0 }
        flow.connect(source, port: SourcePort.main, to: part)
        let out = flow.addSink(sink)
        for i in 0..<2 {
            let w = stream(flow, "work#\(i)")
            flow.connect(part, port: i, to: w)
            flow.connect(w, port: Dataflow.mainPort, to: out)
        }
        return (flow, part.index, out.index)
    }

    @Test func aPartitionerFedByOneSourcePortRunsOnTheSourcesThread() {
        let (flow, part, _) = Self.keyed(deals: false, sink: LinesSink())
        let plan = ExecutionPlan(flow)
        #expect(plan.fused[part]?.source == 0 && plan.fused[part]?.port == SourcePort.main)
        #expect(!plan.ownsThread(part))
        // Its input edge gets no ring: the source writes the partitions' rings.
        #expect(!plan.ringEdges.contains(0))
    }

    @Test func aPartitionerSharingItsSourcePortIsNotFused() {
        let (flow, part, _) = Self.keyed(deals: false, sink: LinesSink())
        let other = Self.stream(flow, "other")
        flow.connect(Dataflow.NodeID(index: 0), port: SourcePort.main, to: other)
        let plan = ExecutionPlan(flow)
        #expect(plan.fused[part] == nil)
        #expect(plan.ownsThread(part))
    }

    @Test func statelessPartitionsIntoAJSONTextSinkAreDealtAndPutBackInOrder() {
        let (flow, part, sink) = Self.keyed(deals: true, sink: LinesSink())
        let plan = ExecutionPlan(flow)
        #expect(plan.dealers == [part])
        #expect(plan.sequencedSinks == [sink])
        #expect(plan.sharedSinks.contains(sink))
    }

    @Test func noDealingWithoutTheStatelessFlagOrIntoASinkOfValues() {
        #expect(ExecutionPlan(Self.keyed(deals: false, sink: LinesSink()).0).dealers.isEmpty)
        let plan = ExecutionPlan(Self.keyed(deals: true, sink: ValuesSink()).0)
        #expect(plan.dealers.isEmpty && plan.sequencedSinks.isEmpty)
    }

    @Test func aJSONTextSinkFedByTwoStreamsIsWrittenDirectly() {
        let (flow, _, sink) = Self.keyed(deals: false, sink: LinesSink())
        let plan = ExecutionPlan(flow)
        #expect(plan.sharedSinks == [sink])
        #expect(!plan.ownsThread(sink))
        // Neither edge into it gets a ring.
        let into = flow.connections.indices.filter { flow.connections[$0].to == sink }
        #expect(into.count == 2 && into.allSatisfy { !plan.ringEdges.contains($0) })
    }

    @Test func checkpointingGivesEverySinkItsThreadSoThatItAlignsBarriers() {
        for deals in [false, true] {
            let (flow, part, sink) = Self.keyed(deals: deals, sink: LinesSink())
            let plan = ExecutionPlan(flow, checkpointing: true)
            #expect(plan.dealers.isEmpty && plan.sequencedSinks.isEmpty && plan.sharedSinks.isEmpty)
            #expect(plan.ownsThread(sink))
            // Still fused: the source sends barriers into the partitions' rings itself.
            #expect(plan.fused[part] != nil)
            let into = flow.connections.indices.filter { flow.connections[$0].to == sink }
            #expect(into.count == 2 && into.allSatisfy { plan.ringEdges.contains($0) })
        }
    }

    @Test func aSinkFedByOneStreamKeepsItsThread() {
        let flow = Dataflow()
        let source = flow.addSource(ObjectsSource(name: "in", count: 0))
        let s = Self.stream(flow, "s")
        let sink = flow.addSink(LinesSink())
        flow.connect(source, port: SourcePort.main, to: s)
        flow.connect(s, port: Dataflow.mainPort, to: sink)
        let plan = ExecutionPlan(flow)
        #expect(plan.sharedSinks.isEmpty && plan.ownsThread(sink.index))
        #expect(plan.encoding.isEmpty, "a sink fed by one stream encodes for itself")
        #expect(plan.ringEdges.count == 2)
    }

    /// A stream whose main output goes to a JSON-text sink that also takes a source's
    /// malformed port: not written directly (a source feeds it), so the stream encodes
    /// its events itself rather than leave all encoding to the sink's thread.
    @Test func aStreamSharingASinkWithAnotherStageEncodesItsOutput() {
        let flow = Dataflow()
        let source = flow.addSource(ObjectsSource(name: "in", count: 0))
        let s = Self.stream(flow, "s")
        let sink = flow.addSink(LinesSink())
        flow.connect(source, port: SourcePort.main, to: s)
        flow.connect(s, port: Dataflow.mainPort, to: sink)
        flow.connect(source, port: SourcePort.malformed, to: sink)
        let plan = ExecutionPlan(flow)
        #expect(plan.sharedSinks.isEmpty)
        #expect(plan.encoding == [s.index])
        // Into a sink of values, nothing is encoded.
        let other = Dataflow()
        let src2 = other.addSource(ObjectsSource(name: "in", count: 0))
        let s2 = Self.stream(other, "s")
        let values = other.addSink(ValuesSink())
        other.connect(src2, port: SourcePort.main, to: s2)
        other.connect(s2, port: Dataflow.mainPort, to: values)
        other.connect(src2, port: SourcePort.malformed, to: values)
        #expect(ExecutionPlan(other).encoding.isEmpty)
    }
}
