import SluiceCore
import SluiceJSON
import Synchronization
import Testing

/// A JSON-text sink that records what it is given and how.
final class LinesSink: EventSink, @unchecked Sendable {
    let name = "lines"
    let failAfter: Int?
    var lines: [String] = []
    var writeCalls = 0
    var lineCalls = 0
    var closes = 0

    init(failAfter: Int? = nil) { self.failAfter = failAfter }

    var writesJSONText: Bool { true }

    func write(_ events: [Event]) throws {
        writeCalls += 1
        for e in events { lines.append(e.description) }
        if let failAfter, lines.count >= failAfter { throw SinkError.closed }
    }

    func writeLines(_ text: UnsafeRawBufferPointer, count: Int) throws {
        lineCalls += 1
        let all = String(decoding: text, as: UTF8.self)
        #expect(all.hasSuffix("\n"))
        let got = all.split(separator: "\n").map(String.init)
        #expect(got.count == count)
        lines += got
        if let failAfter, lines.count >= failAfter { throw SinkError.closed }
    }

    func close() throws { closes += 1 }
}

/// A JSON-text sink that leaves `writeLines` to the protocol's default, which splits
/// the lines into events for `write`.
final class DefaultLinesSink: EventSink, @unchecked Sendable {
    let name = "default"
    var lines: [String] = []
    var writesJSONText: Bool { true }
    func write(_ events: [Event]) throws { for e in events { lines.append(e.description) } }
}

/// `{"n": 0}` to `{"n": count - 1}`, in batches of `batch`.
final class ObjectsSource: EventSource, @unchecked Sendable {
    let name: String
    let count: Int
    let batch: Int
    init(name: String, count: Int, batch: Int = 100) {
        self.name = name
        self.count = count
        self.batch = batch
    }
    func run(_ out: SourceOutput) throws {
        var n = 0
        while n < count && !out.isCancelled {
            let end = min(count, n + batch)
            out.emit((n..<end).map { Event(.object(JSONObject([("n", .int(Int64($0)))]))) })
            n = end
        }
    }
}

/// Adds a field, so that each stream's output is not plain input bytes.
final class TagStep: Step {
    let tag: String
    init(_ tag: String) { self.tag = tag }
    func process(_ event: Event, into out: inout StepOutput) {
        guard case .object(var o) = event.value else { return }
        o["from"] = .string(tag)
        out.emit(Event(.object(o)))
    }
}

@Suite struct DirectSinkTests {
    /// Two streams' outputs into one JSON-text sink: written by the streams themselves as
    /// lines, every event once, each stream's in order, the sink closed once.
    func fanIn(_ sink: any EventSink, count: Int = 3000) -> (Execution.Outcome, Execution.Report) {
        let flow = Dataflow(ringCapacity: 4)
        let out = flow.addSink(sink)
        for name in ["a", "b"] {
            let s = flow.addSource(ObjectsSource(name: name, count: count))
            let st = flow.addStream(
                name: "s" + name, chain: StepChain([StepChain.Entry(step: TagStep(name), name: "tag", kind: "tag")]))
            flow.connect(s, port: SourcePort.main, to: st)
            flow.connect(st, port: Dataflow.mainPort, to: out)
        }
        let run = Execution(flow)
        let outcome = run.wait()
        return (outcome, run.totals)
    }

    @Test func streamsWriteLinesToASharedSink() throws {
        let sink = LinesSink()
        let (outcome, report) = fanIn(sink)
        #expect(outcome == .completed)
        #expect(sink.writeCalls == 0)
        #expect(sink.lineCalls > 0)
        #expect(sink.closes == 1)
        #expect(sink.lines.count == 6000)
        #expect(report.sinkEvents["lines"] == 6000)
        for tag in ["a", "b"] {
            let ns = try sink.lines.compactMap { line -> Int64? in
                let v = try JSONParser.parse(line)
                guard v["from"] == .string(tag), case .int(let n)? = v["n"] else { return nil }
                return n
            }
            #expect(ns == (0..<3000).map(Int64.init))
        }
    }

    /// The shared sink is the last node, as a pipeline's outputs are: streams that end at
    /// once (empty input) must not leave the run's group for the sink before the sink
    /// has joined it. Before every stage joined up front, some of these runs were
    /// reported finished before the sink was closed, or crashed in `dispatch_group_leave`.
    @Test func streamsThatEndAtOnceDoNotFinishTheRunBeforeTheirSharedSink() {
        for _ in 0..<300 {
            let flow = Dataflow(ringCapacity: 4)
            var streams: [Dataflow.NodeID] = []
            for name in ["a", "b", "c"] {
                let s = flow.addSource(ObjectsSource(name: name, count: 0))
                let st = flow.addStream(
                    name: "s" + name, chain: StepChain([StepChain.Entry(step: TagStep(name), name: "tag", kind: "tag")])
                )
                flow.connect(s, port: SourcePort.main, to: st)
                streams.append(st)
            }
            let sink = LinesSink()
            let out = flow.addSink(sink)
            for st in streams { flow.connect(st, port: Dataflow.mainPort, to: out) }
            let outcome = Execution(flow).wait()
            #expect(outcome == .completed)
            #expect(sink.closes == 1)
        }
    }

    @Test func aSinkWithoutItsOwnWriteLinesGetsEvents() {
        let sink = DefaultLinesSink()
        let (outcome, _) = fanIn(sink, count: 500)
        #expect(outcome == .completed)
        #expect(sink.lines.count == 1000)
        #expect(Set(sink.lines).count == 1000)
    }

    @Test func aClosedSharedSinkEndsTheRunQuietly() {
        let sink = LinesSink(failAfter: 100)
        let (outcome, _) = fanIn(sink, count: 200_000)
        #expect(outcome == .outputClosed)
        #expect(sink.lines.count < 400_000)
    }
}
