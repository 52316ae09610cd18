import SluiceRegex
import Testing

@Suite struct EdgeCaseTests {
    @Test func emptyAlternativesAndGroups() {
        #expect(find("|", "abc") == "")
        #expect(find("a|", "b") == "")
        #expect(find("(?:)", "x") == "")
        #expect(find("x*", "") == "")
        #expect(find("(a*)+", "b") == "")
        #expect(find("(a*)*", "aa") == "aa")
        #expect(find("(a|b)*?c", "abac") == "abac")
        #expect(find("(?:a|ab)(?:c|bcd)", "abcd") == "abcd")  // first alternative wins, then backs into bcd
    }

    @Test func perlClassesAreNotCaseFolded() {
        #expect(find(#"(?i)\W"#, "k") == nil)
        #expect(find(#"(?i)\S"#, "k") == "k")
        #expect(find(#"(?i)\w"#, "\u{212A}") == nil)
    }

    @Test func ecmaGroupNames() {
        #expect(find("(?<año>\\d+)", "x12", .ecma262) == "12")
        #expect(find("(?<$x>a)", "a", .ecma262) == "a")
        #expect(compileError("(?<a-b>x)", .ecma262) != nil)
        #expect(compileError("(?<a-b>x)") != nil)
    }

    @Test func literalPrefixSkipKeepsContext() {
        // The prefix skip must still evaluate \b against the preceding scalar.
        #expect(find(#"ab\b"#, "xab abc ab") == "ab")
        #expect(find(#"é\B"#, "aé éb") == "é")
        #expect(find("foo(bar|baz)", "xxfoo foobaz") == "foobaz")
        #expect(find("日本+", "ああ日本本語") == "日本本")
        let re = try? RegexPattern("abc")
        let text = "xyzabcabc"
        #expect(re?.firstMatch(in: text).map { text.distance(from: text.startIndex, to: $0.lowerBound) } == 3)
    }

    @Test func firstScalarFilterKeepsContext() {
        #expect(find(#"\b[0-9]+"#, "a1 22") == "22")
        #expect(find("[éx]y", "aaéy") == "éy")
        #expect(find("[^a]y", "aaéy") == "éy")
        #expect(find("(?:b|c)+d", "abcbcd") == "bcbcd")
        #expect(find("(?m)^b", "ab\nb") == "b")
        #expect(find("[0-9]+x", "123 456") == nil)
    }

    @Test func anchoredPatternsOnlyMatchAtStart() {
        #expect(find("^ab|^cd", "xcd") == nil)
        #expect(find("^ab|cd", "xcd") == "cd")
        #expect(find(#"\Aa+"#, "baa") == nil)
        #expect(find("(?:^a)+", "aa") == "a")
    }

    @Test func manyScalarsAndEmoji() {
        let text = String(repeating: "😀é", count: 1000) + "Z"
        #expect(find("Z$", text) == "Z")
        #expect(find("(?:😀é)+Z", text) == text)
        #expect(find("[^😀]Z", text) == "éZ")
    }
}
