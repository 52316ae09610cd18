import CYAML
import SluiceCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Parses YAML text into a ``YAMLNode`` tree with libyaml's event API, reporting every
/// problem as a ``Diagnostic`` with its line and column.
///
/// - Exactly one document is accepted; an empty file or a second document is an error.
/// - Anchors and aliases work, but the nodes that aliases add are counted and loading
///   stops past ``Limits/maxAliasExpansion`` ("billion laughs" documents), so memory
///   and time stay bounded. Aliased nodes are shared, not copied.
/// - Nesting deeper than ``Limits/maxDepth`` is an error rather than a stack overflow.
/// - Repeated keys in a mapping are errors, but the tree is still returned so that the
///   caller can report more problems.
@usableFromInline package enum YAMLLoader {
    /// Bounds that protect the loader from hostile documents.
    @usableFromInline package struct Limits: Sendable, Hashable {
        /// Most nodes that aliases may add in total (each alias adds the size of the
        /// node it refers to).
        @usableFromInline package var maxAliasExpansion: Int
        /// Deepest nesting of sequences and mappings.
        @usableFromInline package var maxDepth: Int
        /// Largest file ``YAMLLoader/load(path:displayName:limits:)`` reads, in bytes. A
        /// node tree takes about 14 times its text, so a file the size of a data set
        /// would take gigabytes; no pipeline comes near this.
        @usableFromInline package var maxFileSize: Int

        /// Limits; the defaults suit pipeline files.
        @usableFromInline package init(
            maxAliasExpansion: Int = 100_000, maxDepth: Int = 200, maxFileSize: Int = 4 << 20
        ) {
            self.maxAliasExpansion = maxAliasExpansion
            self.maxDepth = maxDepth
            self.maxFileSize = maxFileSize
        }

        /// 100 000 alias nodes, depth 200, files up to 4 MiB.
        @usableFromInline package static let `default` = Limits()
    }

    /// Parses `text`; `file` is the name used in locations. The node is nil when the text
    /// could not be read as a single YAML document; otherwise it is returned even with
    /// errors (such as repeated keys), so check `diagnostics.hasErrors`.
    @usableFromInline package static func load(text: String, file: String) -> (YAMLNode?, Diagnostics) {
        load(text: text, file: file, limits: .default)
    }

    /// ``load(text:file:)`` with explicit limits.
    @usableFromInline package static func load(text: String, file: String, limits: Limits) -> (YAMLNode?, Diagnostics) {
        load(bytes: Array(text.utf8), file: file, limits: limits)
    }

    /// Reads and parses the file at `path`. Locations name the file `displayName`
    /// (default: `path`). An unreadable file gives one diagnostic without a location.
    @usableFromInline package static func load(path: String, displayName: String? = nil) -> (YAMLNode?, Diagnostics) {
        load(path: path, displayName: displayName, limits: .default)
    }

    /// ``load(path:displayName:)`` with explicit limits.
    @usableFromInline package static func load(path: String, displayName: String?, limits: Limits) -> (
        YAMLNode?, Diagnostics
    ) {
        let name = displayName ?? path
        var st = stat()
        let tooLarge: (Int) -> (YAMLNode?, Diagnostics) = { size in
            (
                nil,
                Diagnostics([
                    Diagnostic(
                        .error, at: nil,
                        "'\(name)' is \(size) bytes, larger than the \(limits.maxFileSize)-byte limit for a pipeline file",
                        hint: "a pipeline file holds the pipeline; put data in a table file ('tables:') or an input")
                ])
            )
        }
        if stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, Int(st.st_size) > limits.maxFileSize {
            return tooLarge(Int(st.st_size))
        }
        switch readFile(path) {
        case .success(let bytes):
            if bytes.count > limits.maxFileSize { return tooLarge(bytes.count) }
            return load(bytes: bytes, file: name, limits: limits)
        case .failure(let reason):
            return (nil, Diagnostics([Diagnostic(.error, at: nil, "cannot read '\(name)': \(reason.message)")]))
        }
    }

    /// Parses raw bytes (UTF-8, or UTF-16 with a byte order mark).
    @usableFromInline package static func load(bytes: [UInt8], file: String, limits: Limits = .default) -> (
        YAMLNode?, Diagnostics
    ) {
        var builder = Builder(bytes: bytes, file: file, limits: limits)
        let root = builder.run()
        return (root, builder.diagnostics)
    }

    struct ReadError: Error {
        var message: String
    }

    static func readFile(_ path: String) -> Result<[UInt8], ReadError> {
        FileBytes.read(path).mapError { ReadError(message: $0.message) }
    }
}

