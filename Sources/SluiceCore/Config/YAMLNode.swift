import SluiceJSON

/// A node of a parsed YAML document, with the place it came from.
///
/// Nodes are immutable values; collections share their storage, so a node reached through
/// several YAML aliases is stored once (the loader bounds how far aliases may expand).
/// Every node knows its ``SourceLocation`` so that configuration errors can point at the
/// exact line and column.
@usableFromInline package struct YAMLNode: Sendable {
    /// How a scalar was written. Only ``plain`` scalars are resolved to null, booleans and
    /// numbers; every other style is a string.
    @usableFromInline package enum ScalarStyle: String, Sendable, Hashable {
        /// Unquoted: `foo`, `12`, `true`.
        case plain
        /// `'single quoted'`.
        case singleQuoted
        /// `"double quoted"`.
        case doubleQuoted
        /// A literal block scalar, `|`.
        case literal
        /// A folded block scalar, `>`.
        case folded
    }

    /// A scalar's text and how it was written.
    @usableFromInline package struct Scalar: Sendable, Hashable {
        /// The scalar's value after YAML unescaping and folding.
        @usableFromInline package var text: String
        /// How the scalar was written.
        @usableFromInline package var style: ScalarStyle
        /// The scalar exactly as it appears in the source (quotes, escapes, block header
        /// and indentation included), when known. Used to map an offset inside ``text``
        /// back to a line and column (see ``YAMLNode/location(ofOffset:)``).
        @usableFromInline package var source: String?

        /// A scalar; `source` is the raw text when the node comes from a file.
        @usableFromInline package init(text: String, style: ScalarStyle = .plain, source: String? = nil) {
            self.text = text
            self.style = style
            self.source = source
        }
    }

    /// One entry of a mapping, in document order.
    @usableFromInline package struct Pair: Sendable {
        /// The key node (usually a scalar).
        @usableFromInline package var key: YAMLNode
        /// The value node.
        @usableFromInline package var value: YAMLNode

        /// A pair.
        @usableFromInline package init(key: YAMLNode, value: YAMLNode) {
            self.key = key
            self.value = value
        }
    }

    /// The shape of a node.
    @usableFromInline package enum Kind: Sendable {
        /// A scalar.
        case scalar(Scalar)
        /// A sequence, in order.
        case sequence([YAMLNode])
        /// A mapping: its pairs in document order; duplicate keys are kept (the loader
        /// reports them).
        case mapping([Pair])
    }

    /// What the node holds.
    @usableFromInline package var kind: Kind
    /// Where the node starts (for a collection: its first token, `[`, `{` or the first
    /// entry of a block collection).
    @usableFromInline package var location: SourceLocation
    /// The explicit tag, if any, fully resolved by the parser (`!!str` arrives as
    /// `tag:yaml.org,2002:str`; a local tag `!foo` stays `!foo`).
    @usableFromInline package var tag: String?

    /// A node.
    @usableFromInline package init(_ kind: Kind, at location: SourceLocation, tag: String? = nil) {
        self.kind = kind
        self.location = location
        self.tag = tag
    }

    /// A plain or quoted scalar node.
    @usableFromInline package static func scalar(
        _ text: String, style: ScalarStyle = .plain, at location: SourceLocation, tag: String? = nil
    ) -> YAMLNode {
        YAMLNode(.scalar(Scalar(text: text, style: style)), at: location, tag: tag)
    }
}

// MARK: - Accessors

extension YAMLNode {
    /// The scalar, for scalar nodes.
    @usableFromInline package var scalar: Scalar? {
        if case .scalar(let s) = kind { return s }
        return nil
    }

    /// The scalar's text, for scalar nodes (whatever its resolved type).
    @usableFromInline package var text: String? { scalar?.text }

    /// The items, for sequence nodes.
    @usableFromInline package var sequence: [YAMLNode]? {
        if case .sequence(let items) = kind { return items }
        return nil
    }

    /// The pairs, for mapping nodes.
    @usableFromInline package var mapping: [Pair]? {
        if case .mapping(let pairs) = kind { return pairs }
        return nil
    }

    /// True for scalars that resolve to null (`null`, `~`, empty plain scalar, `!!null`).
    @usableFromInline package var isNull: Bool {
        if case .null = resolved { return true }
        return false
    }

    /// The first value under the scalar key `key`, for mapping nodes.
    @usableFromInline package subscript(key: String) -> YAMLNode? {
        mapping?.first { $0.key.text == key }?.value
    }

