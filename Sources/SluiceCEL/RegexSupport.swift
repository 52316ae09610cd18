import Foundation

/// The regular-expression engine behind `matches()`.
///
/// Temporary: wraps Foundation's ICU engine until `SluiceRegex` (RE2 syntax, linear time)
/// is available; then this becomes a thin wrapper over `RegexPattern`.
struct CELRegex: @unchecked Sendable {
    // NSRegularExpression is immutable and documented as thread-safe.
    private let re: NSRegularExpression

    init(_ pattern: String) throws(CELError) {
        do {
            re = try NSRegularExpression(pattern: pattern)
        } catch {
            throw CELError("invalid regular expression '\(pattern)'")
        }
    }

    func matches(_ text: String) -> Bool {
        let ns = text as NSString
        return re.firstMatch(in: text, range: NSRange(location: 0, length: ns.length)) != nil
    }
}
