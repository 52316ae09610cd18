/// Tokens of CEL source text.
enum TokenKind: Equatable {
    case ident(String)
    case int(String)  // digits only (no sign); hex keeps its 0x prefix
    case uint(String)
    case double(String)
    case string(String)
    case bytes([UInt8])
    case punct(String)
    case eof
}

struct Token {
    let kind: TokenKind
    /// Offset in Unicode scalars of the token's first character.
    let offset: Int
}

/// Splits CEL source into tokens, decoding string and bytes literals.
struct Lexer {
    let s: [Unicode.Scalar]
    var p = 0

    init(_ source: String) {
        s = Array(source.unicodeScalars)
    }

    static func tokenize(_ source: String) throws(CELCompileError) -> [Token] {
        var lx = Lexer(source)
        var out: [Token] = []
        while true {
            let t = try lx.next()
            out.append(t)
            if t.kind == .eof { return out }
        }
    }

    private func peek(_ k: Int = 0) -> Unicode.Scalar? { p + k < s.count ? s[p + k] : nil }

    private static func isDigit(_ c: Unicode.Scalar?) -> Bool { c.map { $0.value >= 48 && $0.value <= 57 } ?? false }
    private static func isHex(_ c: Unicode.Scalar?) -> Bool {
        guard let c else { return false }
        return isDigit(c) || (c.value >= 65 && c.value <= 70) || (c.value >= 97 && c.value <= 102)
    }
    private static func isIdentStart(_ c: Unicode.Scalar?) -> Bool {
        guard let c else { return false }
        return c == "_" || (c.value >= 65 && c.value <= 90) || (c.value >= 97 && c.value <= 122)
    }
    private static func isIdentPart(_ c: Unicode.Scalar?) -> Bool { isIdentStart(c) || isDigit(c) }

    mutating func next() throws(CELCompileError) -> Token {
        // Whitespace and // comments.
        while let c = peek() {
            if c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\u{0C}" {
                p += 1
            } else if c == "/", peek(1) == "/" {
                while let d = peek(), d != "\n" { p += 1 }
            } else {
                break
            }
        }
        let start = p
        guard let c = peek() else { return Token(kind: .eof, offset: p) }