/// Turns libyaml events into nodes with an explicit stack (no recursion).
private struct Builder {
    /// An open collection. A class so that appending to its items does not copy them.
    final class Frame {
        let isMapping: Bool
        let start: SourceLocation
        let tag: String?
        let anchor: String?
        var items: [YAMLNode] = []
        var pairs: [YAMLNode.Pair] = []
        var key: YAMLNode?
        var size = 1

        init(isMapping: Bool, start: SourceLocation, tag: String?, anchor: String?) {
            self.isMapping = isMapping
            self.start = start
            self.tag = tag
            self.anchor = anchor
        }
    }

    let bytes: [UInt8]
    let file: String
    let limits: YAMLLoader.Limits
    var diagnostics = Diagnostics()
    var stack: [Frame] = []
    var anchors: [String: (node: YAMLNode, size: Int)] = [:]
    var aliasNodes = 0
    var root: YAMLNode?
    var documents = 0
    var documentStart = SourceLocation(file: "", line: 1, column: 1)
    /// The input as Unicode scalars, made on first need (for scalar source text; libyaml
    /// marks count characters).
    var scalars: [Unicode.Scalar]?

    init(bytes: [UInt8], file: String, limits: YAMLLoader.Limits) {
        self.bytes = bytes
        self.file = file
        self.limits = limits
        documentStart = SourceLocation(file: file, line: 1, column: 1)
    }

