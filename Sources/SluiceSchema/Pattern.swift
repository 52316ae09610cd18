import SluiceRegex

/// A compiled ECMA-262 pattern for `pattern` and `patternProperties`: an unanchored
/// search, as JSON Schema specifies, run by SluiceRegex's linear-time engine.
struct Pattern: Sendable {
    /// The pattern text as written in the schema.
    let source: String
    private let regex: RegexPattern

    /// Compiles `source`; the error says why it does not compile and where.
    init(_ source: String) throws(SchemaPatternError) {
        self.source = source
        do {
            regex = try RegexPattern(source, syntax: .ecma262)
        } catch {
            throw SchemaPatternError(message: error.description)
        }
    }

    /// Whether the pattern matches anywhere in `text`.
    func matches(_ text: String) -> Bool {
        regex.matches(text)
    }
}

/// Why a pattern does not compile.
struct SchemaPatternError: Error {
    var message: String
}
