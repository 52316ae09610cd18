import SluiceRegex
import Testing

/// Patterns that make backtracking engines exponential or quadratic must
/// complete (linear time); we assert the results.
@Suite struct PathologicalTests {
    static let n = 30_000
    let xs = String(repeating: "x", count: PathologicalTests.n)
    let as_ = String(repeating: "a", count: PathologicalTests.n)

    @Test func nestedStarNoMatch() throws {
        let re = try RegexPattern("(a*)*b")
        #expect(!re.matches(as_))
        #expect(re.firstMatch(in: as_) == nil)
        #expect(re.matches(as_ + "b"))
    }

    @Test func overlappingAlternation() throws {
        let re = try RegexPattern("(a|aa)*c")
        #expect(!re.matches(as_))
        let r = try #require(re.firstMatch(in: as_ + "c"))
        #expect(r == (as_ + "c").startIndex..<(as_ + "c").endIndex)
    }

    @Test func exponentialClassic() throws {
        let re = try RegexPattern("(x+x+)+y")
        #expect(!re.matches(xs))
        #expect(re.matches(xs + "y"))
        let ecma = try RegexPattern("^(x+x+)+y$", syntax: .ecma262)
        #expect(!ecma.matches(xs))
    }

    @Test func optionalBlowUp() throws {
        // a?^n a^n against a^n (the classic Thompson example).
        let k = 30
        let pattern = String(repeating: "a?", count: k) + String(repeating: "a", count: k)
        let re = try RegexPattern(pattern)
        #expect(re.matches(String(repeating: "a", count: k)))
        #expect(!re.matches(String(repeating: "a", count: k - 1)))
    }

    @Test func quadraticScanAvoided() throws {
        let re = try RegexPattern(#"\d+z"#)
        let digits = String(repeating: "1", count: Self.n)
        #expect(!re.matches(digits))
        let re2 = try RegexPattern(".*.*=.*;")
        #expect(!re2.matches(String(repeating: "=", count: Self.n)))
    }

    @Test func nestedCountedRepetition() throws {
        let re = try RegexPattern("(a{2,5}){2,5}b")
        #expect(!re.matches(as_))
        #expect(re.firstMatch(in: "aaaaaaaaaaaab").map { _ in true } == true)
    }

    @Test func literalPrefixAndLongLiteral() throws {
        let re = try RegexPattern("xxxxxxxxxy")
        #expect(!re.matches(xs))
        #expect(re.matches(xs + "y"))
        let re2 = try RegexPattern("xy+z")
        #expect(!re2.matches(xs + "yyyy"))
        let big = String(repeating: "ab", count: Self.n) + "abc"
        let r = try #require(try RegexPattern("ab(ab)*c").firstMatch(in: big))
        #expect(big[r] == big[...])
    }
}
