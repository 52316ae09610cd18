import SluiceRegex

/// The matched substring of the leftmost-first match, or nil. Fails the
/// calling test (by returning a marker) when the pattern does not compile.
func find(_ pattern: String, _ text: String, _ syntax: RegexSyntax = .re2) -> String? {
    do {
        let re = try RegexPattern(pattern, syntax: syntax)
        guard let r = re.firstMatch(in: text) else {
            if re.matches(text) { return "<matches() disagrees with firstMatch>" }
            return nil
        }
        if !re.matches(text) { return "<matches() disagrees with firstMatch>" }
        return String(text[r])
    } catch {
        return "<error: \(error)>"
    }
}

/// Whether the pattern matches somewhere in text (false on compile error).
func test(_ pattern: String, _ text: String, _ syntax: RegexSyntax = .re2) -> Bool {
    (try? RegexPattern(pattern, syntax: syntax))?.matches(text) ?? false
}

/// The compile error for a pattern, or nil when it compiles.
func compileError(_ pattern: String, _ syntax: RegexSyntax = .re2) -> RegexError? {
    do {
        _ = try RegexPattern(pattern, syntax: syntax)
        return nil
    } catch {
        return error
    }
}
