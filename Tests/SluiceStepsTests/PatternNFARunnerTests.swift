import SluiceCore
import SluiceJSON
import Testing

@testable import SluiceSteps

/// Drives an ``NFARunner`` directly, event by event, as Flink's `NFATestHarness` drives
/// its `NFA`: no YAML, no queue, no watermark, no threads. A step takes the events whose
/// kind is its letter (`b` takes `b1`, `b2`, ...); the harness computes the condition
/// bits as the operator does on arrival, stores the events a step can take in the
/// runner's shared buffer, and reads back what each call completed.
final class NFAHarness {
    /// One element of the sequence: a step taking the events of kind `letter`, or a `not`.
    enum Element {
        case step(
            String, min: Int = 1, max: Int = 1, optional: Bool = false, contiguity: Contiguity = .relaxed,
            inner: Contiguity? = nil, where: String? = nil)
        case not(String, strict: Bool = false)
    }

    let runner: NFARunner
    /// The kind each condition is about (conditions in NFA order).
    let conditionKinds: [String]
    /// Conditions with a CEL `where` (evaluated by the runner, not from the bits).
    let evaluated: UInt64
    var keys: [String: Int] = [:]

    init(
        _ elements: [Element], within: Int64? = nil, skip: SkipStrategy = .none, limits: PatternLimits = PatternLimits()
    ) throws {
        let compiler = ExpressionCompiler()
        var states: [PatternNFA.State] = []
        var notsBefore: [[PatternNFA.Negation]] = [[]]
        var conditions: [PatternNFA.Condition] = []
        var kinds: [String] = []
        var evaluated: UInt64 = 0
        for el in elements {
            switch el {
            case .step(let letter, let min, let max, let optional, let contiguity, let inner, let source):
                let expression = try source.map { try compiler.compile(source: $0) }
                if expression != nil { evaluated |= 1 << UInt64(conditions.count) }
                conditions.append(PatternNFA.Condition(expression: expression, iterative: expression != nil))
                kinds.append(letter)
                states.append(
                    PatternNFA.State(
                        name: letter, condition: conditions.count - 1, min: min, max: max, optional: optional,
                        contiguity: contiguity, innerContiguity: inner ?? contiguity, isList: !(min == 1 && max == 1),
                        restOptional: false))
                notsBefore.append([])
            case .not(let letter, let strict):
                conditions.append(PatternNFA.Condition(expression: nil, iterative: false))
                kinds.append(letter)
                notsBefore[states.count].append(PatternNFA.Negation(condition: conditions.count - 1, strict: strict))
            }
        }
        let nfa = PatternNFA(
            states: states, notsBefore: notsBefore, conditions: conditions, within: within, skip: skip)
        runner = NFARunner(nfa: nfa, activation: compiler.activation(), limits: limits)
        conditionKinds = kinds
        self.evaluated = evaluated
    }

    func key(_ name: String) -> Int {
        if let k = keys[name] { return k }
        let k = Int(runner.addKey())
        keys[name] = k
        return k
    }

    /// Feeds one event named like `b2` (kind `b`) to key `key` at `time`; returns the
    /// outcome and the matches it completed, as `{a b2}` strings.
    @discardableResult
    func send(_ name: String, key: String = "k", time: Int64 = 0, amount: Int64 = 0) -> (NFARunner.Outcome, [String]) {
        let kind = String(name.prefix { $0.isLetter })
        var known: UInt64 = 0
        var mask: UInt64 = 0
        for (i, c) in conditionKinds.enumerated() where evaluated & (1 << UInt64(i)) == 0 {
            known |= 1 << UInt64(i)
            if c == kind { mask |= 1 << UInt64(i) }
        }
        var takes = false
        for st in runner.nfa.states
        where mask & (1 << UInt64(st.condition)) != 0 || evaluated & (1 << UInt64(st.condition)) != 0 {
            takes = true
        }
        var slot: Int32 = -1
        if takes {
            let event: JSON = ["kind": .string(kind), "id": .string(name), "amount": .int(amount)]
            slot = runner.buffer.addEvent(Event(event, time: time))
        }
        let outcome = runner.process(key: self.key(key), time: time, slot: slot, mask: mask, known: known)
        let matches = takeCompleted()
        if slot >= 0 { runner.buffer.releaseSlot(slot) }
        return (outcome, matches)
    }