    mutating func run() -> YAMLNode? {
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            diagnostics.error(SourceLocation(file: file, line: 1, column: 1), "the YAML document is empty")
            return nil
        }
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        defer { parser.deallocate() }
        guard yaml_parser_initialize(parser) != 0 else {
            diagnostics.error(nil, "cannot initialise the YAML parser (out of memory)")
            return nil
        }
        defer { yaml_parser_delete(parser) }
        let ok: Bool = bytes.withUnsafeBufferPointer { buf in
            guard let base = buf.baseAddress else { return false }
            yaml_parser_set_input_string(parser, base, buf.count)
            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(parser, &event) != 0 else {
                    reportParserError(parser.pointee)
                    return false
                }
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { return true }
                guard handle(event) else { return false }
            }
        }
        guard ok else { return nil }
        guard let root else {
            diagnostics.error(SourceLocation(file: file, line: 1, column: 1), "the YAML document is empty")
            return nil
        }
        if root.isNull, root.tag == nil, root.text == "" {
            diagnostics.error(documentStart, "the YAML document is empty")
            return nil
        }
        return root
    }

    func location(_ mark: yaml_mark_t) -> SourceLocation {
        SourceLocation(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }

    func string(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        p.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
    }

    /// Handles one event; false stops the parse (an error was reported).
    mutating func handle(_ e: yaml_event_t) -> Bool {
        let loc = location(e.start_mark)
        switch e.type {
        case YAML_DOCUMENT_START_EVENT:
            documents += 1
            if documents > 1 {
                diagnostics.error(
                    loc, "expected a single YAML document, found a second one",
                    hint: "remove the '---' line or split the file")
                return false
            }
            documentStart = loc
            anchors = [:]
            return true
        case YAML_SCALAR_EVENT:
            let s = e.data.scalar
            let text = String(decoding: UnsafeBufferPointer(start: s.value, count: s.length), as: UTF8.self)
            let style: YAMLNode.ScalarStyle
            switch s.style {
            case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = .singleQuoted
            case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .doubleQuoted
            case YAML_LITERAL_SCALAR_STYLE: style = .literal
            case YAML_FOLDED_SCALAR_STYLE: style = .folded
            default: style = .plain
            }
            let source = self.source(from: e.start_mark, to: e.end_mark)
            let node = YAMLNode(
                .scalar(YAMLNode.Scalar(text: text, style: style, source: source)), at: loc, tag: string(s.tag))
            return complete(node, size: 1, anchor: string(s.anchor))
        case YAML_ALIAS_EVENT:
            let name = string(e.data.alias.anchor) ?? ""
            guard let target = anchors[name] else {
                if stack.contains(where: { $0.anchor == name }) {
                    diagnostics.error(
                        loc, "alias '*\(name)' refers to a node that contains it; recursive aliases are not supported")
                } else {
                    diagnostics.error(
                        loc, "unknown alias '*\(name)'", hint: "define the anchor '&\(name)' before using it")
                }
                return false
            }
            aliasNodes += target.size
            if aliasNodes > limits.maxAliasExpansion {
                diagnostics.error(
                    loc, "YAML aliases expand to more than \(limits.maxAliasExpansion) nodes",
                    hint: "this looks like a 'billion laughs' document; use fewer nested aliases")
                return false
            }
            return complete(target.node, size: target.size, anchor: nil)
        case YAML_SEQUENCE_START_EVENT:
            guard checkDepth(loc) else { return false }
            let d = e.data.sequence_start
            stack.append(Frame(isMapping: false, start: loc, tag: string(d.tag), anchor: string(d.anchor)))
            return true
        case YAML_MAPPING_START_EVENT:
            guard checkDepth(loc) else { return false }
            let d = e.data.mapping_start
            stack.append(Frame(isMapping: true, start: loc, tag: string(d.tag), anchor: string(d.anchor)))
            return true
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let f = stack.popLast() else { return true }
            if !f.isMapping {
                return complete(YAMLNode(.sequence(f.items), at: f.start, tag: f.tag), size: f.size, anchor: f.anchor)
            }
            let node = YAMLNode(.mapping(f.pairs), at: f.start, tag: f.tag)
            for (key, first) in node.duplicateKeys {
                diagnostics.error(
                    key.location,
                    "duplicate key '\(key.text ?? "")' (first defined at line \(first.line), column \(first.column))")
            }
            return complete(node, size: f.size, anchor: f.anchor)
        default:
            return true
        }
    }

    mutating func checkDepth(_ loc: SourceLocation) -> Bool {
        if stack.count >= limits.maxDepth {
            diagnostics.error(loc, "YAML nesting is deeper than \(limits.maxDepth) levels")
            return false
        }
        return true
    }

    /// Attaches a finished node to its parent (or makes it the root) and records its anchor.
    mutating func complete(_ node: YAMLNode, size: Int, anchor: String?) -> Bool {
        if let anchor { anchors[anchor] = (node, size) }
        guard let top = stack.last else {
            root = node
            return true
        }
        top.size = satAdd(top.size, size)
        if !top.isMapping {
            top.items.append(node)
        } else if let key = top.key {
            top.pairs.append(YAMLNode.Pair(key: key, value: node))
            top.key = nil
        } else {
            top.key = node
        }
        return true
    }

    func satAdd(_ a: Int, _ b: Int) -> Int {
        let (v, o) = a.addingReportingOverflow(b)
        return o ? Int.max : v
    }

    /// The raw text between two marks (character indexes).
    mutating func source(from start: yaml_mark_t, to end: yaml_mark_t) -> String? {
        if scalars == nil { scalars = Array(String(decoding: bytes, as: UTF8.self).unicodeScalars) }
        guard let all = scalars else { return nil }
        var a = Int(start.index)
        var b = Int(end.index)
        // A leading byte order mark is not counted by libyaml.
        if all.first == "\u{FEFF}" {
            a += 1
            b += 1
        }
        guard a >= 0, a <= b, b <= all.count else { return nil }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: all[a..<b])
        return String(view)
    }

    mutating func reportParserError(_ p: yaml_parser_t) {
        let problem = p.problem.map { String(cString: $0) } ?? "unknown error"
        switch p.error {
        case YAML_MEMORY_ERROR:
            diagnostics.error(nil, "out of memory while parsing YAML")
        case YAML_READER_ERROR:
            diagnostics.error(
                locationOfByte(p.problem_offset), "cannot read YAML: \(problem)",
                hint: "pipeline files must be UTF-8 text")
        default:
            let loc = location(p.problem_mark)
            var hint: String?
            if let context = p.context.map({ String(cString: $0) }) {
                let c = location(p.context_mark)
                hint = "\(context) at line \(c.line), column \(c.column)"
            }
            let offset = Int(p.problem_mark.index)
            if problem.contains("cannot start any token") {
                if scalars == nil { scalars = Array(String(decoding: bytes, as: UTF8.self).unicodeScalars) }
                if let s = scalars, offset < s.count, s[offset] == "\t" {
                    hint = "YAML does not allow tabs for indentation; use spaces"
                }
            }
            diagnostics.error(loc, "YAML syntax error: \(problem)", hint: hint)
        }
    }

    /// Line and column of a byte offset (for reader errors, which libyaml reports by offset).
    func locationOfByte(_ offset: Int) -> SourceLocation {
        var line = 1
        var column = 1
        for b in bytes.prefix(offset) {
            if b == 0x0A {
                line += 1
                column = 1
            } else if b & 0xC0 != 0x80 {
                column += 1
            }
        }
        return SourceLocation(file: file, line: line, column: column)
    }
}