        if Self.isDigit(c) || (c == "." && Self.isDigit(peek(1))) {
            return try number(start)
        }
        if Self.isIdentStart(c) {
            // String prefixes: r, R, b, B and their combinations.
            var q = p
            var raw = false
            var bytes = false
            while q < s.count, q - p < 2 {
                let x = s[q]
                if (x == "r" || x == "R") && !raw {
                    raw = true
                } else if (x == "b" || x == "B") && !bytes {
                    bytes = true
                } else {
                    break
                }
                q += 1
            }
            if q > p, q < s.count, s[q] == "\"" || s[q] == "'" {
                p = q
                return try stringLiteral(start: start, raw: raw, bytes: bytes)
            }
            var name = ""
            while Self.isIdentPart(peek()) {
                name.unicodeScalars.append(s[p])
                p += 1
            }
            return Token(kind: .ident(name), offset: start)
        }
        if c == "\"" || c == "'" {
            return try stringLiteral(start: start, raw: false, bytes: false)
        }
        if c == "`" {
            // Quoted field names (`content-type`), only valid after '.'.
            p += 1
            var name = ""
            while let d = peek(), d != "`" {
                guard d != "\n" else { break }
                name.unicodeScalars.append(d)
                p += 1
            }
            guard peek() == "`", !name.isEmpty else {
                throw CELCompileError("unterminated quoted identifier", offset: start)
            }
            p += 1
            return Token(kind: .punct("`" + name), offset: start)
        }
        let two = peek(1).map { String(c) + String($0) } ?? ""
        if ["==", "!=", "<=", ">=", "&&", "||"].contains(two) {
            p += 2
            return Token(kind: .punct(two), offset: start)
        }
        if "+-*/%!<>?:.,()[]{}".unicodeScalars.contains(c) {
            p += 1
            return Token(kind: .punct(String(c)), offset: start)
        }
        throw CELCompileError("unexpected character '\(c)'", offset: start)
    }

    private mutating func number(_ start: Int) throws(CELCompileError) -> Token {
        if peek() == "0", peek(1) == "x" || peek(1) == "X" {
            p += 2
            var digits = ""
            while Self.isHex(peek()) {
                digits.unicodeScalars.append(s[p])
                p += 1
            }
            guard !digits.isEmpty else { throw CELCompileError("invalid hex literal", offset: start) }
            if peek() == "u" || peek() == "U" {
                p += 1
                return try finishNumber(.uint("0x" + digits), start)
            }
            return try finishNumber(.int("0x" + digits), start)
        }
        var text = ""
        var isFloat = false
        while Self.isDigit(peek()) {
            text.unicodeScalars.append(s[p])
            p += 1
        }
        if peek() == ".", Self.isDigit(peek(1)) {
            isFloat = true
            text += "."
            p += 1
            while Self.isDigit(peek()) {
                text.unicodeScalars.append(s[p])
                p += 1
            }
        }
        if peek() == "e" || peek() == "E" {
            var q = p + 1
            if q < s.count, s[q] == "+" || s[q] == "-" { q += 1 }
            if q < s.count, Self.isDigit(s[q]) {
                isFloat = true
                text.unicodeScalars.append(contentsOf: s[p..<q])
                p = q
                while Self.isDigit(peek()) {
                    text.unicodeScalars.append(s[p])
                    p += 1
                }
            }
        }
        if text.hasPrefix(".") { text = "0" + text }
        if isFloat { return try finishNumber(.double(text), start) }
        if peek() == "u" || peek() == "U" {
            p += 1
            return try finishNumber(.uint(text), start)
        }
        return try finishNumber(.int(text), start)
    }

    private func finishNumber(_ kind: TokenKind, _ start: Int) throws(CELCompileError) -> Token {
        // `1abc` or `1.5u` are not numbers followed by identifiers.
        if Self.isIdentPart(peek()) || peek() == "." && Self.isDigit(peek(1)) {
            throw CELCompileError("invalid number literal", offset: start)
        }
        return Token(kind: kind, offset: start)
    }

    private mutating func stringLiteral(start: Int, raw: Bool, bytes: Bool) throws(CELCompileError) -> Token {
        guard let q = peek() else { throw CELCompileError("unterminated string", offset: start) }
        let triple = peek(1) == q && peek(2) == q
        p += triple ? 3 : 1
        var out: [UInt8] = []  // bytes literal content
        var text = String.UnicodeScalarView()  // string literal content
        func emitScalar(_ c: Unicode.Scalar) {
            if bytes { out.append(contentsOf: Array(String(c).utf8)) } else { text.append(c) }
        }
        while true {
            guard let c = peek() else { throw CELCompileError("unterminated string literal", offset: start) }
            if c == q {
                if !triple {
                    p += 1
                    break
                }
                if peek(1) == q, peek(2) == q {
                    p += 3
                    break
                }
            }
            if !triple, c == "\n" || c == "\r" {
                throw CELCompileError("newline in string literal", offset: p)
            }
            if c == "\\", !raw {
                let escStart = p
                p += 1
                guard let e = peek() else { throw CELCompileError("unterminated string literal", offset: start) }
                p += 1
                switch e {
                case "a": emitScalar("\u{07}")
                case "b": emitScalar("\u{08}")
                case "f": emitScalar("\u{0C}")
                case "n": emitScalar("\n")
                case "r": emitScalar("\r")
                case "t": emitScalar("\t")
                case "v": emitScalar("\u{0B}")
                case "\\", "'", "\"", "`", "?": emitScalar(e)
                case "x", "X", "u", "U":
                    let n = e == "u" ? 4 : e == "U" ? 8 : 2
                    var v: UInt32 = 0
                    for _ in 0..<n {
                        guard let h = peek(), Self.isHex(h), let d = UInt32(String(h), radix: 16) else {
                            throw CELCompileError("invalid escape sequence", offset: escStart)
                        }
                        v = v * 16 + d
                        p += 1
                    }
                    if n == 2 {
                        if bytes { out.append(UInt8(v)) } else { text.append(Unicode.Scalar(UInt8(v))) }
                    } else {
                        guard !bytes else { throw CELCompileError("unicode escape in bytes literal", offset: escStart) }
                        // A \u high surrogate followed by a \u low surrogate is one code point.
                        if e == "u", v >= 0xD800, v < 0xDC00, peek() == "\\", peek(1) == "u",
                            p + 5 < s.count,
                            let low = UInt32(String(String.UnicodeScalarView(s[(p + 2)..<(p + 6)])), radix: 16),
                            low >= 0xDC00, low < 0xE000
                        {
                            v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                            p += 6
                        }
                        guard let sc = Unicode.Scalar(v) else {
                            throw CELCompileError("invalid unicode code point in escape", offset: escStart)
                        }
                        text.append(sc)
                    }
                case "0", "1", "2", "3":
                    var v = e.value - 48
                    for _ in 0..<2 {
                        guard let o = peek(), o.value >= 48, o.value <= 55 else {
                            throw CELCompileError("invalid octal escape", offset: escStart)
                        }
                        v = v * 8 + (o.value - 48)
                        p += 1
                    }
                    if bytes { out.append(UInt8(v)) } else { text.append(Unicode.Scalar(UInt8(v))) }
                default:
                    throw CELCompileError("invalid escape sequence '\\\(e)'", offset: escStart)
                }
                continue
            }
            // Raw CR LF inside triple-quoted text stays as written.
            emitScalar(c)
            p += 1
        }
        return Token(kind: bytes ? .bytes(out) : .string(String(text)), offset: start)
    }
}
