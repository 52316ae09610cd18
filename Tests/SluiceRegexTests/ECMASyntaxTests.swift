import SluiceRegex
import Testing

@Suite struct ECMASyntaxTests {
    let e = RegexSyntax.ecma262

    @Test func basics() {
        #expect(find("^[a-z]+$", "hello", e) == "hello")
        #expect(find("^[a-z]+$", "Hello", e) == nil)
        #expect(find("a/b", "xa/by", e) == "a/b")  // '/' needs no escape
        #expect(find(#"a\/b"#, "a/b", e) == "a/b")
        #expect(find("(?<year>\\d{4})-(?<m>\\d\\d)", "on 2024-05-01", e) == "2024-05")
        #expect(find("(?:ab)+?", "abab", e) == "ab")
        #expect(find("a{2,3}", "aaaa", e) == "aaa")
        #expect(find("x{", "x{", e) == "x{")  // Annex B literal brace
        #expect(find("]", "]", e) == "]")
    }

    @Test func escapes() {
        #expect(find(#"\u0041"#, "zA", e) == "A")
        #expect(find(#"\u{1F600}"#, "😀", e) == "😀")
        #expect(find(#"\uD83D\uDE00"#, "😀", e) == "😀")  // surrogate pair
        #expect(find(#"\x41"#, "A", e) == "A")
        #expect(find(#"\cJ"#, "\n", e) == "\n")
        #expect(find(#"\ca"#, "\u{01}", e) == "\u{01}")
        #expect(find(#"\0"#, "\u{0}", e) == "\u{0}")
        #expect(find(#"[\b]"#, "\u{08}", e) == "\u{08}")
        #expect(find(#"\t\n\v\f\r"#, "\t\n\u{0B}\u{0C}\r", e) == "\t\n\u{0B}\u{0C}\r")
        #expect(find(#"[\-\]]+"#, "a-]-b", e) == "-]-")
    }

    @Test func classes() {
        #expect(find(#"\d+"#, "٣12", e) == "12")  // ASCII only
        #expect(find(#"\w+"#, "éab_1é", e) == "ab_1")  // ASCII only
        #expect(find(#"\s+"#, "a\u{A0}\u{2003}\u{FEFF}\u{0B}b", e) == "\u{A0}\u{2003}\u{FEFF}\u{0B}")
        #expect(find(#"\S+"#, "\u{3000}ab\u{3000}", e) == "ab")
        #expect(find("[^]", "\n", e) == "\n")
        #expect(find("[]", "abc", e) == nil)
        #expect(find("a[]?b", "ab", e) == "ab")
        #expect(find(#"[\d-z]+"#, "1-z", e) == "1-z")  // Annex B: '-' literal after class escape
        #expect(find(#"\p{L}+"#, "12日本", e) == "日本")
        #expect(find(#"\p{Lu}"#, "aB", e) == "B")
        #expect(find(#"\p{Letter}+"#, "1ab2", e) == "ab")
        #expect(find(#"\p{Script=Greek}+"#, "aαβ", e) == "αβ")
        #expect(find(#"\p{sc=Cyrillic}"#, "aж", e) == "ж")
        #expect(find(#"\p{gc=Nd}+"#, "a٣4", e) == "٣4")
        #expect(find(#"\P{L}+"#, "ab12", e) == "12")
    }

    @Test func dotAndAnchors() {
        #expect(find("a.b", "a\rb", e) == nil)
        #expect(find("a.b", "a\u{2028}b", e) == nil)
        #expect(find("a.b", "a\u{85}b", e) == "a\u{85}b")
        #expect(find("abc$", "abc\n", e) == nil)  // $ only at end
        #expect(find("^b", "a\nb", e) == nil)
        #expect(find(#"\bis\b"#, "this is", e) == "is")
    }

    @Test func jsonSchemaStylePatterns() {
        #expect(test("^\\d{3}-\\d{4}$", "555-1212", e))
        #expect(!test("^\\d{3}-\\d{4}$", "5555-1212", e))
        #expect(test("^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}$", "jo.doe+x@mail.example.org", e))
        #expect(test("^(\\([0-9]{3}\\))?[0-9]{3}-[0-9]{4}$", "(888)555-1212", e))
        #expect(!test("^(\\([0-9]{3}\\))?[0-9]{3}-[0-9]{4}$", "(888)555-1212 ext. 532", e))
        #expect(test("es", "expression", e))
        #expect(test("^\\p{Letter}+$", "Ünïcödé", e))
        #expect(!test("^🐲*$", "🐉", e))
        #expect(test("^🐲*$", "🐲🐲", e))
    }
}
