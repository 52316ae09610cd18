import SluiceCore
import SluiceJSON
import Testing

@testable import SluiceSteps

/// A custom step that keeps a running total and opts in to checkpoints.
final class RunningTotal: CheckpointableStep {
    var total: Int64 = 0
    var failSnapshot = false

    func process(_ event: Event, into out: inout StepOutput) {
        if case .int(let v)? = event.field("v") { total += v }
        out.emit(Event(.object(JSONObject([("total", .int(total))])), time: event.time))
    }

    func checkpointState() throws -> JSON {
        if failSnapshot { throw CheckpointTestError("disk on fire") }
        return .object(JSONObject([("total", .int(total))]))
    }

    func restoreState(_ state: JSON) throws {
        guard case .int(let t)? = state["total"] else { throw CheckpointTestError("no total") }
        total = t
    }
}

/// A custom step that does not opt in.
final class Passthrough: Step {
    func process(_ event: Event, into out: inout StepOutput) { out.emit(event) }
}

/// Custom steps and checkpoints: `CheckpointableStep` opts in, stateless is the default,
/// and the runtime sees every step through `checkpointView(of:)`.
@Suite struct CustomStepCheckpointTests {
    func event(_ v: Int64) -> Event { Event(.object(JSONObject([("v", .int(v))])), time: v) }

    @Test func aCheckpointableStepGoesOnFromItsState() throws {
        let a = RecordingRun(RunningTotal())
        for v in Int64(1)...5 { a.run(.event(event(v))) }
        let state = try a.snapshot()
        #expect(state.groups.isEmpty)
        let b = RecordingRun(RunningTotal())
        try b.restore([state], watermark: a.watermark)
        for v in Int64(6)...8 {
            a.run(.event(event(v)))
            b.run(.event(event(v)))
        }
        #expect(b.records == Array(a.records.suffix(3)))
        #expect(b.records.last?.hasSuffix("{\"total\":36}") == true)
    }

    @Test func stepsThatDoNotOptInKeepNoState() throws {
        #expect(checkpointView(of: Passthrough()) == nil)
        guard case .success(let filter) = compileStep("filter: v > 1") else {
            Issue.record("did not compile")
            return
        }
        #expect(checkpointView(of: filter) == nil)
    }

    @Test func aWrappedStepIsCheckpointedThroughItsInnerStep() throws {
        guard
            case .success(let step) = compileStep(
                "window: {key: k, tumbling: 10ms, aggregate: {n: count()}}\nwhen: v > 0")
        else {
            Issue.record("did not compile")
            return
        }
        #expect(step is WhenStep)
        #expect(checkpointView(of: step) is WindowStep)
        #expect(checkpointView(of: step)?.stateKeySource == "k")
    }

    @Test func customStateCannotBeSplitOrMerged() throws {
        let a = RecordingRun(RunningTotal())
        a.run(.event(event(3)))
        let state = try a.snapshot()
        for (parts, owns) in [([state, state], { (_: Int) in true }), ([state], { (g: Int) in g < 128 })] {
            #expect {
                try RecordingRun(RunningTotal()).restore(parts, watermark: Int64.min, owns: owns)
            } throws: { e in
                (e as? StateError)?.message.contains("restore at the parallelism the checkpoint was taken at") == true
            }
        }
    }

    @Test func customStepErrorsBecomeStateErrors() throws {
        let step = RunningTotal()
        step.failSnapshot = true
        #expect {
            try RecordingRun(step).snapshot()
        } throws: { e in
            (e as? StateError)?.message.contains("RunningTotal") == true
                && (e as? StateError)?.message.contains("disk on fire") == true
        }
        var bad = StateWriter()
        bad.write(JSON.string("not an object"))
        #expect(throws: StateError.self) {
            try RecordingRun(RunningTotal()).restore([StepState(version: 1, shared: bad.bytes)], watermark: Int64.min)
        }
        #expect(throws: StateError.self) {
            try RecordingRun(RunningTotal()).restore([StepState(version: 2, shared: bad.bytes)], watermark: Int64.min)
        }
    }

    @Test func everyStatefulBuiltinKindHasAView() throws {
        // Every kind whose definition is not `.stateless` is checkpointed.
        for def in StepRegistry.standard.all where !def.traits.contains(.stateless) {
            let c = CheckpointCases.all.first { $0.yaml.hasPrefix(def.kind + ":") }
            #expect(c != nil, "no checkpoint case for '\(def.kind)'")
            if let c { #expect(checkpointView(of: try c.make()) != nil, "'\(def.kind)' has no checkpoint view") }
        }
    }
}