    /// The keys that occur more than once in a mapping: each repeated key node after the
    /// first, with the location of the first. Only scalar keys are compared (by text).
    @usableFromInline package var duplicateKeys: [(key: YAMLNode, first: SourceLocation)] {
        guard let pairs = mapping else { return [] }
        var seen: [String: SourceLocation] = [:]
        var out: [(key: YAMLNode, first: SourceLocation)] = []
        for p in pairs {
            guard let t = p.key.text else { continue }
            if let first = seen[t] {
                out.append((p.key, first))
            } else {
                seen[t] = p.key.location
            }
        }
        return out
    }

    /// A short description of the node for messages: "a mapping", "a sequence",
    /// "a string", "an integer", "a number", "a boolean", "null".
    @usableFromInline package var describe: String {
        switch kind {
        case .sequence: return "a sequence"
        case .mapping: return "a mapping"
        case .scalar:
            switch resolved {
            case .null: return "null"
            case .bool: return "a boolean"
            case .int: return "an integer"
            case .double: return "a number"
            case .string: return "a string"
            case .invalid: return "a string"
            }
        }
    }
}

// MARK: - Scalar resolution

/// The value of a scalar under the YAML 1.2 core schema.
@usableFromInline package enum YAMLScalarValue: Sendable, Hashable {
    /// `null`, `Null`, `NULL`, `~` or nothing.
    case null
    /// `true`/`false` (also capitalised or upper case).
    case bool(Bool)
    /// A decimal, `0x` hexadecimal or `0o` octal integer that fits in 64 bits.
    case int(Int64)
    /// A float, `.inf`, `-.inf`, `.nan`; also an integer too large for 64 bits.
    case double(Double)
    /// Anything else, and every quoted or block scalar.
    case string(String)
    /// An explicit core tag (`!!int`, `!!bool`, ...) on text that does not fit it; the
    /// payload is a message.
    case invalid(String)

    /// Resolves plain scalar text per the YAML 1.2 core schema.
    @usableFromInline package static func resolvePlain(_ text: String) -> YAMLScalarValue {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .double(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .double(-.infinity)
        case ".nan", ".NaN", ".NAN": return .double(.nan)
        default: break
        }
        if let v = parseInt(text) { return v }
        if let d = parseFloat(text) { return .double(d) }
        return .string(text)
    }

    private static func parseInt(_ text: String) -> YAMLScalarValue? {
        let u = Array(text.utf8)
        guard let first = u.first else { return nil }
        if u.count > 2, first == UInt8(ascii: "0"), u[1] == UInt8(ascii: "x") || u[1] == UInt8(ascii: "o") {
            let radix = u[1] == UInt8(ascii: "x") ? 16 : 8
            let digits = String(decoding: u[2...], as: UTF8.self)
            guard digits.utf8.allSatisfy({ isDigit($0, radix: radix) }) else { return nil }
            if let v = Int64(digits, radix: radix) { return .int(v) }
            if let v = UInt64(digits, radix: radix) { return .double(Double(v)) }
            return .double(Double.infinity)
        }
        var i = 0
        if first == UInt8(ascii: "-") || first == UInt8(ascii: "+") { i = 1 }
        guard i < u.count, u[i...].allSatisfy({ isDigit($0, radix: 10) }) else { return nil }
        let body = first == UInt8(ascii: "+") ? String(text.dropFirst()) : text
        if let v = Int64(body) { return .int(v) }
        return Double(body).map { .double($0) }
    }

    private static func isDigit(_ c: UInt8, radix: Int) -> Bool {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "7"): return true
        case UInt8(ascii: "8")...UInt8(ascii: "9"): return radix >= 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"), UInt8(ascii: "A")...UInt8(ascii: "F"): return radix == 16
        default: return false
        }
    }

    /// `[-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`
    private static func parseFloat(_ text: String) -> Double? {
        let u = Array(text.utf8)
        var i = 0
        func digits() -> Int {
            let s = i
            while i < u.count, isDigit(u[i], radix: 10) { i += 1 }
            return i - s
        }
        if i < u.count, u[i] == UInt8(ascii: "-") || u[i] == UInt8(ascii: "+") { i += 1 }
        var mantissa = digits()
        if i < u.count, u[i] == UInt8(ascii: ".") {
            i += 1
            mantissa += digits()
        }
        guard mantissa > 0 else { return nil }
        if i < u.count, u[i] == UInt8(ascii: "e") || u[i] == UInt8(ascii: "E") {
            i += 1
            if i < u.count, u[i] == UInt8(ascii: "-") || u[i] == UInt8(ascii: "+") { i += 1 }
            guard digits() > 0 else { return nil }
        }
        guard i == u.count else { return nil }
        let body = u.first == UInt8(ascii: "+") ? String(text.dropFirst()) : text
        return Double(body)
    }
}

