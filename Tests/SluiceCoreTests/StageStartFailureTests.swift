import SluiceCore
import SluiceJSON
import Testing

/// A stage whose thread cannot be created fails the run with a clear error, and the
/// other stages still finish (no stage runs inline, which could deadlock).
@Suite(.serialized, .timeLimit(.minutes(1))) struct StageStartFailureTests {
    func run(refusing name: String, sharedSink: Bool = false) -> Execution.Outcome {
        StageThread.refusedForTesting.withLock { $0 = [name] }
        defer { StageThread.refusedForTesting.withLock { $0 = [] } }
        let flow = Dataflow(ringCapacity: 2)
        let source = flow.addSource(ObjectsSource(name: "in", count: 5000, batch: 10))
        let sink = flow.addSink(LinesSink())
        for i in 0..<(sharedSink ? 2 : 1) {
            let s = flow.addStream(name: "s\(i)", chain: StepChain([]))
            flow.connect(source, port: SourcePort.main, to: s)
            flow.connect(s, port: Dataflow.mainPort, to: sink)
        }
        return Execution(flow).wait()
    }

    @Test(arguments: ["in:in", "st:s0", "out:lines"])
    func aStageWithoutAThreadFailsTheRun(_ name: String) {
        let outcome = run(refusing: name)
        #expect(outcome == .failed("cannot start a thread for stage '\(name)': Resource temporarily unavailable"))
    }

    @Test func aStreamWritingASharedSinkWithoutAThread() {
        let outcome = run(refusing: "st:s1", sharedSink: true)
        #expect(outcome == .failed("cannot start a thread for stage 'st:s1': Resource temporarily unavailable"))
    }

    @Test func withEveryThreadTheRunCompletes() {
        #expect(run(refusing: "nothing") == .completed)
    }
}
