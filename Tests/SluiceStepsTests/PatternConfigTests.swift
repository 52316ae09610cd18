import SluiceCore
import SluiceJSON
import Testing

/// Every pattern mistake is a diagnostic with line and column (config line N of these
/// snippets is line N+2 of the file, columns shifted by 6).
@Suite struct PatternConfigTests {
    func one(_ config: String) -> (String, Int, Int)? {
        guard let d = PatternTest.errors(config).first else { return nil }
        return (d.message, d.location?.line ?? 0, d.location?.column ?? 0)
    }

    @Test func duplicateNames() {
        let e = one(
            """
            sequence:
              - name: login
              - name: login
            """)
        #expect(e?.0 == "duplicate pattern name 'login'; names must be unique")
        #expect(e?.1 == 5)
        #expect(e?.2 == 17)
    }

    @Test func unboundedTimesWithoutWithin() {
        let e = one(
            """
            sequence:
              - name: a
                times: { min: 2 }
            """)
        #expect(e?.0 == "step 'a' has no upper bound ('times' without 'max') and the pattern has no 'within'")
        #expect(e?.1 == 5)
        #expect(e?.2 == 18)
    }

    @Test func badValuesAndKeys() {
        #expect(
            one(
                """
                sequence:
                  - name: a
                    contiguity: strct
                """)?.0 == "unknown value 'strct' for 'contiguity' in 'sequence step'; did you mean 'strict'?")
        #expect(
            one(
                """
                withn: 1m
                sequence:
                  - name: a
                """)?.0 == "unknown key 'withn' in 'pattern'; did you mean 'within'?")
        #expect(
            one(
                """
                skip: past_first
                sequence:
                  - name: a
                """)?.0 == "unknown value 'past_first' for 'skip' in 'pattern'; did you mean 'past_last'?")
        #expect(
            one(
                """
                sequence:
                  - name: a
                    times: { min: 3, max: 2 }
                """)?.0 == "'max' (2) is less than 'min' (3) in 'times'")
        #expect(
            one(
                """
                sequence:
                  - name: a
                    times: 0
                """)?.0 == "'times' in 'sequence step' must be between 1 and 2147483647, found 0")
        #expect(
            one(
                """
                sequence:
                  - name: a-b
                """)?.0
                == "pattern name 'a-b' is not an identifier; use letters, digits and '_', not starting with a digit")
        #expect(
            one(
                """
                sequence:
                  - where: x > 1
                """)?.0 == "missing required key 'name' in 'sequence step'")
        #expect(one("within: 0s\nsequence:\n  - name: a")?.0 == "'within' in 'pattern' must be longer than zero")
        #expect(one("within: 10\nsequence:\n  - name: a")?.0.hasPrefix("invalid duration '10'") == true)
        #expect(one("sequence: []")?.0 == "'sequence' in 'pattern' is empty; add at least one step")
        #expect(one("key: user")?.0 == "missing required key 'sequence' in 'pattern'")
    }

    @Test func expressionErrorsPointIntoTheExpression() {
        let e = one(
            """
            sequence:
              - name: a
                where: amount >> 1
            """)
        #expect(e?.1 == 5)
        #expect((e?.2 ?? 0) > 18)
    }

    @Test func allMistakesAreReported() {
        let all = PatternTest.errors(
            """
            sequence:
              - name: a
              - name: a
                times: { min: 2 }
              - not: { where: x == 1 }
            """)
        #expect(all.count == 3)
    }
}