    /// Feeds events named like `a b1 b2` to one key, times 0, 1, 2, ...; returns every match.
    @discardableResult
    func run(_ names: String, key: String = "k") -> [String] {
        var out: [String] = []
        for (i, name) in names.split(separator: " ").enumerated() {
            out += send(String(name), key: key, time: Int64(i)).1
        }
        return out
    }

    /// Expires key `key`'s partial matches whose window ends at or before `limit`;
    /// returns the matches that completes and the partial matches that time out, with
    /// the time they timed out.
    func expire(key: String = "k", upTo limit: Int64, lastTime: Int64 = 0) -> (matches: [String], timeouts: [String]) {
        runner.expire(key: self.key(key), upTo: limit, lastTime: lastTime, collectTimeouts: true)
        let matches = takeCompleted()
        var timeouts: [String] = []
        for t in runner.timedOut { timeouts.append("\(PatternTest.ids(runner.captures.object(t.node)))@\(t.time)") }
        runner.releaseTimedOut()
        return (matches, timeouts)
    }

    func takeCompleted() -> [String] {
        var out: [String] = []
        for i in 0..<runner.completed.count {
            out.append(PatternTest.ids(runner.captures.object(runner.completed[i].node)))
        }
        runner.releaseCompleted()
        return out
    }
}

/// The NFA runner's transitions, with no operator around it.
@Suite struct PatternNFARunnerTests {
    @Test func relaxedTwoStepStepByStep() throws {
        let h = try NFAHarness([.step("a"), .step("b")], skip: .pastLast)
        #expect(h.send("a1") == (.advanced, []))
        #expect(h.runner.livePartialMatches == 1)
        // Relaxed: an event no step takes is skipped, the partial match waits.
        #expect(h.send("x") == (.advanced, []))
        #expect(h.runner.livePartialMatches == 1)
        #expect(h.send("b1") == (.advanced, ["{a1 b1}"]))
        // past_last discarded the partial match that produced it.
        #expect(h.runner.livePartialMatches == 0)
        // Nothing to advance, nothing to start: the key's state is not even read.
        #expect(h.send("b2") == (.ignored, []))
        #expect(h.runner.buffer.liveSlots == 0)
    }

    @Test func strictContiguityNeedsTheVeryNextEvent() throws {
        let h = try NFAHarness([.step("a"), .step("b", contiguity: .strict)])
        #expect(h.run("a1 x b1") == [])
        #expect(h.runner.livePartialMatches == 0)
        #expect(h.run("a2 b2") == ["{a2 b2}"])
    }

    @Test func contiguityOfTheFlinkTwoStepExample() throws {
        for (contiguity, expected) in [
            (Contiguity.strict, [String]()), (.relaxed, ["{a b1}"]), (.any, ["{a b1}", "{a b2}"]),
        ] {
            let h = try NFAHarness([.step("a"), .step("b", contiguity: contiguity)])
            #expect(h.run("a c b1 b2") == expected, "\(contiguity)")
        }
    }

    @Test func allowCombinationsGivesEverySubset() throws {
        let h = try NFAHarness(
            [
                .step("C"), .step("A", min: 1, max: Int.max, contiguity: .any, inner: .any), .step("B"),
            ], within: 3_600_000)
        let all = Set(h.run("C D A1 A2 A3 D A4 B"))
        #expect(all.count == 15)
        #expect(all.contains("{C A1 A3 B}") && all.contains("{C A1 A2 A3 A4 B}") && all.contains("{C A4 B}"))
        // The loop state holds every combination until the window ends.
        #expect(h.runner.livePartialMatches > 0)
        _ = h.expire(upTo: Int64.max)
        #expect(h.runner.livePartialMatches == 0)
        #expect(h.runner.buffer.liveSlots == 0 && h.runner.buffer.liveNodes == 0)
    }

