import SluiceRegex
import Testing

@Suite struct ErrorTests {
    @Test(
        arguments: [
            ("(abc", "missing closing ')'", 0),
            ("ab(c(d)", "missing closing ')'", 2),
            ("abc)", "unexpected ')'", 3),
            ("[abc", "missing closing ']'", 0),
            ("x[^", "missing closing ']'", 1),
            ("*a", "missing argument to repetition operator: *", 0),
            ("a|+", "missing argument to repetition operator: +", 2),
            ("(?i)*", "missing argument to repetition operator: *", 4),
            ("a**", "bad repetition operator: **", 2),
            ("a{2}{3}", "bad repetition operator: }{3}", 4),
            ("a{3,2}", "bad repetition operator: {3,2}", 1),
            ("a{1001}", "repetition count exceeds maximum of 1000: {1001}", 1),
            ("a{2,1001}", "repetition count exceeds maximum of 1000: {2,1001}", 1),
            (#"ab\1"#, "backreferences are not supported (RE2 syntax)", 2),
            (#"(a)\9"#, "backreferences are not supported (RE2 syntax)", 3),
            ("(?P=n)", "backreferences are not supported (RE2 syntax)", 0),
            ("a(?=b)", "lookaround assertions are not supported (RE2 syntax)", 1),
            ("a(?!b)", "lookaround assertions are not supported (RE2 syntax)", 1),
            ("(?<=a)b", "lookaround assertions are not supported (RE2 syntax)", 0),
            ("(?<!a)b", "lookaround assertions are not supported (RE2 syntax)", 0),
            ("[z-a]", "invalid character class range: z-a", 1),
            (#"[a-\d]"#, #"invalid character class range: a-\d"#, 1),
            ("[[:foo:]]", "invalid character class range: [:foo:]", 1),
            (#"\pX"#, #"invalid character class range: \pX"#, 0),
            (#"\p{Klingon}"#, #"invalid character class range: \p{Klingon}"#, 0),
            (#"\q"#, #"invalid escape sequence: \q"#, 0),
            (#"\Z"#, #"invalid escape sequence: \Z"#, 0),
            (#"\C"#, #"invalid escape sequence: \C"#, 0),
            (#"é\xZZ"#, #"invalid escape sequence: \xZ"#, 1),
            (#"\x{110000}"#, #"invalid escape sequence: \x{110000"#, 0),
            ("ab\\", "trailing backslash at end of expression", 2),
            ("(?x)", "invalid or unsupported Perl syntax: (?x", 0),
            ("(?)", "invalid or unsupported Perl syntax: (?)", 0),
            ("(?i", "missing closing ')'", 0),
            ("(?P<1x>a)", "invalid named capture group name: '1x'", 0),
            ("(?P<>a)", "invalid named capture group name: ''", 0),
            ("(?P<n>a)(?P<n>b)", "duplicate capture group name: 'n'", 8),
        ] as [(String, String, Int)])
    func re2Errors(pattern: String, message: String, offset: Int) {
        let error = compileError(pattern)
        #expect(error == RegexError(message: message, offset: offset), "pattern \(pattern)")
    }

    @Test(
        arguments: [
            (#"(a)\1"#, "backreferences are not supported (ECMA-262 syntax, limitation of this engine)", 3),
            (#"(?<n>a)\k<n>"#, "backreferences are not supported (ECMA-262 syntax, limitation of this engine)", 7),
            ("a(?=b)", "lookaround assertions are not supported (ECMA-262 syntax, limitation of this engine)", 1),
            ("(?<!a)b", "lookaround assertions are not supported (ECMA-262 syntax, limitation of this engine)", 0),
            ("(?i)a", "invalid group: (?i", 0),
            ("a**", "nothing to repeat", 2),
            ("+", "nothing to repeat", 0),
            ("^*", "nothing to repeat", 1),
            ("a{2,1}", "numbers out of order in {2,1} quantifier", 1),
            (#"\a"#, #"invalid escape sequence: \a"#, 0),
            (#"\u12"#, #"invalid escape sequence: \u12"#, 0),
            (#"\uD800"#, #"invalid escape sequence: surrogate code point \uD800"#, 0),
            (#"\c1"#, #"invalid escape sequence: \c1"#, 0),
            ("[b-a]", "invalid character class range: b-a", 1),
            ("(", "missing closing ')'", 0),
        ] as [(String, String, Int)])
    func ecmaErrors(pattern: String, message: String, offset: Int) {
        let error = compileError(pattern, .ecma262)
        #expect(error == RegexError(message: message, offset: offset), "pattern \(pattern)")
    }

    @Test func errorDescription() {
        let error = compileError("a(b")
        #expect(error?.description == "missing closing ')' at offset 1")
    }

    @Test func repetitionOfAssertionsIsAllowedInRE2() {
        #expect(compileError("^*a") == nil)
        #expect(compileError(#"\b+"#) == nil)
    }

    @Test func nestingLimit() {
        let ok = String(repeating: "(", count: 1000) + "a" + String(repeating: ")", count: 1000)
        #expect(compileError(ok) == nil)
        #expect(test(ok, "xa"))
        let deep = String(repeating: "(", count: 1001) + "a" + String(repeating: ")", count: 1001)
        #expect(compileError(deep) == RegexError(message: "nesting depth exceeds maximum of 1000", offset: 1000))
        // Far deeper nesting must be rejected, not crash the stack.
        let veryDeep = String(repeating: "(?:", count: 100_000) + String(repeating: ")", count: 100_000)
        #expect(compileError(veryDeep)?.offset == 1000 * 3)
    }

    @Test func programSizeLimit() {
        #expect(compileError("(a{1000}){1000}")?.message.hasPrefix("pattern too large") == true)
        #expect(compileError("((a{100}){100}){100}")?.message.hasPrefix("pattern too large") == true)
        #expect(compileError(String(repeating: "a", count: 200_000))?.message.hasPrefix("pattern too large") == true)
        #expect(compileError("[a-z]{1000}") == nil)
    }

    @Test func offsetsCountScalars() {
        // Offsets are in Unicode scalars, not bytes or Characters.
        #expect(compileError("😀é)")?.offset == 2)
        #expect(compileError("e\u{301}\u{301})")?.offset == 3)
    }
}
