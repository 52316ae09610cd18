import Sluice
import Testing

/// The reasons tally behind the end-of-run summary stays bounded and ordered.
@Suite struct DeadLetterReasonsTests {
    @Test func mostFrequentFirstWithFirstLines() {
        var r = DeadLetterReasons()
        r.note("b", line: 1)
        r.note("a", line: 2)
        r.note("a", line: 3)
        r.note("c", line: 0)
        #expect(r.sorted.map(\.reason) == ["a", "b", "c"])
        #expect(r.summary() == "a: 2, first at line 2; b: 1, first at line 1; c: 1")
        #expect(r.summary(limit: 1) == "a: 2, first at line 2; 2 with other reasons")
    }

    @Test func distinctReasonsAreCappedAndTheRestCountedAsOther() {
        var r = DeadLetterReasons()
        for i in 0..<1000 { r.note("reason \(i)", line: i + 1) }
        #expect(r.sorted.count == DeadLetterReasons.maxReasons)
        #expect(r.other == 1000 - DeadLetterReasons.maxReasons)
        #expect(r.summary().hasSuffix("; 997 with other reasons"))
    }
}
