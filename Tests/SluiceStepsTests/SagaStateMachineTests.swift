import SluiceJSON
import Testing

@testable import SluiceSteps

/// Records what a ``SagaStateMachine`` decides, as short lines: `cmd NAME#ATTEMPT@T`,
/// `comp NAME@T`, `log KIND NAME REASON@T`.
struct SagaRecorder: SagaEffects {
    var plan: SagaPlan
    var lines: [String] = []
    /// Steps whose command (or compensation) fails to build.
    var failingCommands: Set<String> = []
    var failingCompensations: Set<String> = []

    mutating func command(_ saga: SagaView, step: Int, attempt: Int, time: Int64) -> String? {
        let name = plan.steps[step].name
        if failingCommands.contains(name) { return "no such key 'x'" }
        lines.append("cmd \(name)#\(attempt)@\(time)")
        return nil
    }
    mutating func compensation(_ saga: SagaView, step: Int, time: Int64) -> String? {
        let name = plan.steps[step].name
        if failingCompensations.contains(name) { return "no such key 'y'" }
        lines.append("comp \(name)@\(time)")
        return nil
    }
    mutating func log(_ saga: JSON, _ kind: SagaLogKind, step: Int?, reason: String?, time: Int64) {
        var s = "log \(kind.rawValue)"
        if let step { s += " \(plan.steps[step].name)" }
        if let reason { s += " \(reason)" }
        lines.append(s + "@\(time)")
    }
    mutating func take() -> [String] {
        defer { lines = [] }
        return lines
    }
}

/// A machine and a recorder, driven with replies named `NAME.ok`, `NAME.fail`,
/// `NAME.undone`, `NAME.notundone` (a compensation's success and failure).
struct SagaDriver {
    var machine: SagaStateMachine
    var rec: SagaRecorder

    init(_ plan: SagaPlan) {
        machine = SagaStateMachine(plan: plan)
        rec = SagaRecorder(plan: plan)
    }

    mutating func start(_ id: String, at t: Int64) -> SagaStateMachine.StartOutcome {
        machine.start(id: .string(id), data: .object(JSONObject()), time: t, effects: &rec)
    }

    mutating func reply(_ id: String, _ what: String, at t: Int64, throwing: Bool = false)
        -> SagaStateMachine.ReplyOutcome
    {
        let plan = machine.plan
        return machine.reply(
            id: .string(id), reply: { _ in .string(what) }, time: t,
            classify: { (c: SagaCondition) throws(SagaConditionError) -> Bool in
                if throwing { throw SagaConditionError(message: "no such key 'status'") }
                switch c {
                case .success(let s): return what == plan.steps[s].name + ".ok"
                case .failure(let s): return what == plan.steps[s].name + ".fail"
                case .compensationSuccess(let s): return what == plan.steps[s].name + ".undone"
                case .compensationFailure(let s): return what == plan.steps[s].name + ".notundone"
                }
            }, effects: &rec)
    }

    /// Fires every timer of every saga due at or before `t`, in time order.
    mutating func advance(to t: Int64) {
        while true {
            var best: (Int64, Int64, Int)?
            for (slot, inst) in machine.slots.enumerated() {
                guard let inst else { continue }
                let d = machine.nextDeadline(slot: slot)
                if d <= t, best == nil || (d, inst.serial) < (best!.0, best!.1) { best = (d, inst.serial, slot) }
            }
            guard let (d, _, slot) = best else { return }
            machine.fire(slot: slot, upTo: d, effects: &rec)
        }
    }
}

func sagaStep(
    _ name: String, timeout: Int64 = 100, retries: Int = 0, backoff: Int64 = 0,
    compensation: SagaCompensationPlan = .none
) -> SagaStepPlan {
    SagaStepPlan(name: name, timeout: timeout, retries: retries, backoff: backoff, compensation: compensation)
}

@Suite struct SagaStateMachineTests {
    /// a, b (compensated by a command not awaited), c (compensation awaited 50).
    static let plan = SagaPlan(
        steps: [
            sagaStep("a", compensation: .fireAndForget), sagaStep("b", compensation: .awaited(timeout: 50)),
            sagaStep("c"),
        ],
        stages: [[0], [1], [2]], retention: 1000, maxSagas: 2)

