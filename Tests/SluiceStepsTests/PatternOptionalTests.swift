import SluiceCore
import SluiceJSON
import Testing

/// `optional: true`: a step that may match no event.
@Suite struct PatternOptionalTests {
    func abc(_ skip: String, _ input: String) throws -> [String] {
        let (h, _) = try PatternTest.step(
            """
            skip: \(skip)
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
                optional: true
              - name: c
                where: kind == "c"
            """)
        PatternTest.send(h, input)
        return PatternTest.finish(h)
    }

    @Test func optionalMiddleStep() throws {
        #expect(try abc("past_last", "a c") == ["{a c}"])
        #expect(try abc("past_last", "a b c") == ["{a b c}"])
        // As in Flink, the branch that skipped b waits for c too.
        #expect(try abc("none", "a b c") == ["{a b c}", "{a c}"])
        #expect(try abc("none", "a x c") == ["{a c}"])
    }

    @Test func optionalCaptureIsLeftOutOfTheMatch() throws {
        let (h, _) = try PatternTest.step(
            """
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
                optional: true
              - name: c
                where: kind == "c"
            """)
        PatternTest.send(h, "a c")
        h.advance(to: Int64.max)
        let m = h.take()
        #expect(m.first?.objectValue?.keys == ["a", "c"])
    }

    @Test func optionalFirstStep() throws {
        let (h, _) = try PatternTest.step(
            """
            skip: none
            sequence:
              - name: a
                where: kind == "a"
                optional: true
              - name: b
                where: kind == "b"
            """)
        PatternTest.send(h, "a b")
        #expect(PatternTest.finish(h) == ["{a b}", "{b}"])
    }

    @Test func optionalLastStepCompletesWithoutIt() throws {
        let (h, _) = try PatternTest.step(
            """
            skip: none
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
                optional: true
            """)
        PatternTest.send(h, "a b")
        #expect(PatternTest.finish(h) == ["{a}", "{a b}"])
    }

    @Test func optionalLoopIsZeroOrMinToMax() throws {
        let (h, _) = try PatternTest.step(
            """
            skip: none
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
                optional: true
                times: { min: 2, max: 2 }
              - name: c
                where: kind == "c"
            """)
        PatternTest.send(h, "a b1 c1 b2 b3 c2")
        // {a b1 c1} is impossible: one b is neither zero nor two; relaxed skips c1 inside the loop.
        #expect(Set(PatternTest.finish(h)) == ["{a c1}", "{a b1 b2 c2}"])
    }
}
