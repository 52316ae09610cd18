import SluiceRegex
import Testing

@Suite struct RE2SyntaxTests {
    @Test func literals() {
        #expect(find("abc", "xxabcxx") == "abc")
        #expect(find("abc", "ab") == nil)
        #expect(find("", "abc") == "")
        #expect(find("", "") == "")
        #expect(find("a", "") == nil)
        #expect(find("héllo", "say héllo!") == "héllo")
        #expect(find("aab", "aaab") == "aab")
    }

    @Test func escapes() {
        #expect(find(#"\n"#, "a\nb") == "\n")
        #expect(find(#"\t\r\f\v"#, "x\t\r\u{0C}\u{0B}") == "\t\r\u{0C}\u{0B}")
        #expect(find(#"\\"#, #"a\b"#) == #"\"#)
        #expect(find(#"a\.b"#, "axb a.b") == "a.b")
        #expect(find(#"\x41"#, "zA") == "A")
        #expect(find(#"\x{1F600}"#, "smile 😀") == "😀")
        #expect(find(#"\x{10FFFF}"#, "\u{10FFFF}") == "\u{10FFFF}")
        #expect(find(#"\*\+\?\(\)\[\]\{\}\|\^\$"#, "*+?()[]{}|^$") == "*+?()[]{}|^$")
        #expect(find(#"\101"#, "A") == "A")
        #expect(find(#"\0"#, "a\u{0}") == "\u{0}")
        #expect(find(#"\a"#, "\u{07}") == "\u{07}")
        #expect(find(#"\Qa.b*\E+"#, "a.b**") == "a.b**")
        #expect(find(#"\Qa.b"#, "xa.b") == "a.b")
    }

    @Test func dot() {
        #expect(find("a.c", "abc") == "abc")
        #expect(find("a.c", "a\nc") == nil)
        #expect(find("(?s)a.c", "a\nc") == "a\nc")
        #expect(find("a.c", "a😀c") == "a😀c")
        #expect(find("^.$", "é") == "é")  // one scalar (precomposed)
        #expect(find("^.$", "e\u{301}") == nil)  // two scalars, one grapheme
        #expect(find("^..$", "e\u{301}") == "e\u{301}")
    }

    @Test func characterClasses() {
        #expect(find("[a-c]+", "xxabcabd") == "abcab")
        #expect(find("[^a-c]+", "abcxyzabc") == "xyz")
        #expect(find("[]a]+", "]a]b") == "]a]")
        #expect(find("[a-]+", "-a-b") == "-a-")
        #expect(find("[-a]+", "-a-b") == "-a-")
        #expect(find(#"[\d\s]+"#, "ab1 2\t3c") == "1 2\t3")
        #expect(find(#"[^\d]+"#, "12ab3") == "ab")
        #expect(find("[[:alpha:]]+", "12abC3") == "abC")
        #expect(find("[[:^alpha:]]+", "ab12_cd") == "12_")
        #expect(find("[[:digit:][:upper:]]+", "abC1D2e") == "C1D2")
        #expect(find("[[:xdigit:]]+", "xyzBEEFg") == "BEEF")
        #expect(find("[[:space:]]+", "a \t\nb") == " \t\n")
        #expect(find("[[:punct:]]+", "ab!?.c") == "!?.")
        #expect(find("[[:word:]]+", "--a_1--") == "a_1")
        #expect(find("[^a]", "a\n") == "\n")  // negated classes match newline
        #expect(find("[α-ω]+", "abc αβγ") == "αβγ")
        #expect(find(#"[\x{1F600}-\x{1F64F}]"#, "hi 😃") == "😃")
        #expect(find(#"[\]\[\\]+"#, #"x[]\y"#) == #"[]\"#)
        #expect(find("[.]", "a.b") == ".")
    }

    @Test func perlClasses() {
        #expect(find(#"\d+"#, "abc123def") == "123")
        #expect(find(#"\d"#, "٣") == nil)  // ASCII only in RE2
        #expect(find(#"\D+"#, "12ab34") == "ab")
        #expect(find(#"\w+"#, "  foo_bar9 ") == "foo_bar9")
        #expect(find(#"\w"#, "é") == nil)
        #expect(find(#"\W+"#, "ab, cd") == ", ")
        #expect(find(#"\s+"#, "a \t\n\r\u{0C}b") == " \t\n\r\u{0C}")
        #expect(find(#"\s"#, "\u{0B}") == nil)  // RE2 \s excludes \v
        #expect(find(#"\S+"#, "  ab  ") == "ab")
    }