    @Test func skipStrategiesOfTheFlinkTable() throws {
        let expected: [(SkipStrategy, [String])] = [
            (.none, ["{b1 b2 b3 c}", "{b2 b3 c}", "{b3 c}"]),
            (.toNext, ["{b1 b2 b3 c}", "{b2 b3 c}", "{b3 c}"]),
            (.pastLast, ["{b1 b2 b3 c}"]),
        ]
        for (skip, matches) in expected {
            let h = try NFAHarness(
                [.step("b", min: 1, max: Int.max), .step("c", contiguity: .strict)], within: 60_000, skip: skip)
            #expect(h.run("b1 b2 b3 c") == matches, "\(skip)")
        }
    }

    @Test func completedMatchesComeEarliestStartFirst() throws {
        let h = try NFAHarness([.step("a"), .step("b")])
        #expect(h.run("a1 a2 b") == ["{a1 b}", "{a2 b}"])
    }

    @Test func notBetweenStepsKillsThePartialMatch() throws {
        let h = try NFAHarness([.step("a"), .not("x"), .step("b")])
        #expect(h.run("a1 x b1") == [])
        #expect(h.runner.livePartialMatches == 0)
        #expect(h.run("a2 y b2") == ["{a2 b2}"])
    }

    @Test func trailingNotCompletesWhenTheWindowEnds() throws {
        let h = try NFAHarness([.step("a"), .not("x")], within: 10)
        #expect(h.send("a1", time: 0) == (.advanced, []))
        #expect(h.expire(upTo: 9) == ([], []))
        #expect(h.expire(upTo: 10) == (["{a1}"], []))
        #expect(h.runner.livePartialMatches == 0)
        // An `x` within the window: no match.
        h.send("a2", time: 20)
        h.send("x", time: 25)
        #expect(h.expire(upTo: 30) == ([], []))
    }

    @Test func expiryTimesOutEachPathOnce() throws {
        let h = try NFAHarness([.step("a"), .step("b", optional: true), .step("c")], within: 100)
        h.send("a1", time: 0)
        // Skipped both waiting for b and, past the optional b, waiting for c: two
        // partial matches on one path.
        h.send("x", time: 1)
        #expect(h.runner.livePartialMatches == 2)
        #expect(h.expire(upTo: 99) == ([], []))
        #expect(h.expire(upTo: 150) == ([], ["{a1}@100"]))
        #expect(h.runner.livePartialMatches == 0)
        h.send("a2", time: 200)
        #expect(h.expire(upTo: Int64.max).timeouts == ["{a2}@300"])
        #expect(h.runner.buffer.liveSlots == 0)
    }

    @Test func keysAreMatchedApart() throws {
        let h = try NFAHarness([.step("a"), .step("b", contiguity: .strict)])
        h.send("a1", key: "u1")
        h.send("a2", key: "u2")
        #expect(h.send("b1", key: "u1").1 == ["{a1 b1}"])
        #expect(h.send("x", key: "u2").1 == [])
        #expect(h.send("b2", key: "u2").1 == [])
    }

    @Test func keyLimitLeavesTheStateAsItWas() throws {
        let h = try NFAHarness([.step("a"), .step("b")], limits: PatternLimits(partialMatchesPerKey: 2))
        h.run("a1 a2")
        #expect(h.runner.livePartialMatches == 2)
        #expect(h.send("a3", time: 2) == (.overKeyLimit, []))
        #expect(h.runner.livePartialMatches == 2)
        // The events of the state are still the first two.
        #expect(h.send("b", time: 3).1 == ["{a1 b}", "{a2 b}"])
    }

    @Test func conditionsReadingCapturesAreEvaluatedPerPartialMatch() throws {
        let h = try NFAHarness([.step("a"), .step("b", where: #"kind == "b" && amount > a.amount"#)])
        h.send("a1", time: 0, amount: 10)
        h.send("a2", time: 1, amount: 30)
        // Only a1's partial match takes b1 (20 > 10); a2's waits.
        #expect(h.send("b1", time: 2, amount: 20).1 == ["{a1 b1}"])
        #expect(h.send("b2", time: 3, amount: 40).1 == ["{a2 b2}"])
        #expect(h.runner.conditionErrors == 0)
    }
}
