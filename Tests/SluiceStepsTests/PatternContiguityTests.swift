import SluiceCore
import SluiceJSON
import Testing

/// Contiguity: the worked examples of the Flink CEP documentation, with their documented
/// results (see docs/patterns.md for the one place Sluice differs from the text).
@Suite struct PatternContiguityTests {
    func ab(_ contiguity: String) throws -> [String] {
        let (h, _) = try PatternTest.step(
            """
            skip: none
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
                contiguity: \(contiguity)
            """)
        PatternTest.send(h, "a c b1 b2")
        return PatternTest.finish(h)
    }

    @Test func flinkTwoStepExample() throws {
        // Flink docs: pattern "a b", events "a", "c", "b1", "b2".
        #expect(try ab("strict") == [])
        #expect(try ab("relaxed") == ["{a b1}"])
        #expect(try ab("any") == ["{a b1}", "{a b2}"])
    }

    func loop(_ inner: String, c: String = "relaxed") throws -> Set<String> {
        let (h, _) = try PatternTest.step(
            """
            skip: none
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
                contiguity: any
                times: { min: 1, contiguity: \(inner) }
              - name: c
                where: kind == "c"
                contiguity: \(c)
            within: 1h
            """)
        PatternTest.send(h, "a b1 d1 b2 d2 b3 c")
        return Set(PatternTest.finish(h))
    }

    @Test func flinkLoopExampleRelaxed() throws {
        #expect(
            try loop("relaxed") == ["{a b1 c}", "{a b1 b2 c}", "{a b1 b2 b3 c}", "{a b2 c}", "{a b2 b3 c}", "{a b3 c}"])
    }

    @Test func flinkLoopExampleAny() throws {
        #expect(
            try loop("any") == [
                "{a b1 c}", "{a b1 b2 c}", "{a b1 b3 c}", "{a b1 b2 b3 c}", "{a b2 c}", "{a b2 b3 c}", "{a b3 c}",
            ])
    }

    @Test func flinkLoopExampleStrict() throws {
        // The documented {a b3 c} needs c to follow b strictly too.
        #expect(try loop("strict", c: "strict") == ["{a b3 c}"])
        // With c relaxed, each single b is followed (eventually) by c.
        #expect(try loop("strict") == ["{a b1 c}", "{a b2 c}", "{a b3 c}"])
    }

    func consecutive(_ first: String, _ inner: String) throws -> [String] {
        let (h, _) = try PatternTest.step(
            """
            skip: none
            within: 1h
            sequence:
              - name: start
                where: kind == "C"
              - name: middle
                where: kind == "A"
                contiguity: \(first)
                times: { min: 1, contiguity: \(inner) }
              - name: end1
                where: kind == "B"
            """)
        PatternTest.send(h, "C D A1 A2 A3 D A4 B")
        return PatternTest.finish(h)
    }

    @Test func flinkConsecutiveExample() throws {
        #expect(Set(try consecutive("relaxed", "strict")) == ["{C A1 B}", "{C A1 A2 B}", "{C A1 A2 A3 B}"])
        #expect(
            Set(try consecutive("relaxed", "relaxed")) == [
                "{C A1 B}", "{C A1 A2 B}", "{C A1 A2 A3 B}", "{C A1 A2 A3 A4 B}",
            ])
    }

    @Test func flinkAllowCombinationsExample() throws {
        let all = Set(try consecutive("any", "any"))
        #expect(
            all == [
                "{C A1 B}", "{C A1 A2 B}", "{C A1 A3 B}", "{C A1 A4 B}", "{C A1 A2 A3 B}", "{C A1 A2 A4 B}",
                "{C A1 A3 A4 B}",
                "{C A1 A2 A3 A4 B}", "{C A2 B}", "{C A2 A3 B}", "{C A2 A4 B}", "{C A2 A3 A4 B}", "{C A3 B}",
                "{C A3 A4 B}", "{C A4 B}",
            ])
        // Relaxed into the loop: the first A is the first one after C.
        #expect(Set(try consecutive("relaxed", "any")).count == 8)
    }

    @Test func timesDefaultsToTheStepsContiguity() throws {
        let (h, _) = try PatternTest.step(
            """
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
                times: 2
                contiguity: strict
            """)
        PatternTest.send(h, "a b1 x b2 a b3 b4")
        #expect(PatternTest.finish(h) == ["{a b3 b4}"])
    }

    @Test func emissionOrderIsEarliestStartFirst() throws {
        let (h, _) = try PatternTest.step(
            """
            skip: none
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
            """)
        PatternTest.send(h, "a1 a2 b")
        #expect(PatternTest.finish(h) == ["{a1 b}", "{a2 b}"])
    }
}
