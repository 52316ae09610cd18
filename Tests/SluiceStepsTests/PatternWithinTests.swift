import SluiceCore
import SluiceJSON
import SluiceSteps
import Testing

/// `within`: measured from the first event; the last must be strictly less than
/// `within` after it (Flink prunes at `ts - start >= within`). Also event-time order and
/// lateness.
@Suite struct PatternWithinTests {
    func ab() throws -> (StepHarness, PatternStep) {
        try PatternTest.step(
            """
            within: 10s
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
            """)
    }

    @Test func lastEventStrictlyInsideTheWindow() throws {
        let (h, _) = try ab()
        PatternTest.send(h, "a b", start: 1000, step: 9999)
        #expect(PatternTest.finish(h) == ["{a b}"])
        let (h2, _) = try ab()
        PatternTest.send(h2, "a b", start: 1000, step: 10000)
        #expect(PatternTest.finish(h2) == [])
    }

    @Test func windowCountsFromTheFirstEventNotThePrevious() throws {
        let (h, _) = try PatternTest.step(
            """
            within: 10s
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
              - name: c
                where: kind == "c"
            """)
        PatternTest.send(h, "a b c", start: 0, step: 6000)
        #expect(PatternTest.finish(h) == [])
    }

    @Test func eventsAreMatchedInEventTimeOrder() throws {
        let (h, _) = try ab()
        h.send(["kind": "b", "id": "b"], time: 2000)
        h.send(["kind": "a", "id": "a"], time: 1000)
        #expect(PatternTest.finish(h) == ["{a b}"])
    }

    @Test func equalTimesKeepArrivalOrder() throws {
        let (h, _) = try ab()
        h.send(["kind": "b", "id": "b"], time: 1000)
        h.send(["kind": "a", "id": "a"], time: 1000)
        h.send(["kind": "b", "id": "b2"], time: 1000)
        #expect(PatternTest.finish(h) == ["{a b2}"])
    }

    @Test func lateEventsGoToLate() throws {
        let (h, _) = try ab()
        h.send(["kind": "a", "id": "a"], time: 1000)
        h.advance(to: 5000)
        h.send(["kind": "b", "id": "late"], time: 4999)
        h.send(["kind": "b", "id": "b"], time: 5000)
        #expect(h.sides[SidePort.late]?.map(\.value) == [["kind": "b", "id": "late"]])
        #expect(PatternTest.finish(h) == ["{a b}"])
    }

    @Test func eventsWaitForTheWatermark() throws {
        let (h, s) = try ab()
        h.send(["kind": "a", "id": "a"], time: 1000)
        h.send(["kind": "b", "id": "b"], time: 2000)
        #expect(h.take() == [])
        #expect(s.queuedEvents == 2)
        h.advance(to: 2000)
        #expect(h.take().count == 1)
        #expect(s.stateSize == 0)
    }
}