/// YAML core tags, as libyaml reports them after resolving `!!` shorthands.
@usableFromInline package enum YAMLTag {
    /// `!!str`.
    @usableFromInline package static let str = "tag:yaml.org,2002:str"
    /// `!!int`.
    @usableFromInline package static let int = "tag:yaml.org,2002:int"
    /// `!!float`.
    @usableFromInline package static let float = "tag:yaml.org,2002:float"
    /// `!!bool`.
    @usableFromInline package static let bool = "tag:yaml.org,2002:bool"
    /// `!!null`.
    @usableFromInline package static let null = "tag:yaml.org,2002:null"
    /// `!!seq`.
    @usableFromInline package static let seq = "tag:yaml.org,2002:seq"
    /// `!!map`.
    @usableFromInline package static let map = "tag:yaml.org,2002:map"
    /// The non-specific tag `!`: a plain scalar marked with it is a string.
    @usableFromInline package static let nonSpecific = "!"

    /// The short form for messages: `!!int` for core tags, the tag itself otherwise.
    @usableFromInline package static func short(_ tag: String) -> String {
        let prefix = "tag:yaml.org,2002:"
        return tag.hasPrefix(prefix) ? "!!" + tag.dropFirst(prefix.count) : tag
    }
}

extension YAMLNode {
    /// The scalar's value per the YAML 1.2 core schema: plain scalars are resolved,
    /// quoted and block scalars are strings, and explicit core tags (`!!str`, `!!int`,
    /// `!!float`, `!!bool`, `!!null`) are honoured. Non-scalars resolve to `.invalid`.
    @usableFromInline package var resolved: YAMLScalarValue {
        guard let s = scalar else { return .invalid("not a scalar") }
        guard let tag, tag != YAMLTag.nonSpecific else {
            if tag == YAMLTag.nonSpecific || s.style != .plain { return .string(s.text) }
            return YAMLScalarValue.resolvePlain(s.text)
        }
        let plain = YAMLScalarValue.resolvePlain(s.text.trimmingSpaces)
        switch tag {
        case YAMLTag.str:
            return .string(s.text)
        case YAMLTag.int:
            if case .int = plain { return plain }
            return .invalid("'\(s.text)' is not a valid !!int")
        case YAMLTag.float:
            if case .double = plain { return plain }
            if case .int(let i) = plain { return .double(Double(i)) }
            return .invalid("'\(s.text)' is not a valid !!float")
        case YAMLTag.bool:
            if case .bool = plain { return plain }
            return .invalid("'\(s.text)' is not a valid !!bool")
        case YAMLTag.null:
            if case .null = plain { return plain }
            return .invalid("'\(s.text)' is not a valid !!null")
        default:
            // Unknown (application) tags do not change the value.
            return s.style == .plain ? YAMLScalarValue.resolvePlain(s.text) : .string(s.text)
        }
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}

// MARK: - JSON

extension YAMLNode {
    /// Converts the node to JSON: mappings become objects (keys in order, scalar keys by
    /// their text), sequences arrays and scalars resolve per the core schema.
    ///
    /// Problems are appended to `diagnostics` (a non-scalar key, a value that does not fit
    /// its explicit tag, NaN or infinity; an unknown tag is a warning); the result is nil
    /// when any error was found. A repeated key keeps its first value and is not reported
    /// here (``YAMLLoader`` reports it).
    @usableFromInline package func toJSON(diagnostics: inout Diagnostics) -> JSON? {
        var ok = true
        let v = toJSON(diagnostics: &diagnostics, ok: &ok)
        // Not `ok ? v : nil`: JSON is nil-literal expressible, so that would be `.null`.
        guard ok else { return Optional<JSON>.none }
        return v
    }

