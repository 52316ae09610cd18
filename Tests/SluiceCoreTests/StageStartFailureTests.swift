import Foundation
import SluiceCore
import SluiceJSON
import Testing

/// A stage whose thread cannot be created fails the run with a clear error, and the
/// other stages still finish (no stage runs inline, which could deadlock). Node names
/// are unique to each test, so that refusing them touches no other test's run.
@Suite(.serialized, .timeLimit(.minutes(1))) struct StageStartFailureTests {
    final class NamedSink: EventSink, @unchecked Sendable {
        let name: String
        init(name: String) { self.name = name }
        func write(_ events: [Event]) throws {}
        var writesJSONText: Bool { true }
    }

    func run(refusing stage: String, sharedSink: Bool = false) -> Execution.Outcome {
        let id = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let name = stage.replacingOccurrences(of: "ID", with: id)
        StageThread.refusedForTesting.withLock { _ = $0.insert(name) }
        defer { StageThread.refusedForTesting.withLock { _ = $0.remove(name) } }
        let flow = Dataflow(ringCapacity: 2)
        let source = flow.addSource(ObjectsSource(name: "in\(id)", count: 5000, batch: 10))
        let sink = flow.addSink(NamedSink(name: "out\(id)"))
        for i in 0..<(sharedSink ? 2 : 1) {
            let s = flow.addStream(name: "s\(i)\(id)", chain: StepChain([]))
            flow.connect(source, port: SourcePort.main, to: s)
            flow.connect(s, port: Dataflow.mainPort, to: sink)
        }
        return Execution(flow).wait()
    }

    @Test(arguments: ["in:inID", "st:s0ID", "out:outID"])
    func aStageWithoutAThreadFailsTheRun(_ stage: String) {
        guard case .failed(let message) = run(refusing: stage) else {
            Issue.record("the run did not fail")
            return
        }
        #expect(message.hasPrefix("cannot start a thread for stage '\(stage.prefix { $0 != "I" })"), "\(message)")
        #expect(message.hasSuffix("': Resource temporarily unavailable"))
    }

    @Test func aStreamWritingASharedSinkWithoutAThread() {
        guard case .failed(let message) = run(refusing: "st:s1ID", sharedSink: true) else {
            Issue.record("the run did not fail")
            return
        }
        #expect(message.hasPrefix("cannot start a thread for stage 'st:s1"), "\(message)")
    }

    @Test func withEveryThreadTheRunCompletes() {
        #expect(run(refusing: "nothing") == .completed)
    }
}
