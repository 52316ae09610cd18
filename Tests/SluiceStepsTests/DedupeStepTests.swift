import Foundation
import SluiceCore
import SluiceJSON
import SluicePipeline
import SluiceSteps
import Testing

@Suite struct DedupeStepTests {
    func step(_ yaml: String) throws -> (StepHarness, any Step) {
        let s = try compileStep(yaml).get()
        return (StepHarness(s), s)
    }

    @Test func dropsRepeatsWithinThePeriodFromTheFirstKept() throws {
        let (h, _) = try step("dedupe: { key: id, within: 10s }")
        h.send(["id": 1, "n": 1], time: 0)
        h.send(["id": 1, "n": 2], time: 9_999)  // repeat
        h.send(["id": 2, "n": 3], time: 5_000)
        h.send(["id": 1, "n": 4], time: 10_000)  // 10s after the first kept: kept
        h.send(["id": 1, "n": 5], time: 15_000)  // repeat of the one at 10s (not extended by n=2)
        h.send(["id": 1, "n": 6], time: 20_000)
        #expect(h.take().map { $0["n"] } == [1, 3, 4, 6])
    }

    @Test func outOfOrderInputAndLateness() throws {
        let (h, _) = try step("dedupe: { key: user, within: 1m }")
        h.advance(to: 100_000)
        h.send(["user": "a", "n": 1], time: 200_000)
        h.send(["user": "a", "n": 2], time: 150_000)  // earlier, but within 1m of the kept one: repeat
        h.send(["user": "a", "n": 3], time: 120_000)  // 80s earlier: kept
        h.send(["user": "a", "n": 4], time: 99_999)  // below the watermark: late
        h.send(["user": "a", "n": 5], time: 170_000)  // repeat of both
        #expect(h.take().map { $0["n"] } == [1, 3])
        #expect(h.sides[SidePort.late]?.map { $0.value["n"] } == [4])
    }

