import SluiceCore
import SluiceJSON
import Testing

/// `times: N | {min, max}`: counts, lists in captures, unbounded loops.
@Suite struct PatternQuantifierTests {
    @Test func exactTimesCapturesAList() throws {
        let (h, _) = try PatternTest.step(
            """
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
                times: 3
            """)
        PatternTest.send(h, "a b1 x b2 b3 b4")
        h.advance(to: Int64.max)
        let out = h.take()
        #expect(out.map(PatternTest.ids) == ["{a b1 b2 b3}"])
        #expect(out.first?["b"]?.arrayValue?.count == 3)
        #expect(out.first?["a"]?["id"] == "a")
    }

    @Test func rangeEmitsEachLengthWithNoSkip() throws {
        let (h, _) = try PatternTest.step(
            """
            skip: none
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
                times: { min: 2, max: 3 }
            """)
        PatternTest.send(h, "a b1 b2 b3 b4")
        #expect(PatternTest.finish(h) == ["{a b1 b2}", "{a b1 b2 b3}"])
    }

    @Test func rangeWithPastLastEmitsTheShortestFirst() throws {
        let (h, _) = try PatternTest.step(
            """
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
                times: { min: 2, max: 3 }
            """)
        PatternTest.send(h, "a b1 b2 b3 a b4 b5")
        #expect(PatternTest.finish(h) == ["{a b1 b2}", "{a b4 b5}"])
    }

    @Test func unboundedNeedsWithinAndLoopsUntilTheNextStep() throws {
        let (h, _) = try PatternTest.step(
            """
            within: 1m
            skip: none
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
                times: { min: 2 }
              - name: c
                where: kind == "c"
            """)
        PatternTest.send(h, "a b1 b2 b3 c")
        #expect(Set(PatternTest.finish(h)) == ["{a b1 b2 c}", "{a b1 b2 b3 c}"])
    }

    @Test func loopingFirstStepStartsAMatchAtEachEvent() throws {
        let (h, _) = try PatternTest.step(
            """
            within: 1m
            skip: none
            sequence:
              - name: b
                where: kind == "b"
                times: { min: 1 }
              - name: c
                where: kind == "c"
                contiguity: strict
            """)
        PatternTest.send(h, "b1 b2 b3 c")
        #expect(PatternTest.finish(h) == ["{b1 b2 b3 c}", "{b2 b3 c}", "{b3 c}"])
    }

    @Test func timesOneIsASingleEventNotAList() throws {
        let (h, _) = try PatternTest.step(
            """
            sequence:
              - name: a
                where: kind == "a"
                times: 1
            """)
        PatternTest.send(h, "a")
        h.advance(to: Int64.max)
        #expect(h.take().first?["a"]?["id"] == "a")
    }
}
