import SluiceCore
import SluiceJSON
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

    @Test func maxKeysRejectsNewKeysWhenFull() throws {
        let (h, s) = try step("dedupe: { key: id, within: 10s, max_keys: 2 }")
        h.send(["id": 1], time: 0)
        h.send(["id": 2], time: 0)
        h.send(["id": 3], time: 0)
        h.send(["id": 1], time: 1)  // a known key is still deduplicated
        #expect(h.take() == [["id": 1], ["id": 2]])
        let rejected = h.sides[SidePort.rejected] ?? []
        #expect(rejected.count == 1)
        #expect(rejected.first?.value["error"]?["message"] == "dedupe holds 2 keys (max_keys) and this event has a new key: raise 'max_keys' or shorten 'within'")
        h.advance(to: 10_000)
        #expect(s.stateSize == 0)
        h.send(["id": 3], time: 10_000)
        #expect(h.take() == [["id": 3]])
    }

    @Test func configErrors() {
        func messages(_ yaml: String) -> [String] {
            guard case .failure(let d) = compileStep(yaml) else { return ["compiled"] }
            return d.items.map(\.message)
        }
        #expect(messages("dedupe: { key: id }") == ["missing required key 'within' in 'dedupe'"])
        #expect(messages("dedupe: { key: id, within: 0s }") == ["'within' in 'dedupe' must be longer than zero"])
        #expect(messages("dedupe: { key: id, within: 10 }").first?.hasPrefix("invalid duration '10'") == true)
        #expect(messages("dedupe: { key: id, within: 1s, max_key: 3 }") == ["unknown key 'max_key' in 'dedupe'; did you mean 'max_keys'?"])
        #expect(messages("dedupe: { key: id, within: 1s, max_keys: 0 }") == ["'max_keys' in 'dedupe' must be at least 1, found 0"])
    }
}
