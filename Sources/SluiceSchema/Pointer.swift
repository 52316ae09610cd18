/// RFC 6901 JSON pointer helpers.
enum Pointer {
    /// Escapes one reference token: `~` becomes `~0`, `/` becomes `~1`.
    static func escape(_ token: String) -> String {
        if !token.utf8.contains(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) { return token }
        var out = ""
        for ch in token.unicodeScalars {
            switch ch {
            case "~": out += "~0"
            case "/": out += "~1"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    /// Appends a token to a pointer.
    static func append(_ base: String, _ token: String) -> String {
        base + "/" + escape(token)
    }

    /// Splits a pointer into unescaped tokens; nil when it is not a pointer or has a bad escape.
    static func tokens(_ pointer: String) -> [String]? {
        if pointer.isEmpty { return [] }
        guard pointer.hasPrefix("/") else { return nil }
        var result: [String] = []
        for raw in pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            var tok = ""
            var it = raw.unicodeScalars.makeIterator()
            while let c = it.next() {
                if c == "~" {
                    switch it.next() {
                    case "0": tok += "~"
                    case "1": tok += "/"
                    default: return nil
                    }
                } else {
                    tok.unicodeScalars.append(c)
                }
            }
            result.append(tok)
        }
        return result
    }

    /// Decodes `%XX` escapes (as found in URI fragments); nil when malformed.
    static func percentDecode(_ s: String) -> String? {
        if !s.utf8.contains(UInt8(ascii: "%")) { return s }
        var bytes: [UInt8] = []
        var u = Array(s.utf8)[...]
        while let b = u.popFirst() {
            if b == UInt8(ascii: "%") {
                guard u.count >= 2, let h = hexValue(u[u.startIndex]), let l = hexValue(u[u.startIndex + 1]) else {
                    return nil
                }
                bytes.append(h << 4 | l)
                u = u.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// One step of an instance path, kept as a value so that no string is built on the valid path.
enum PathComponent {
    case key(String)
    case index(Int)
}

extension [PathComponent] {
    /// The RFC 6901 pointer for these steps.
    var pointer: String {
        var out = ""
        for c in self {
            switch c {
            case .key(let k): out += "/" + Pointer.escape(k)
            case .index(let i): out += "/" + String(i)
            }
        }
        return out
    }
}