    @Test func anchors() {
        #expect(find("^abc", "abcabc") == "abc")
        #expect(find("^abc", "xabc") == nil)
        #expect(find("abc$", "abcabc") != nil)
        #expect(find("abc$", "abc\n") == nil)  // $ is end of text only
        #expect(find(#"\Aab"#, "abab") == "ab")
        #expect(find(#"ab\z"#, "abab") == "ab")
        #expect(find(#"ab\z"#, "ab\n") == nil)
        #expect(find("^$", "") == "")
        #expect(find("^", "abc") == "")
        #expect(find("$", "abc") == "")
        #expect(find("x^", "x") == nil)
        #expect(find(#"\bfoo\b"#, "a foo b") == "foo")
        #expect(find(#"\bfoo\b"#, "afoo b") == nil)
        #expect(find(#"\Boo\B"#, "foob") == "oo")
        #expect(find(#"\Boo\B"#, "oo") == nil)
        #expect(find(#"\b"#, "") == nil)
        #expect(find(#"\B"#, "") == "")
    }

    @Test func multiline() {
        let text = "one\ntwo\nthree"
        #expect(find("(?m)^two$", text) == "two")
        #expect(find("^two$", text) == nil)
        #expect(find("(?m)^t.*$", text) == "two")
        #expect(find("(?m)e$", text) == "e")
        #expect(find("(?m)^", "\n") == "")
        #expect(find(#"(?m)\Atwo"#, text) == nil)
        #expect(find(#"(?m)three\z"#, text) == "three")
        #expect(find("(?m)^$", "a\n\nb") == "")
        #expect(find("(?ms)^o.*o$", text) == "one\ntwo")
    }

    @Test func groupsAndAlternation() {
        #expect(find("a(b|c)d", "xacd") == "acd")
        #expect(find("(?:ab)+", "abababx") == "ababab")
        #expect(find("(?P<word>[a-z]+)-(?<num>[0-9]+)", "key foo-42") == "foo-42")
        #expect(find("cat|dog", "hotdog cat") == "dog")
        #expect(find("a|ab", "ab") == "a")  // leftmost-first, not longest
        #expect(find("ab|a", "ab") == "ab")
        #expect(find("(|a)b", "ab") == "ab")
        #expect(find("a||b", "b") == "")
        #expect(find("()", "x") == "")
        #expect(find("(a)(b)(c)", "abc") == "abc")
        #expect(find("((((a))))", "a") == "a")
    }

    @Test func quantifiers() {
        #expect(find("ab*", "abbbc") == "abbb")
        #expect(find("ab+", "ac abb") == "abb")
        #expect(find("ab?c", "ac abc") == "ac")
        #expect(find("a{3}", "aaaa") == "aaa")
        #expect(find("a{2,}", "a aaaaa") == "aaaaa")
        #expect(find("a{2,3}", "aaaaa") == "aaa")
        #expect(find("a{0}b", "aab") == "b")
        #expect(find("a{0,0}", "a") == "")
        #expect(find("(ab){2}", "abababab") == "abab")
        #expect(find("x{1000}", String(repeating: "x", count: 1000)) != nil)
        #expect(find("x{1000}", String(repeating: "x", count: 999)) == nil)
        // A '{' that is not a valid repetition is literal.
        #expect(find("a{", "a{") == "a{")
        #expect(find("a{,2}", "a{,2}") == "a{,2}")
        #expect(find("a{x}", "a{x}") == "a{x}")
        #expect(find("{", "{") == "{")
        #expect(find("a}", "a}") == "a}")
    }

    @Test func lazyQuantifiers() {
        #expect(find("a+?", "aaa") == "a")
        #expect(find("a*?", "aaa") == "")
        #expect(find("a??", "a") == "")
        #expect(find("a{2,4}?", "aaaa") == "aa")
        #expect(find("a{2,}?", "aaaa") == "aa")
        #expect(find("<.+?>", "<a><b>") == "<a>")
        #expect(find("<.+>", "<a><b>") == "<a><b>")
        #expect(find("a.*?b", "xaxxbxxb") == "axxb")
        // (?U) swaps greedy and lazy.
        #expect(find("(?U)a+", "aaa") == "a")
        #expect(find("(?U)a+?", "aaa") == "aaa")
        #expect(find("(?U:<.+>)", "<a><b>") == "<a>")
    }

