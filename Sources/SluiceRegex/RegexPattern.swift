/// # SluiceRegex
///
/// A linear-time regular expression engine (Thompson NFA simulated by a Pike
/// VM). Matching never backtracks: time is O(len(pattern) × len(text)) and
/// memory per match call is O(len(pattern)), whatever the pattern or input.
/// A pattern is compiled once by ``RegexPattern/init(_:syntax:)`` and can then
/// be matched many times, concurrently, from any thread.
///
/// Matching works on Unicode scalars (not grapheme clusters, not bytes);
/// internally the engine decodes the string's UTF-8 itself.
///
/// ## RE2 syntax (``RegexSyntax/re2``)
/// - Literals; escapes `\n \t \r \f \v \a \\ \x41 \x{10FFFF}`, octal `\0 \012 \123`,
///   any escaped ASCII punctuation (`\. \* \( …`), `\Q…\E` quoting.
/// - `.` (any scalar except `\n`; any scalar with `(?s)`).
/// - Classes `[a-z]`, `[^…]`, `[\d\s]`, POSIX `[[:alpha:]]` / `[[:^alpha:]]`,
///   Perl `\d \D \w \W \s \S` (ASCII, as in RE2: `\s` is `[\t\n\f\r ]`).
/// - Unicode classes `\pL`, `\p{Lu}`, `\p{Greek}`, `\PL`, `\p{^Greek}`: all
///   general categories (one- and two-letter names, `Any`) and the scripts
///   Latin, Greek, Cyrillic, Han, Arabic, Hebrew, Armenian, Georgian,
///   Devanagari, Thai, Hiragana, Katakana, Hangul (main ranges).
/// - Anchors `^ $ \A \z \b \B` (`\b` uses ASCII word characters). Without
///   `(?m)`, `^`/`$` match only at the start/end of the text.
/// - Groups `( )`, `(?: )`, `(?P<name> )`, `(?<name> )`; alternation `|`.
/// - Quantifiers `* + ? {n} {n,} {n,m}` and lazy forms `*? +? ?? {n,m}?`.
///   A `{` that does not start a valid repetition is a literal.
/// - Flags `(?i) (?s) (?m) (?U)`, negation `(?-i)`, scoped `(?i:…)`.
///   `(?i)` uses simple Unicode case folding.
///
/// ## ECMA-262 syntax (``RegexSyntax/ecma262``, for JSON Schema `pattern`)
/// Same engine, with `u`-flag style semantics and no flags: `\d \w` ASCII,
/// `\s` includes Unicode spaces and line terminators, `.` excludes
/// `\n \r \u2028 \u2029`, `\cX`, `\xHH`, `\uHHHH`, `\u{…}` (surrogate pairs
/// are combined), `\0`, `[\b]` (backspace), `[^]`/`[]`, `\p{L}`,
/// `\p{Letter}`, `\p{Script=Greek}`, `\p{gc=Lu}`, `(?<name>…)`, unescaped `/`;
/// `^`/`$` only at start/end of the text (no multiline).
///
/// ## Not supported (a ``RegexError`` is thrown)
/// Backreferences (`\1`, `\k<name>`, `(?P=name)`) and lookaround (`(?=`,
/// `(?!`, `(?<=`, `(?<!`) in both syntaxes; `\C`, `\Z`; ECMA flags/modifiers.
///
/// ## Limits
/// - Repetition counts above 1000 are an error (as in RE2), in both syntaxes.
/// - Group nesting deeper than 1000 is an error; nothing recurses on the
///   pattern structure, so deep patterns cannot overflow the stack.
/// - Compiled programs larger than 100,000 instructions are an error.
/// - Capture groups are parsed (names validated) but only the overall match
///   range is reported.
package struct RegexPattern: Sendable {
    /// The source text of the pattern.
    package let pattern: String
    private let program: Program

    /// Compiles `pattern` in the given syntax.
    ///
    /// - Throws: ``RegexError`` describing the first syntax error, unsupported
    ///   construct or exceeded limit, with its offset in Unicode scalars.
    package init(_ pattern: String, syntax: RegexSyntax = .re2) throws(RegexError) {
        self.pattern = pattern
        var parser = Parser(pattern, syntax: syntax)
        let ast = try parser.parse()
        var compiler = Compiler(ast)
        self.program = try compiler.compile()
    }

    /// True when some substring of `text` matches (unanchored search, like
    /// RE2::PartialMatch / JS `RegExp.test`).
    package func matches(_ text: String) -> Bool {
        withUTF8(text) { program.search($0, earliest: true) } != nil
    }

    /// Range of the leftmost(-first) match, or nil. Among matches starting at
    /// the leftmost position, the one preferred by Perl/RE2 semantics
    /// (greedy/lazy quantifiers, left alternatives first) is returned.
    package func firstMatch(in text: String) -> Range<String.Index>? {
        guard let (s, e) = withUTF8(text, { program.search($0, earliest: false) }) else { return nil }
        let u = text.utf8
        let lo = u.index(u.startIndex, offsetBy: s)
        let hi = u.index(lo, offsetBy: e - s)
        return lo..<hi
    }

    private func withUTF8<R>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let r = text.utf8.withContiguousStorageIfAvailable(body) { return r }
        var copy = text
        copy.makeContiguousUTF8()
        if let r = copy.utf8.withContiguousStorageIfAvailable(body) { return r }
        return Array(text.utf8).withUnsafeBufferPointer(body)
    }
}

/// The dialect a ``RegexPattern`` is written in.
package enum RegexSyntax: Sendable {
    /// RE2 syntax (as used by CEL's `matches()`).
    case re2
    /// ECMA-262 syntax with Unicode semantics (as used by JSON Schema `pattern`).
    case ecma262
}

/// A pattern that could not be compiled.
package struct RegexError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, e.g. "missing closing ')'".
    package var message: String
    /// 0-based offset in the pattern, in Unicode scalars, where the problem was found.
    package var offset: Int

    /// Creates an error with a message and a scalar offset into the pattern.
    package init(message: String, offset: Int) {
        self.message = message
        self.offset = offset
    }

    /// Human-readable form: "`message` at offset `offset`".
    package var description: String { "\(message) at offset \(offset)" }
}
