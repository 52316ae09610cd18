/// A compiled ECMA-262 pattern for `pattern` and `patternProperties` (unanchored search).
///
/// TEMPORARY shim over Swift's `Regex` until SluiceRegex lands; it will become a thin
/// wrapper over `RegexPattern(source, syntax: .ecma262)`.
struct Pattern: @unchecked Sendable {
    /// The pattern text as written in the schema.
    let source: String
    private let regex: Regex<AnyRegexOutput>

    /// Compiles `source`; the error text says why it does not compile.
    init(_ source: String) throws(SchemaPatternError) {
        self.source = source
        do {
            regex = try Regex(source)
        } catch {
            throw SchemaPatternError(message: "\(error)")
        }
    }

    /// Whether the pattern matches anywhere in `text`.
    func matches(_ text: String) -> Bool {
        (try? regex.firstMatch(in: text)) != nil
    }
}

/// Why a pattern does not compile.
struct SchemaPatternError: Error {
    var message: String
}
