/// An error found while parsing or checking an expression, with the position it refers to.
@usableFromInline package struct CELCompileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, e.g. `undeclared reference to 'f' (1 argument)`.
    @usableFromInline package var message: String
    /// 0-based offset in Unicode scalars (the column, for one-line expressions).
    @usableFromInline package var offset: Int

    /// Creates an error at `offset`.
    @usableFromInline package init(_ message: String, offset: Int) {
        self.message = message
        self.offset = offset
    }

    /// `message` with its position, e.g. `unexpected token ')' at column 4`.
    @usableFromInline package var description: String { "\(message) at column \(offset)" }

    /// Renders the error with the offending line of `source` and a caret under the
    /// column, e.g.
    /// ```
    /// ERROR: <input>:1:5: unexpected token ')'
    ///  | a + )
    ///  | ....^
    /// ```
    @usableFromInline package func formatted(source: String) -> String {
        let scalars = Array(source.unicodeScalars)
        var line = 1
        var lineStart = 0
        var i = 0
        while i < min(offset, scalars.count) {
            if scalars[i] == "\n" {
                line += 1
                lineStart = i + 1
            }
            i += 1
        }
        var lineEnd = lineStart
        while lineEnd < scalars.count, scalars[lineEnd] != "\n" { lineEnd += 1 }
        var text = String.UnicodeScalarView()
        text.append(contentsOf: scalars[lineStart..<lineEnd])
        let column = max(0, offset - lineStart)
        return "ERROR: <input>:\(line):\(column + 1): \(message)\n | \(String(text))\n | "
            + String(repeating: ".", count: column) + "^"
    }
}