    @Test func stepsRunOneAfterAnotherAndTheSagaCompletes() {
        var d = SagaDriver(Self.plan)
        #expect(d.start("s1", at: 0) == .started(slot: 0))
        #expect(d.rec.take() == ["log started@0", "cmd a#1@0"])
        #expect(d.reply("s1", "a.ok", at: 10) == .handled(slot: 0))
        #expect(d.reply("s1", "b.ok", at: 20) == .handled(slot: 0))
        #expect(d.reply("s1", "c.ok", at: 30) == .handled(slot: 0))
        #expect(
            d.rec.take() == [
                "log step_completed a@10", "cmd b#1@10", "log step_completed b@20", "cmd c#1@20",
                "log step_completed c@30", "log completed@30",
            ])
        #expect(d.machine.running == 0 && d.machine.finished == 1)
    }

    @Test func aFailureCompensatesTheCompletedStepsInReverseAndAwaitsTheAwaitedOne() {
        var d = SagaDriver(Self.plan)
        _ = d.start("s1", at: 0)
        _ = d.reply("s1", "a.ok", at: 10)
        _ = d.reply("s1", "b.ok", at: 20)
        _ = d.rec.take()
        #expect(d.reply("s1", "c.fail", at: 30) == .handled(slot: 0))
        #expect(d.rec.take() == ["log step_failed c failure@30", "log compensating b@30", "comp b@30"])
        // The duplicate failure does nothing; the compensation's success moves on.
        #expect(d.reply("s1", "c.fail", at: 31) == .duplicate)
        #expect(d.reply("s1", "b.undone", at: 40) == .handled(slot: 0))
        #expect(
            d.rec.take() == [
                "log compensated b@40", "log compensating a@40", "comp a@40", "log failed c failure@40",
            ])
    }

    @Test func anAwaitedCompensationThatTimesOutEndsTheSagaBeforeTheNextOne() {
        var d = SagaDriver(Self.plan)
        _ = d.start("s1", at: 0)
        _ = d.reply("s1", "a.ok", at: 10)
        _ = d.reply("s1", "b.ok", at: 20)
        _ = d.rec.take()
        d.advance(to: 119)
        #expect(d.rec.take().isEmpty)
        d.advance(to: 120)  // c timed out at 20 + 100
        #expect(d.rec.take() == ["log step_failed c timed_out@120", "log compensating b@120", "comp b@120"])
        d.advance(to: 170)  // b's compensation: 50
        #expect(d.rec.take() == ["log compensation_failed b timed_out@170"])
        #expect(d.reply("s1", "b.undone", at: 171) == .rejected("saga 's1' has finished (compensation_failed)"))
    }

    @Test func aFailedCompensationIsReportedNotRetried() {
        var d = SagaDriver(Self.plan)
        _ = d.start("s1", at: 0)
        _ = d.reply("s1", "a.ok", at: 10)
        _ = d.reply("s1", "b.ok", at: 20)
        _ = d.reply("s1", "c.fail", at: 30)
        _ = d.rec.take()
        #expect(d.reply("s1", "b.notundone", at: 35) == .handled(slot: 0))
        #expect(d.rec.take() == ["log compensation_failed b failure@35"])
    }

    @Test func aReplyAtTheDeadlineIsTooLateButOneBeforeItCounts() {
        var d = SagaDriver(Self.plan)
        _ = d.start("s1", at: 0)
        d.advance(to: 99)
        #expect(d.reply("s1", "a.ok", at: 99) == .handled(slot: 0))
        _ = d.rec.take()
        d.advance(to: 199)  // b's deadline: 99 + 100
        #expect(
            d.rec.take() == [
                "log step_failed b timed_out@199", "log compensating a@199", "comp a@199", "log failed b timed_out@199",
            ])
    }

    @Test func parallelStepsStartTogetherAndCompleteWhenAllSucceed() {
        let plan = SagaPlan(
            steps: [
                sagaStep("p", compensation: .fireAndForget), sagaStep("q", compensation: .fireAndForget), sagaStep("r"),
            ],
            stages: [[0, 1], [2]], retention: 0, maxSagas: 10)
        var d = SagaDriver(plan)
        _ = d.start("s", at: 0)
        #expect(d.rec.take() == ["log started@0", "cmd p#1@0", "cmd q#1@0"])
        _ = d.reply("s", "q.ok", at: 5)
        #expect(d.rec.take() == ["log step_completed q@5"])
        _ = d.reply("s", "p.ok", at: 6)
        #expect(d.rec.take() == ["log step_completed p@6", "cmd r#1@6"])
    }

    @Test func aFailedParallelStepWaitsForTheOthersThenCompensatesThoseThatSucceeded() {
        let plan = SagaPlan(
            steps: [
                sagaStep("p", compensation: .fireAndForget), sagaStep("q", compensation: .fireAndForget),
                sagaStep("r", compensation: .fireAndForget),
            ],
            stages: [[0, 1, 2]], retention: 0, maxSagas: 10)
        var d = SagaDriver(plan)
        _ = d.start("s", at: 0)
        _ = d.rec.take()
        _ = d.reply("s", "q.fail", at: 5)
        #expect(d.rec.take() == ["log step_failed q failure@5"])
        _ = d.reply("s", "r.ok", at: 6)
        #expect(d.rec.take() == ["log step_completed r@6"])
        _ = d.reply("s", "p.ok", at: 7)
        #expect(
            d.rec.take() == [
                "log step_completed p@7", "log compensating r@7", "comp r@7", "log compensating p@7", "comp p@7",
                "log failed q failure@7",
            ])
    }

    @Test func retriesResendAfterTheBackoffAndALateSuccessStillCounts() {
        let plan = SagaPlan(
            steps: [sagaStep("a", timeout: 100, retries: 2, backoff: 10)], stages: [[0]], retention: 0, maxSagas: 10)
        var d = SagaDriver(plan)
        _ = d.start("s", at: 0)
        _ = d.reply("s", "a.fail", at: 5)
        #expect(d.rec.take() == ["log started@0", "cmd a#1@0"])
        d.advance(to: 15)
        #expect(d.rec.take() == ["cmd a#2@15"])
        d.advance(to: 115)  // attempt 2 timed out
        d.advance(to: 125)
        #expect(d.rec.take() == ["cmd a#3@125"])
        #expect(d.reply("s", "a.ok", at: 130) == .handled(slot: 0))
        #expect(d.rec.take() == ["log step_completed a@130", "log completed@130"])
    }

    @Test func retriesUsedUpFailTheStep() {
        let plan = SagaPlan(
            steps: [sagaStep("a", timeout: 100, retries: 1, backoff: 0)], stages: [[0]], retention: 0, maxSagas: 10)
        var d = SagaDriver(plan)
        _ = d.start("s", at: 0)
        _ = d.reply("s", "a.fail", at: 5)
        _ = d.reply("s", "a.fail", at: 6)
        #expect(
            d.rec.take() == [
                "log started@0", "cmd a#1@0", "cmd a#2@5", "log step_failed a failure@6", "log failed a failure@6",
            ])
    }

    @Test func aParallelStepWaitingToRetryIsCancelledByAFailure() {
        let plan = SagaPlan(
            steps: [sagaStep("p", retries: 3, backoff: 50), sagaStep("q")], stages: [[0, 1]], retention: 0, maxSagas: 10
        )
        var d = SagaDriver(plan)
        _ = d.start("s", at: 0)
        _ = d.reply("s", "p.fail", at: 1)
        _ = d.reply("s", "q.fail", at: 2)
        #expect(
            d.rec.take() == [
                "log started@0", "cmd p#1@0", "cmd q#1@0", "log step_failed q failure@2",
                "log step_failed p cancelled@2",
                "log failed q failure@2",
            ])
    }

    @Test func aCommandThatCannotBeBuiltFailsItsStepAndCompensates() {
        var d = SagaDriver(Self.plan)
        d.rec.failingCommands = ["b"]
        _ = d.start("s1", at: 0)
        _ = d.reply("s1", "a.ok", at: 10)
        #expect(
            d.rec.take() == [
                "log started@0", "cmd a#1@0", "log step_completed a@10",
                "log step_failed b command: no such key 'x'@10",
                "log compensating a@10", "comp a@10", "log failed b command: no such key 'x'@10",
            ])
    }

    @Test func aCompensationThatCannotBeBuiltIsACompensationFailure() {
        var d = SagaDriver(Self.plan)
        d.rec.failingCompensations = ["a"]
        _ = d.start("s1", at: 0)
        _ = d.reply("s1", "a.ok", at: 10)
        _ = d.reply("s1", "b.fail", at: 20)
        #expect(
            d.rec.take().suffix(2) == [
                "log compensating a@20", "log compensation_failed a command: no such key 'y'@20",
            ])
    }

    @Test func aConditionThatCannotBeEvaluatedRejectsTheReplyAndLeavesTheSaga() {
        var d = SagaDriver(Self.plan)
        _ = d.start("s1", at: 0)
        _ = d.rec.take()
        #expect(d.reply("s1", "a.ok", at: 5, throwing: true) == .rejected("no such key 'status'"))
        #expect(d.rec.take().isEmpty)
        #expect(d.reply("s1", "a.ok", at: 6) == .handled(slot: 0))
    }

    @Test func unknownPrematureAndFinishedRepliesAreRejectedWithTheirReason() {
        var d = SagaDriver(Self.plan)
        #expect(d.reply("nope", "a.ok", at: 0) == .rejected("no saga 'nope' is running"))
        _ = d.start("s1", at: 0)
        #expect(
            d.reply("s1", "c.ok", at: 1) == .rejected("saga 's1': a success reply for step 'c', which has not started"))
        #expect(d.reply("s1", "zzz", at: 1) == .rejected("saga 's1': the event matches no step's success or failure"))
        #expect(
            d.reply("s1", "b.undone", at: 1)
                == .rejected("saga 's1': a compensation reply for step 'b', which is not being compensated"))
        _ = d.reply("s1", "a.ok", at: 2)
        #expect(d.reply("s1", "a.ok", at: 3) == .duplicate)
        #expect(d.machine.duplicates == 1)
    }

    @Test func aSecondStartIsADuplicateAndMaxSagasBoundsTheRunningOnes() {
        var d = SagaDriver(Self.plan)
        _ = d.start("s1", at: 0)
        #expect(d.start("s1", at: 1) == .rejected("saga 's1' is already running; a second start is a duplicate"))
        _ = d.start("s2", at: 1)
        #expect(d.start("s3", at: 2) == .rejected("max_sagas (2) running sagas reached; saga 's3' not started"))
    }

    @Test func finishedSagasAreForgottenAfterTheRetention() {
        var d = SagaDriver(Self.plan)
        _ = d.start("s1", at: 0)
        _ = d.reply("s1", "a.fail", at: 10)
        #expect(d.machine.finished == 1 && d.machine.running == 0)
        #expect(d.start("s1", at: 20) == .rejected("saga 's1' already ran (failed); a second start is a duplicate"))
        d.advance(to: 1009)
        #expect(d.machine.finished == 1)
        d.advance(to: 1010)
        #expect(d.machine.finished == 0 && d.machine.slots.allSatisfy { $0 == nil })
        #expect(d.reply("s1", "a.fail", at: 1011) == .rejected("no saga 's1' is running"))
        // The slot is used again.
        #expect(d.start("s1", at: 1012) == .started(slot: 0))
    }

    @Test func aSnapshotRestoresEverySagaAndItsTimers() throws {
        var d = SagaDriver(Self.plan)
        _ = d.start("s1", at: 0)
        _ = d.start("s2", at: 0)
        _ = d.reply("s1", "a.ok", at: 10)
        _ = d.reply("s2", "a.fail", at: 11)
        _ = d.rec.take()
        var copy = SagaDriver(Self.plan)
        copy.machine = try SagaStateMachine.restore(d.machine.snapshot(), plan: Self.plan)
        for var x in [d, copy] {
            x.advance(to: 110)
            #expect(
                x.rec.take() == [
                    "log step_failed b timed_out@110", "log compensating a@110", "comp a@110",
                    "log failed b timed_out@110",
                ])
            #expect(x.reply("s2", "a.ok", at: 120) == .rejected("saga 's2' has finished (failed)"))
        }
        #expect(throws: SagaStateMachine.SnapshotError.self) {
            try SagaStateMachine.restore(.object(JSONObject()), plan: Self.plan)
        }
    }
}
