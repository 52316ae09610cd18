import SluiceCore
import Testing

@Suite struct ConfigSuggestTests {
    let steps = ["filter", "enrich", "map", "validate", "dedupe", "reorder", "route", "window", "pattern"]

    @Test func distance() {
        #expect(editDistance("fliter", "filter") == 1)
        #expect(editDistance("kitten", "sitting") == 3)
        #expect(editDistance("", "abc") == 3)
        #expect(editDistance("ab", "ba") == 1)
    }

    @Test func suggestions() {
        #expect(closestMatch(to: "fliter", among: steps) == "filter")
        #expect(closestMatch(to: "windw", among: steps) == "window")
        #expect(closestMatch(to: "Filter", among: steps) == "filter")
        #expect(closestMatch(to: "withn", among: ["within", "key", "sequence"]) == "within")
        #expect(closestMatch(to: "strct", among: ["strict", "relaxed", "any"]) == "strict")
        #expect(closestMatch(to: "xyz", among: steps) == nil)
        #expect(closestMatch(to: "m", among: ["n"]) == nil)
        #expect(closestMatch(to: "filter", among: steps) == nil)
    }

    @Test func tiesAreDeterministic() {
        #expect(closestMatch(to: "ab", among: ["ac", "aa"]) == "aa")
        #expect(closestMatch(to: "ab", among: ["aa", "ac"]) == "aa")
    }

    @Test func didYouMeanText() {
        #expect(didYouMean("fliter", among: steps) == "; did you mean 'filter'?")
        #expect(didYouMean("qqqq", among: steps) == "")
    }
}