    private func toJSON(diagnostics: inout Diagnostics, ok: inout Bool) -> JSON {
        if let tag, !tag.hasPrefix("tag:yaml.org,2002:"), tag != YAMLTag.nonSpecific {
            diagnostics.warning(location, "ignoring unknown YAML tag '\(tag)'")
        }
        switch kind {
        case .sequence(let items):
            return .array(items.map { $0.toJSON(diagnostics: &diagnostics, ok: &ok) })
        case .mapping(let pairs):
            var o = JSONObject(minimumCapacity: pairs.count)
            var seen: Set<String> = []
            for p in pairs {
                guard let k = p.key.text else {
                    diagnostics.error(
                        p.key.location, "mapping keys must be strings in JSON, found \(p.key.describe)")
                    ok = false
                    continue
                }
                let v = p.value.toJSON(diagnostics: &diagnostics, ok: &ok)
                // The loader already reported repeated keys; the first one wins, as in ConfigMap.
                if seen.contains(k) { continue }
                seen.insert(k)
                o.appendUnchecked(key: k, value: v)
            }
            return .object(o)
        case .scalar:
            switch resolved {
            case .null: return .null
            case .bool(let b): return .bool(b)
            case .int(let i): return .int(i)
            case .double(let d):
                if !d.isFinite {
                    diagnostics.error(location, "JSON has no NaN or infinity, found '\(text ?? "")'")
                    ok = false
                }
                return .double(d)
            case .string(let s): return .string(s)
            case .invalid(let message):
                diagnostics.error(location, message)
                ok = false
                return .null
            }
        }
    }
}

// MARK: - Locations inside scalars

extension YAMLNode {
    /// The source location of the character at `offset` (counted in Unicode scalars) in
    /// this scalar's ``Scalar/text``, so that an error inside an expression can point at
    /// the right column. Follows quotes, escapes, line folding and block indentation;
    /// falls back to the node's own location when the raw source is unknown or the
    /// offset cannot be mapped.
    @usableFromInline package func location(ofOffset offset: Int) -> SourceLocation {
        guard let s = scalar, offset >= 0 else { return location }
        let value = Array(s.text.unicodeScalars)
        guard let raw = s.source.map({ Array($0.unicodeScalars) }) else {
            // Without source: exact for single-line plain scalars.
            if s.style == .plain, !value.contains("\n") {
                var l = location
                l.column += min(offset, value.count)
                return l
            }
            return location
        }
        var line = location.line
        var column = location.column
        var p = 0  // position in raw
        func advance() {
            if p < raw.count {
                if raw[p] == "\n" {
                    line += 1
                    column = 1
                } else {
                    column += 1
                }
                p += 1
            }
        }
        // Skip the opening quote or the block header line.
        switch s.style {
        case .singleQuoted, .doubleQuoted: advance()
        case .literal, .folded:
            while p < raw.count, raw[p] != "\n" { advance() }
            advance()
        case .plain: break
        }
        var here: SourceLocation { SourceLocation(file: location.file, line: line, column: column) }
        func isSpace(_ c: Unicode.Scalar) -> Bool { c == " " || c == "\t" || c == "\n" || c == "\r" }
        var i = 0
        while i < value.count {
            let v = value[i]
            if s.style == .doubleQuoted, p < raw.count, raw[p] == "\\" {
                if p + 1 < raw.count, raw[p + 1] == "\n" {
                    // A line continuation: no character in the value.
                    advance()
                    advance()
                    while p < raw.count, raw[p] == " " || raw[p] == "\t" { advance() }
                    continue
                }
                if i == offset { return here }
                let width: Int
                switch p + 1 < raw.count ? raw[p + 1] : " " {
                case "x": width = 4
                case "u": width = 6
                case "U": width = 10
                default: width = 2
                }
                for _ in 0..<width { advance() }
                i += 1
                continue
            }
            if s.style == .singleQuoted, v == "'", p + 1 < raw.count, raw[p] == "'", raw[p + 1] == "'" {
                if i == offset { return here }
                advance()
                advance()
                i += 1
                continue
            }
            // Skip indentation and folding whitespace up to the matching character.
            var q = p
            while q < raw.count, raw[q] != v, isSpace(raw[q]) { q += 1 }
            if q < raw.count, raw[q] == v {
                while p < q { advance() }
                if i == offset { return here }
                advance()
            } else if v == " " || v == "\n" {
                // A folded line break.
                if i == offset { return here }
                while p < raw.count, isSpace(raw[p]) { advance() }
            } else {
                return location
            }
            i += 1
        }
        return SourceLocation(file: location.file, line: line, column: column)
    }
}
