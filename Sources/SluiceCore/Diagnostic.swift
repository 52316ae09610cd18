/// A place in a source file: 1-based line and column.
public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The file as the user named it (relative paths stay relative).
    public var file: String
    /// 1-based line.
    public var line: Int
    /// 1-based column, counted in Unicode scalars.
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:col`.
    public var description: String { "\(file):\(line):\(column)" }

    public static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        (a.file, a.line, a.column) < (b.file, b.line, b.column)
    }
}

/// A problem found in a pipeline, reported compiler-style and collected rather than thrown
/// one at a time, so that a user sees every mistake in one run.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    /// How bad it is.
    public enum Severity: String, Sendable, Hashable {
        case error
        case warning
        case note
    }

    public var severity: Severity
    /// Where; nil for problems that belong to no place in a file (a missing file).
    public var location: SourceLocation?
    /// What is wrong, one line.
    public var message: String
    /// How to fix it, when we can say (printed as a `note:` line after the message).
    public var hint: String?

    public init(_ severity: Severity = .error, at location: SourceLocation?, _ message: String, hint: String? = nil) {
        self.severity = severity
        self.location = location
        self.message = message
        self.hint = hint
    }

    /// `file:line:col: error: message` and, with a hint, a second line `file:line:col: note: hint`.
    public var description: String {
        let prefix = location.map { "\($0): " } ?? ""
        var s = "\(prefix)\(severity.rawValue): \(message)"
        if let hint { s += "\n\(prefix)note: \(hint)" }
        return s
    }
}

/// A collection of diagnostics, in the order found.
public struct Diagnostics: Sendable, Error, CustomStringConvertible {
    public var items: [Diagnostic]

    public init(_ items: [Diagnostic] = []) { self.items = items }

    /// True when any item is an error (warnings alone do not stop a pipeline).
    public var hasErrors: Bool { items.contains { $0.severity == .error } }

    public mutating func append(_ d: Diagnostic) { items.append(d) }

    public mutating func error(_ location: SourceLocation?, _ message: String, hint: String? = nil) {
        items.append(Diagnostic(.error, at: location, message, hint: hint))
    }

    public mutating func warning(_ location: SourceLocation?, _ message: String, hint: String? = nil) {
        items.append(Diagnostic(.warning, at: location, message, hint: hint))
    }

    /// One diagnostic per line, sorted by place.
    public var description: String {
        items.map(\.description).joined(separator: "\n")
    }
}
