import SluiceCore
import SluiceJSON
import SluiceSteps
import Testing

/// `not`: absence between neighbours (Flink notFollowedBy / notNext) and at the end.
@Suite struct PatternNegationTests {
    func between(_ contiguity: String, _ input: String) throws -> [String] {
        let (h, _) = try PatternTest.step(
            """
            sequence:
              - name: a
                where: kind == "a"
              - not: { where: kind == "x", contiguity: \(contiguity) }
              - name: b
                where: kind == "b"
            """)
        PatternTest.send(h, input)
        return PatternTest.finish(h)
    }

    @Test func notFollowedBy() throws {
        #expect(try between("relaxed", "a x b") == [])
        #expect(try between("relaxed", "a y b") == ["{a b}"])
        #expect(try between("relaxed", "a y x y b") == [])
        #expect(try between("relaxed", "a b x") == ["{a b}"])
        // a new a after the x starts afresh
        #expect(try between("relaxed", "a1 x a2 b") == ["{a2 b}"])
    }

    @Test func notNext() throws {
        #expect(try between("strict", "a x b") == [])
        #expect(try between("strict", "a y x b") == ["{a b}"])
    }

    @Test func anEventMatchingBothTheNotAndTheNextStepKills() throws {
        let (h, _) = try PatternTest.step(
            """
            sequence:
              - name: a
                where: kind == "a"
              - not: { where: kind == "b" && id == "b1" }
              - name: b
                where: kind == "b"
            """)
        PatternTest.send(h, "a b1 b2")
        #expect(PatternTest.finish(h) == [])
    }

    func trailing() throws -> (StepHarness, PatternStep) {
        try PatternTest.step(
            """
            key: user
            within: 10s
            sequence:
              - name: created
                where: kind == "created"
              - not: { where: kind == "shipped" }
            """)
    }

    @Test func endingInNotEmitsWhenTheWindowEnds() throws {
        let (h, s) = try trailing()
        h.send(["kind": "created", "id": "o1", "user": "u"], time: 1000)
        h.advance(to: 10999)
        #expect(h.take() == [])
        h.advance(to: 11000)
        let out = h.emitted
        #expect(out.map(\.value) == [["created": ["kind": "created", "id": "o1", "user": "u"]]])
        #expect(out.first?.time == 11000)
        #expect(s.livePartialMatches == 0)
    }

    @Test func endingInNotIsCancelledByTheEvent() throws {
        let (h, _) = try trailing()
        h.send(["kind": "created", "id": "o1", "user": "u"], time: 1000)
        h.send(["kind": "shipped", "id": "o1", "user": "u"], time: 5000)
        h.send(["kind": "shipped", "id": "o1", "user": "other"], time: 5000)
        h.advance(to: Int64.max)
        #expect(h.take() == [])
    }

    @Test func anEventAtTheWindowEndIsTooLateToCancel() throws {
        let (h, _) = try trailing()
        h.send(["kind": "created", "id": "o1", "user": "u"], time: 1000)
        h.send(["kind": "shipped", "id": "o1", "user": "u"], time: 11000)
        h.advance(to: Int64.max)
        #expect(h.take().count == 1)
    }

    @Test func patternMistakesAboutNot() {
        let first = PatternTest.errors(
            """
            within: 1m
            sequence:
              - not: { where: x == 1 }
              - name: a
            """)
        #expect(first.map(\.message) == ["a pattern cannot start with 'not'; put a step before it"])
        #expect(first.first?.location?.line == 5)
        #expect(first.first?.location?.column == 11)

        let afterOptional = PatternTest.errors(
            """
            within: 1m
            sequence:
              - name: a
              - name: b
                optional: true
              - not: { where: x == 1 }
              - name: c
            """)
        #expect(afterOptional.map(\.message) == ["'not' cannot directly follow the optional step 'b'"])
        #expect(afterOptional.first?.location?.line == 8)

        let noWithin = PatternTest.errors(
            """
            sequence:
              - name: a
              - not: { where: x == 1 }
            """)
        #expect(noWithin.map(\.message) == ["a pattern ending in 'not' needs 'within'"])
        #expect(noWithin.first?.location?.line == 5)
        #expect(noWithin.first?.location?.column == 11)

        let anyNot = PatternTest.errors(
            """
            within: 1m
            sequence:
              - name: a
              - not: { where: x == 1, contiguity: any }
            """)
        #expect(anyNot.first?.message.hasPrefix("unknown value 'any' for 'contiguity' in 'not'") == true)
    }
}