    @Test func flags() {
        #expect(find("(?i)hello", "say HeLLo") == "HeLLo")
        #expect(find("(?i:a)b", "AB Ab") == "Ab")
        #expect(find("(?i)a(?-i)b", "AB Ab") == "Ab")
        #expect(find("a(?i)b|c", "C") == "C")  // flag persists across |
        #expect(find("(a(?i)b)c", "aBc aBC") == "aBc")  // flag scoped to group
        #expect(find("(?i)[a-c]+", "xABCabc") == "ABCabc")
        #expect(find("(?i)[^a]", "A") == nil)
        #expect(find("(?i)[^a]", "b") == "b")
        #expect(find("(?i)\\x41", "a") == "a")
        #expect(find("(?is)a.b", "A\nB") == "A\nB")
        #expect(find("(?i-s)a.b", "A\nB") == nil)
    }

    @Test func caseFolding() {
        #expect(find("(?i)k", "\u{212A}") == "\u{212A}")  // KELVIN SIGN
        #expect(find("(?i)\u{212A}", "k") == "k")
        #expect(find("(?i)s", "\u{17F}") == "\u{17F}")  // LONG S
        #expect(find("(?i)σ", "Σς") == "Σ")
        #expect(find("(?i)ς", "σ") == "σ")
        #expect(find("(?i)straße", "STRAẞE") == "STRAẞE")
        #expect(find("(?i)ǅ", "ǆ") == "ǆ")
        #expect(find("(?i)[k]", "\u{212A}") == "\u{212A}")
        #expect(find("(?i)[a-z]+", "ÀBC") == "BC")
        #expect(find("(?i)é", "É") == "É")
        #expect(find("(?i)1", "1") == "1")
        #expect(find("(?i)\\pL", "x") == "x")
    }

    @Test func unicodeClasses() {
        #expect(find(#"\pL+"#, "123héllo456") == "héllo")
        #expect(find(#"\p{L}+"#, "123 日本語 x") == "日本語")
        #expect(find(#"\p{Lu}+"#, "abcÀÉÎdef") == "ÀÉÎ")
        #expect(find(#"\p{Ll}+"#, "ABCàéîDEF") == "àéî")
        #expect(find(#"\pN+"#, "ab٣4Ⅻx") == "٣4Ⅻ")
        #expect(find(#"\p{Nd}+"#, "ab٣4Ⅻx") == "٣4")
        #expect(find(#"\pP+"#, "ab!¿«»x") == "!¿«»")
        #expect(find(#"\pS+"#, "a+€©b") == "+€©")
        #expect(find(#"\pZ"#, "a\u{2003}b") == "\u{2003}")
        #expect(find(#"\p{Greek}+"#, "abc αβγ def") == "αβγ")
        #expect(find(#"\p{Latin}+"#, "αβγ abcé") == "abcé")
        #expect(find(#"\p{Han}+"#, "abc 日本語 def") == "日本語")
        #expect(find(#"\p{Cyrillic}+"#, "abc Привет") == "Привет")
        #expect(find(#"\PL+"#, "ab12!cd") == "12!")
        #expect(find(#"\P{Greek}+"#, "αβabγ") == "ab")
        #expect(find(#"\p{^Greek}+"#, "αβabγ") == "ab")
        #expect(find(#"[\p{Greek}\d]+"#, "x1α2β") == "1α2β")
        #expect(find(#"[^\pL]+"#, "ab12cd") == "12")
        #expect(find(#"\p{Any}+"#, "a\nb") == "a\nb")
        #expect(find(#"😀+"#, "x😀😀y") == "😀😀")
    }

    @Test func firstMatchRanges() throws {
        let re = try RegexPattern("b+")
        let text = "aébbbc"
        let r = try #require(re.firstMatch(in: text))
        #expect(text[r] == "bbb")
        #expect(text.distance(from: text.startIndex, to: r.lowerBound) == 2)
        #expect(re.pattern == "b+")
        // Works on non-native (bridged-like) substrings converted to String too.
        let sub = String("xxbbyy".dropFirst())
        #expect(try RegexPattern("b+").firstMatch(in: sub).map { String(sub[$0]) } == "bb")
    }

    @Test func compileOnceMatchMany() throws {
        let re = try RegexPattern(#"^[a-z]+\d*$"#)
        let inputs = ["abc", "abc123", "123", "", "ab c", "zz9"]
        #expect(inputs.map(re.matches) == [true, true, false, false, false, true])
    }

    @Test func concurrentUse() async throws {
        let re = try RegexPattern(#"(\w+)@(\w+)\.com"#)
        let results = await withTaskGroup(of: Bool.self, returning: [Bool].self) { group in
            for i in 0..<16 {
                group.addTask { re.matches("user\(i)@example.com") && !re.matches("nobody") }
            }
            var out: [Bool] = []
            for await r in group { out.append(r) }
            return out
        }
        #expect(results.count == 16 && results.allSatisfy { $0 })
    }
}
