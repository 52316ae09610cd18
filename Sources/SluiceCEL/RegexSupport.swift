import SluiceRegex

/// The regular-expression engine behind `matches()`: SluiceRegex (RE2 syntax, linear
/// time, unanchored search), so a hostile pattern cannot make evaluation blow up.
struct CELRegex: Sendable {
    private let re: RegexPattern

    init(_ pattern: String) throws(CELError) {
        do throws(RegexError) {
            re = try RegexPattern(pattern, syntax: .re2)
        } catch {
            throw CELError("invalid regular expression '\(pattern)': \(error.message)")
        }
    }

    func matches(_ text: String) -> Bool { re.matches(text) }
}
