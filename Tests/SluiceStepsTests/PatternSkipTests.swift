import SluiceCore
import SluiceJSON
import Testing

/// After-match skip strategies: the Flink documentation's `b+ c` over `b1 b2 b3 c` table.
@Suite struct PatternSkipTests {
    func run(_ skip: String) throws -> [String] {
        let (h, _) = try PatternTest.step(
            """
            skip: \(skip)
            within: 1m
            sequence:
              - name: b
                where: kind == "b"
                times: { min: 1 }
              - name: c
                where: kind == "c"
                contiguity: strict
            """)
        PatternTest.send(h, "b1 b2 b3 c")
        return PatternTest.finish(h)
    }

    @Test func flinkSkipTable() throws {
        #expect(try run("none") == ["{b1 b2 b3 c}", "{b2 b3 c}", "{b3 c}"])
        #expect(try run("to_next") == ["{b1 b2 b3 c}", "{b2 b3 c}", "{b3 c}"])
        #expect(try run("past_last") == ["{b1 b2 b3 c}"])
    }

    @Test func toNextDiscardsMatchesStartingWithTheSameEvent() throws {
        let (h, _) = try PatternTest.step(
            """
            skip: to_next
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
                contiguity: any
            """)
        PatternTest.send(h, "a1 a2 b1 b2")
        // none would give {a1 b1} {a2 b1} {a1 b2} {a2 b2}
        #expect(PatternTest.finish(h) == ["{a1 b1}", "{a2 b1}"])
    }

    @Test func pastLastIsTheDefault() throws {
        let (h, _) = try PatternTest.step(
            """
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
            """)
        PatternTest.send(h, "a1 a2 b1 a3 b2")
        #expect(PatternTest.finish(h) == ["{a1 b1}", "{a3 b2}"])
    }

    @Test func pastLastKeepsMatchesStartedAfterTheLastEvent() throws {
        let (h, _) = try PatternTest.step(
            """
            skip: past_last
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
                contiguity: any
            """)
        PatternTest.send(h, "a1 b1 a2 b2")
        #expect(PatternTest.finish(h) == ["{a1 b1}", "{a2 b2}"])
    }
}