    @Test func keyExpressionsAndErrors() throws {
        let (h, _) = try step(#"dedupe: { key: 'user + ":" + string(kind)', within: 1h }"#)
        h.send(["user": "a", "kind": 1], time: 0)
        h.send(["user": "a", "kind": 2], time: 1)
        h.send(["user": "a", "kind": 1], time: 2)
        h.send(["kind": 1], time: 3)
        #expect(h.take() == [["user": "a", "kind": 1], ["user": "a", "kind": 2]])
        let rejected = h.sides[SidePort.rejected] ?? []
        #expect(rejected.count == 1)
        #expect(rejected.first?.value["error"]?["message"] == "key: no such attribute: 'user'")
    }

    @Test func watermarkEvictsStateSoItStaysBounded() throws {
        let (h, s) = try step("dedupe: { key: id, within: 10s }")
        for i in 0..<1000 { h.send(["id": .int(Int64(i))], time: Int64(i) * 100) }
        #expect(s.stateSize == 1000)
        h.advance(to: 10_000 + 49_900)  // entries with time + 10s <= watermark go: times 0...49_900
        #expect(s.stateSize == 500)
        // An evicted key can be kept again.
        h.send(["id": 0], time: 60_000)
        #expect(h.take().count == 1001)
        h.advance(to: Int64.max)
        #expect(s.stateSize == 0)
        #expect((s as? DedupeStep)?.keyCount == 0)
    }

    @Test func repeatsDoNotGrowState() throws {
        let (h, s) = try step("dedupe: { key: id, within: 1d }")
        for t in 0..<500 { h.send(["id": .int(Int64(t % 5))], time: Int64(t)) }
        #expect(s.stateSize == 5)
        #expect(h.take().count == 5)
        #expect((s as? DedupeStep)?.droppedCount == 495)
    }

    /// Issue 14 item 14: with `max_keys`, a new key evicts the key held longest, as a
    /// bounded cache does, instead of growing (or rejecting); evictions are counted.
    @Test func maxKeysEvictsTheOldestKeyAndCountsIt() throws {
        let (h, s) = try step("dedupe: { key: id, within: 10s, max_keys: 2 }")
        h.send(["id": 1, "n": 1], time: 0)
        h.send(["id": 2, "n": 2], time: 5)
        h.send(["id": 3, "n": 3], time: 3)  // full: evicts id 1 (its period ends first)
        h.send(["id": 2, "n": 4], time: 6)  // still held: a repeat
        h.send(["id": 3, "n": 5], time: 7)  // still held: a repeat
        h.send(["id": 1, "n": 6], time: 8)  // evicted, so kept again; evicts id 3 (kept at 3)
        #expect(h.take().map { $0["n"] } == [1, 2, 3, 6])
        #expect(h.sides.isEmpty)
        let d = try #require(s as? DedupeStep)
        #expect(d.keyCount == 2)
        #expect(d.evictedCount == 2)
        #expect(d.droppedCount == 2)
        #expect(s.counters.map(\.name) == ["dropped", "evicted"])
        #expect(s.counters.map(\.value) == [2, 2])
        h.advance(to: Int64.max)
        #expect(s.stateSize == 0)
    }

    /// Of keys whose periods end together, `max_keys` evicts the one kept first (a binary
    /// heap alone would pop equal expiries in an order of its own).
    @Test func maxKeysEvictsTheFirstKeptOfEqualExpiries() throws {
        let (h, s) = try step("dedupe: { key: id, within: 10s, max_keys: 3 }")
        for id in 1...5 { h.send(["id": .int(Int64(id))], time: 0) }  // 4 evicts 1, 5 evicts 2
        h.send(["id": 2], time: 1)  // evicted: kept again (evicting 3)
        h.send(["id": 4], time: 1)  // still held: a repeat
        #expect(h.take().map { $0["id"] } == [1, 2, 3, 4, 5, 2])
        #expect((s as? DedupeStep)?.evictedCount == 3)
        #expect((s as? DedupeStep)?.droppedCount == 1)
    }

    /// Memory stays bounded by `max_keys` with every id unique (the case that grew without
    /// bound before), however long `within` is.
    @Test func maxKeysBoundsStateForUniqueIds() throws {
        let (h, s) = try step("dedupe: { key: id, within: 1d, max_keys: 100 }")
        for i in 0..<10_000 { h.send(["id": .int(Int64(i))], time: Int64(i)) }
        #expect(h.take().count == 10_000)
        #expect(s.stateSize == 100)
        #expect((s as? DedupeStep)?.evictedCount == 9_900)
    }

    /// A key held several times (kept again after its period, the older occurrence not yet
    /// evicted by the watermark) is evicted whole.
    @Test func evictingAKeyHeldTwiceFreesASlot() throws {
        let (h, s) = try step("dedupe: { key: id, within: 10ms, max_keys: 1 }")
        h.send(["id": 1, "n": 1], time: 0)
        h.send(["id": 1, "n": 2], time: 20)  // a new period of the same key
        #expect(s.stateSize == 2)
        h.send(["id": 2, "n": 3], time: 21)  // evicts both occurrences of id 1
        #expect((s as? DedupeStep)?.keyCount == 1)
        #expect(s.stateSize == 1)
        #expect((s as? DedupeStep)?.evictedCount == 1)
        h.send(["id": 1, "n": 4], time: 22)
        #expect(h.take().map { $0["n"] } == [1, 2, 3, 4])
    }

    /// The counts reach the per-step stats that `--stats` prints.
    @Test func countersReachTheStepStats() throws {
        let s = try compileStep("dedupe: { key: id, within: 1d, max_keys: 1 }").get()
        let chain = StepChain([StepChain.Entry(step: s, name: "dedupe", kind: "dedupe")])
        var sides: [(port: Int, event: Event)] = []
        var events = [Event(["id": 1]), Event(["id": 2]), Event(["id": 2])]
        for i in events.indices { events[i].time = Int64(i) }
        _ = chain.process(events, watermark: Int64.min, sides: &sides)
        _ = chain.advance(watermark: Int64.max, sides: &sides)
        #expect(chain.stats[0].counters.map(\.name) == ["dropped", "evicted"])
        #expect(chain.stats[0].counters.map(\.value) == [1, 1])
    }

    /// And the run's report, which `--stats` prints.
    @Test func countersReachTheRunReport() throws {
        let dir = NSTemporaryDirectory() + "sluice-dedupe-stats-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lines = [#"{"id":1,"ts":1}"#, #"{"id":2,"ts":2}"#, #"{"id":2,"ts":3}"#]
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/in.jsonl", atomically: true, encoding: .utf8)
        guard
            case .success(let p) = Result(catching: { () throws(Diagnostics) in
                try Pipeline.compile(
                    yaml: "name: d\ntime: { field: ts }\nsteps:\n  - dedupe: { key: id, within: 1d, max_keys: 1 }\n",
                    file: "p.yaml")
            })
        else {
            Issue.record("did not compile")
            return
        }
        var options = RunOptions()
        options.inputs["in"] = dir + "/in.jsonl"
        options.outputs["out"] = dir + "/out.jsonl"
        let run = try p.start(options)
        #expect(run.wait() == .completed)
        let stats = run.execution.totals.steps["main"]?.first
        #expect(stats?.counters.map(\.name) == ["dropped", "evicted"])
        #expect(stats?.counters.map(\.value) == [1, 1])
    }

    @Test func checkWarnsWhenNothingBoundsTheKeys() throws {
        func warnings(_ yaml: String) -> [String] {
            let text = "steps:\n  - " + yaml
            guard
                case .success(let p) = Result(catching: { () throws(Diagnostics) in
                    try Pipeline.compile(yaml: text, file: "p.yaml")
                })
            else { return ["did not compile"] }
            return p.warnings.items.map(\.description)
        }
        #expect(
            warnings("dedupe: { key: id, within: 10m }") == [
                "p.yaml:2:13: warning: 'dedupe' holds every distinct key seen within 10m, with no limit on how many (its memory grows with the number of distinct keys)\n"
                    + "p.yaml:2:13: note: add 'max_keys: N' to keep at most N keys (the oldest is evicted first)"
            ])
        #expect(warnings("dedupe: { key: id, within: 10m, max_keys: 1000 }").isEmpty)
    }

    @Test func configErrors() {
        func messages(_ yaml: String) -> [String] {
            guard case .failure(let d) = compileStep(yaml) else { return ["compiled"] }
            return d.items.filter { $0.severity == .error }.map(\.message)
        }
        #expect(messages("dedupe: { key: id }") == ["missing required key 'within' in 'dedupe'"])
        #expect(messages("dedupe: { key: id, within: 0s }") == ["'within' in 'dedupe' must be longer than zero"])
        #expect(messages("dedupe: { key: id, within: 10 }").first?.hasPrefix("invalid duration '10'") == true)
        #expect(
            messages("dedupe: { key: id, within: 1s, max_key: 3 }") == [
                "unknown key 'max_key' in 'dedupe'; did you mean 'max_keys'?"
            ])
        #expect(
            messages("dedupe: { key: id, within: 1s, max_keys: 0 }") == [
                "'max_keys' in 'dedupe' must be at least 1, found 0"
            ])
    }
}
