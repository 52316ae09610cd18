#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why some bytes are not a JSON value, and where.
@usableFromInline package struct JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, in words for users ("unexpected character 'x'").
    @usableFromInline package var message: String
    /// Byte offset from the start of the parsed text.
    @usableFromInline package var offset: Int

    @usableFromInline package init(_ message: String, offset: Int) {
        self.message = message
        self.offset = offset
    }

    @usableFromInline package var description: String { "\(message) at byte \(offset)" }
}

/// Limits that keep hostile input from exhausting the stack or memory.
@usableFromInline package struct JSONLimits: Sendable, Equatable {
    /// Deepest nesting of arrays and objects accepted (default 512).
    @usableFromInline package var maxDepth: Int
    /// Largest single event in bytes (default 16 MiB).
    @usableFromInline package var maxEventSize: Int

    @usableFromInline package init(maxDepth: Int = 512, maxEventSize: Int = 16 << 20) {
        self.maxDepth = maxDepth
        self.maxEventSize = maxEventSize
    }

    /// The defaults: depth 512, 16 MiB.
    @usableFromInline package static let `default` = JSONLimits()
}

/// RFC 8259 JSON parsing over bytes.
///
/// Choices for what RFC 8259 leaves open (the `i_` cases of JSONTestSuite):
/// - integers beyond 64 bits become doubles; a number whose magnitude overflows a double
///   is an error ("number out of range"); underflow gives zero;
/// - a lone UTF-16 surrogate in a `\u` escape becomes U+FFFD;
/// - invalid UTF-8 is an error; a UTF-8 byte order mark is an error (RFC 8259 §8.1 says
///   not to add one; Sluice treats a line that starts with one as malformed);
/// - nesting deeper than ``JSONLimits/maxDepth`` is an error, never a stack overflow.
@usableFromInline package enum JSONParser {
    /// Parses one whole JSON text (surrounding whitespace allowed, nothing else).
    @usableFromInline package static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 512) throws(JSONError)
        -> JSON
    {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            throw JSONError("empty input", offset: 0)
        }
        var c = Cursor(base: base, end: bytes.count, maxDepth: maxDepth)
        c.skipWhitespace()
        let v = try c.parseValue(depth: 0)
        c.skipWhitespace()
        if c.pos != c.end { throw c.unexpected("after the value") }
        return v
    }

    /// Parses one whole JSON text; a repeated key in an object keeps its first value
    /// (`.first`), its last value at its first place (`.last`), or is an error (`.reject`).
    @usableFromInline package static func parse(
        _ bytes: UnsafeRawBufferPointer, maxDepth: Int = 512, duplicateKeys: DuplicateKeyPolicy
    ) throws(JSONError) -> JSON {
        if duplicateKeys == .reject, let err = validate(bytes, maxDepth: maxDepth, duplicateKeys: .reject) { throw err }
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            throw JSONError("empty input", offset: 0)
        }
        var c = Cursor(base: base, end: bytes.count, maxDepth: maxDepth)
        c.lastKeyWins = duplicateKeys == .last
        c.skipWhitespace()
        let v = try c.parseValue(depth: 0)
        c.skipWhitespace()
        if c.pos != c.end { throw c.unexpected("after the value") }
        return v
    }

    /// ``validate(_:maxDepth:)`` that with `.reject` also fails on an object that repeats
    /// a key (I-JSON, RFC 7493); the other policies accept such objects.
    @usableFromInline package static func validate(
        _ bytes: UnsafeRawBufferPointer, maxDepth: Int = 512, duplicateKeys: DuplicateKeyPolicy
    ) -> JSONError? {
        guard duplicateKeys == .reject else { return validate(bytes, maxDepth: maxDepth) }
        let checker = DuplicateKeyChecker(rejects: true)
        return validate(bytes, maxDepth: maxDepth, checker: checker)
    }

    /// ``validate(_:maxDepth:)`` looking for repeated keys with `checker` (reset first).
    static func validate(_ bytes: UnsafeRawBufferPointer, maxDepth: Int, checker: DuplicateKeyChecker) -> JSONError? {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count > 0 else {
            return JSONError("empty input", offset: 0)
        }
        checker.reset()
        var c = Cursor(base: base, end: bytes.count, maxDepth: maxDepth)
        c.duplicates = checker
        do throws(JSONError) {
            c.skipWhitespace()
            try c.skipValue(depth: 0)
            c.skipWhitespace()
            if c.pos != c.end { throw c.unexpected("after the value") }
            return nil
        } catch {
            return error
        }
    }

    /// Parses one whole JSON text from an array of bytes.
    @usableFromInline package static func parse(_ bytes: [UInt8], maxDepth: Int = 512) throws(JSONError) -> JSON {
        let r = bytes.withUnsafeBytes { buf in Result { () throws(JSONError) in try parse(buf, maxDepth: maxDepth) } }
        return try r.get()
    }

    /// Parses one whole JSON text from a string.
    @usableFromInline package static func parse(_ text: String, maxDepth: Int = 512) throws(JSONError) -> JSON {
        try parse(Array(text.utf8), maxDepth: maxDepth)
    }

    /// Checks that the bytes hold exactly one JSON value, without building it.
    /// Returns nil when valid. Allocates nothing on the valid path.
    @usableFromInline package static func validate(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 512) -> JSONError? {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count > 0 else {
            return JSONError("empty input", offset: 0)
        }
        var c = Cursor(base: base, end: bytes.count, maxDepth: maxDepth)
        do throws(JSONError) {
            c.skipWhitespace()
            try c.skipValue(depth: 0)
            c.skipWhitespace()
            if c.pos != c.end { throw c.unexpected("after the value") }
            return nil
        } catch {
            return error
        }
    }

    /// Outcome of scanning for one value at the start of a buffer that may be cut short.
    @usableFromInline package enum PrefixScan: Sendable, Equatable {
        /// A complete value ends at this offset (exclusive).
        case complete(end: Int)
        /// The buffer ends inside the value: read more and scan again.
        case incomplete
        /// The bytes cannot start a valid value.
        case invalid(JSONError)
    }

    /// Scans one value starting at `start` (after whitespace) in a buffer that may end
    /// mid-value, as a reader of concatenated JSON values needs.
    @usableFromInline package static func scanPrefix(
        _ bytes: UnsafeRawBufferPointer, from start: Int, maxDepth: Int = 512
    ) -> PrefixScan {
        scanPrefix(bytes, from: start, maxDepth: maxDepth, checker: nil)
    }

    /// ``scanPrefix(_:from:maxDepth:)`` looking for repeated keys with `checker` when given.
    static func scanPrefix(
        _ bytes: UnsafeRawBufferPointer, from start: Int, maxDepth: Int, checker: DuplicateKeyChecker?
    ) -> PrefixScan {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return .incomplete }
        var c = Cursor(base: base, end: bytes.count, maxDepth: maxDepth)
        checker?.reset()
        c.duplicates = checker
        c.pos = start
        do throws(JSONError) {
            try c.skipValue(depth: 0)
            // A number that ends the buffer may go on in the next read.
            if c.pos == c.end, isNumberByte(base[c.end - 1]),
                base[start] == UInt8(ascii: "-") || (base[start] >= 0x30 && base[start] <= 0x39)
            {
                return .incomplete
            }
            return .complete(end: c.pos)
        } catch {
            if error.offset >= c.end { return .incomplete }
            return .invalid(error)
        }
    }

    /// Reads several top-level fields of the object in `bytes` in one pass: `out[i]`
    /// becomes the value of `keys[i]` (UTF-8, unescaped), or nil when absent. Stops as
    /// soon as every key is found. The bytes are assumed validated, as for ``field(_:in:maxDepth:)``.
    @usableFromInline package static func fields(
        _ keys: [[UInt8]], in bytes: UnsafeRawBufferPointer, into out: inout [JSON?]
    ) {
        if out.count == keys.count {
            for i in out.indices { out[i] = nil }
        } else {
            out = Array(repeating: nil, count: keys.count)
        }
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), !keys.isEmpty else { return }
        var c = Cursor(base: base, end: bytes.count, maxDepth: 512)
        var missing = keys.count
        do throws(JSONError) {
            c.skipWhitespace()
            guard c.pos < c.end, base[c.pos] == UInt8(ascii: "{") else { return }
            c.pos += 1
            while missing > 0 {
                c.skipWhitespace()
                guard c.pos < c.end, base[c.pos] == UInt8(ascii: "\"") else { return }
                let keyStart = c.pos + 1
                try c.skipString()
                let key = UnsafeRawBufferPointer(start: base + keyStart, count: c.pos - 1 - keyStart)
                var hit = -1
                for i in keys.indices where out[i] == nil && keys[i].count == key.count {
                    let same = keys[i].withUnsafeBytes { k in
                        guard let kb = k.baseAddress, let b = key.baseAddress else { return true }  // both empty
                        return memcmp(kb, b, key.count) == 0
                    }
                    if same {
                        hit = i
                        break
                    }
                }
                if hit < 0, key.contains(UInt8(ascii: "\\")) {
                    var d = Cursor(base: base, end: bytes.count, maxDepth: 1)
                    d.pos = keyStart - 1
                    let decoded = Array(try d.parseString().utf8)
                    hit = keys.indices.first { out[$0] == nil && keys[$0] == decoded } ?? -1
                }
                c.skipWhitespace()
                guard c.pos < c.end, base[c.pos] == UInt8(ascii: ":") else { return }
                c.pos += 1
                c.skipWhitespace()
                if hit >= 0 {
                    out[hit] = try c.parseValue(depth: 1)
                    missing -= 1
                } else {
                    try c.skipValidated()
                }
                c.skipWhitespace()
                guard c.pos < c.end, base[c.pos] == UInt8(ascii: ",") else { return }
                c.pos += 1
            }
        } catch {
            return
        }
    }

    /// True when the object in `bytes` has a top-level field named by any of `keys`.
    /// One pass over validated bytes; false for non-objects.
    @usableFromInline package static func hasAnyKey(_ keys: [String], in bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), !keys.isEmpty else { return false }
        var c = Cursor(base: base, end: bytes.count, maxDepth: Int.max)
        do throws(JSONError) {
            c.skipWhitespace()
            guard c.pos < c.end, base[c.pos] == UInt8(ascii: "{") else { return false }
            c.pos += 1
            while true {
                c.skipWhitespace()
                guard c.pos < c.end, base[c.pos] == UInt8(ascii: "\"") else { return false }
                let keyStart = c.pos + 1
                try c.skipString()
                let keyBytes = UnsafeRawBufferPointer(start: base + keyStart, count: c.pos - 1 - keyStart)
                for k in keys where k.utf8.count == keyBytes.count && k.utf8.elementsEqual(keyBytes) { return true }
                if keyBytes.contains(UInt8(ascii: "\\")) {
                    // An escaped key: compare its decoded form.
                    var d = Cursor(base: base, end: bytes.count, maxDepth: 1)
                    d.pos = keyStart - 1
                    let decoded = try d.parseString()
                    if keys.contains(decoded) { return true }
                }
                c.skipWhitespace()
                guard c.pos < c.end, base[c.pos] == UInt8(ascii: ":") else { return false }
                c.pos += 1
                c.skipWhitespace()
                try c.skipValidated()
                c.skipWhitespace()
                guard c.pos < c.end, base[c.pos] == UInt8(ascii: ",") else { return false }
                c.pos += 1
            }
        } catch {
            return false
        }
    }

    /// Finds the top-level field `key` of the object in `bytes` and parses only its value.
    /// Returns nil when the text is not an object or has no such field. The bytes are
    /// assumed already validated (as events from a reader are); invalid input gives nil
    /// or a partial answer, never a crash.
    @usableFromInline package static func field(_ key: String, in bytes: UnsafeRawBufferPointer, maxDepth: Int = 512)
        -> JSON?
    {
        var key = key
        return key.withUTF8 { k in field(utf8Key: UnsafeRawBufferPointer(k), in: bytes, maxDepth: maxDepth) }
    }

    /// ``field(_:in:maxDepth:)`` with the key already as UTF-8 bytes.
    @usableFromInline package static func field(
        utf8Key key: UnsafeRawBufferPointer, in bytes: UnsafeRawBufferPointer, maxDepth: Int = 512
    ) -> JSON? {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        var c = Cursor(base: base, end: bytes.count, maxDepth: maxDepth)
        do throws(JSONError) {
            c.skipWhitespace()
            guard c.pos < c.end, base[c.pos] == UInt8(ascii: "{") else { return nil }
            c.pos += 1
            c.skipWhitespace()
            if c.pos < c.end, base[c.pos] == UInt8(ascii: "}") { return nil }
            while true {
                c.skipWhitespace()
                guard c.pos < c.end, base[c.pos] == UInt8(ascii: "\"") else { return nil }
                let matches = try c.keyEquals(key)
                c.skipWhitespace()
                guard c.pos < c.end, base[c.pos] == UInt8(ascii: ":") else { return nil }
                c.pos += 1
                c.skipWhitespace()
                if matches {
                    // Duplicate keys: the first one wins, as in `parse`, so the scan
                    // can stop here instead of reading the rest of the object.
                    return try c.parseValue(depth: 1)
                } else {
                    try c.skipValidated()
                }
                c.skipWhitespace()
                guard c.pos < c.end else { return nil }
                if base[c.pos] == UInt8(ascii: ",") { c.pos += 1; continue }
                return nil
            }
        } catch {
            return nil
        }
    }
}

// MARK: - The cursor

@usableFromInline
struct Cursor {
    let base: UnsafePointer<UInt8>
    let end: Int
    let maxDepth: Int
    var pos: Int = 0
    /// When set, validation (``skipValue(depth:)``) looks for repeated keys with it.
    unowned(unsafe) var duplicates: DuplicateKeyChecker? = nil
    /// Building an object, a repeated key takes the later value (at the first place).
    var lastKeyWins = false

    init(base: UnsafePointer<UInt8>, end: Int, maxDepth: Int) {
        self.base = base
        self.end = end
        self.maxDepth = maxDepth
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while pos < end {
            let b = base[pos]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { pos += 1 } else { return }
        }
    }

    /// The high bit of each byte of `w` (eight string bytes) that is not a plain string
    /// byte: a byte flags when it is a quote or backslash, below 0x20 (a control
    /// character) or 0x80 and above (UTF-8 to validate). The lowest flagged byte is exact;
    /// bytes above it may be flagged spuriously, which only ends a fast path early.
    @inline(__always)
    static func specialBytes(_ w: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let quote = w ^ (ones &* 0x22)
        let backslash = w ^ (ones &* 0x5C)
        let special =
            ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash)
            | ((w &- (ones &* 0x20)) & ~w) | w
        return special & 0x8080_8080_8080_8080
    }

    /// At an object key's opening quote: steps over a plain key of fewer than eight
    /// bytes (nearly every key of an event) with one load, and returns its bytes,
    /// zero-padded (the repeated-key checker's tag for it). Nil, with `pos` unchanged,
    /// for any other key, which ``skipKey()`` then reads.
    @inline(__always)
    mutating func skipShortPlainKey() -> UInt64? {
        let start = pos &+ 1
        guard start &+ 8 <= end else { return nil }
        let w = UnsafeRawPointer(base).loadUnaligned(fromByteOffset: start, as: UInt64.self)
        let hit = Self.specialBytes(w)
        guard hit != 0 else { return nil }
        let n = hit.trailingZeroBitCount &>> 3
        // The lowest flagged byte is exact: when it is the closing quote, every byte
        // before it is plain.
        guard base[start &+ n] == UInt8(ascii: "\"") else { return nil }
        pos = start &+ n &+ 1
        return w & ((1 &<< (UInt64(truncatingIfNeeded: n) &<< 3)) &- 1)
    }

    /// Advances `pos` past plain string bytes: printable ASCII other than `"` and `\\`.
    /// Eight bytes at a time while they are all plain (a string body is mostly such
    /// bytes), then stops at the first byte that needs a closer look, or near the end.
    @inline(__always)
    mutating func skipPlainStringBytes() {
        let raw = UnsafeRawPointer(base)
        while pos + 8 <= end {
            let hit = Self.specialBytes(raw.loadUnaligned(fromByteOffset: pos, as: UInt64.self))
            if hit != 0 {
                pos += hit.trailingZeroBitCount >> 3
                return
            }
            pos += 8
        }
    }

    func unexpected(_ context: String) -> JSONError {
        if pos >= end { return JSONError("unexpected end of input", offset: pos) }
        let b = base[pos]
        let shown: String
        if b >= 0x20 && b < 0x7F {
            shown = "'\(Character(Unicode.Scalar(b)))'"
        } else {
            let hex = String(b, radix: 16, uppercase: true)
            shown = "byte 0x\(hex.count == 1 ? "0" + hex : hex)"
        }
        return JSONError("unexpected \(shown) \(context)", offset: pos)
    }

    func tooDeep() -> JSONError {
        JSONError("nesting deeper than \(maxDepth) levels", offset: pos)
    }

    // MARK: Building values

    mutating func parseValue(depth: Int) throws(JSONError) -> JSON {
        guard pos < end else { throw JSONError("unexpected end of input", offset: pos) }
        switch base[pos] {
        case UInt8(ascii: "{"):
            if depth >= maxDepth { throw tooDeep() }
            pos += 1
            var obj = JSONObject(minimumCapacity: 8)
            skipWhitespace()
            if pos < end && base[pos] == UInt8(ascii: "}") {
                pos += 1
                return .object(obj)
            }
            while true {
                skipWhitespace()
                guard pos < end, base[pos] == UInt8(ascii: "\"") else {
                    throw unexpected("where an object key was expected")
                }
                let key = try parseString()
                try skipColon()
                let value = try parseValue(depth: depth + 1)
                // A repeated key keeps its first value (as `field(_:in:)` reads it), or
                // with `lastKeyWins` its last value at its first place.
                if let i = obj.index(of: key) {
                    if lastKeyWins { obj.replaceValue(at: i, with: value) }
                } else {
                    obj.appendUnchecked(key: key, value: value)
                }
                if try !skipMemberEnd() { return .object(obj) }
            }
        case UInt8(ascii: "["):
            if depth >= maxDepth { throw tooDeep() }
            pos += 1
            var arr: [JSON] = []
            skipWhitespace()
            if pos < end && base[pos] == UInt8(ascii: "]") {
                pos += 1
                return .array(arr)
            }
            while true {
                skipWhitespace()
                arr.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                guard pos < end else { throw JSONError("unexpected end of input inside an array", offset: pos) }
                let b = base[pos]
                pos += 1
                if b == UInt8(ascii: ",") { continue }
                if b == UInt8(ascii: "]") { return .array(arr) }
                pos -= 1
                throw unexpected("where ',' or ']' was expected")
            }
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try parseNumber()
        default:
            throw unexpected("where a value was expected")
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONError) {
        let n = word.utf8CodeUnitCount
        let w = word.utf8Start
        for i in 0..<n {
            guard pos + i < end, base[pos + i] == w[i] else {
                pos += i
                throw unexpected("in literal '\(word)'")
            }
        }
        pos += n
    }

    /// Parses a string starting at the opening quote.
    mutating func parseString() throws(JSONError) -> String {
        pos += 1
        let start = pos
        // Fast path: no escapes. Validate UTF-8 as we go.
        while pos < end {
            skipPlainStringBytes()
            guard pos < end else { break }
            let b = base[pos]
            if b == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeBufferPointer(start: base + start, count: pos - start), as: UTF8.self)
                pos += 1
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw JSONError("control character in string (must be escaped)", offset: pos) }
            if b < 0x80 { pos += 1 } else { _ = try utf8Length() }
        }
        guard pos < end else { throw JSONError("unterminated string", offset: pos) }
        // Slow path: decode escapes into a scratch buffer.
        var out: [UInt8] = []
        out.reserveCapacity(pos - start + 16)
        out.append(contentsOf: UnsafeBufferPointer(start: base + start, count: pos - start))
        while pos < end {
            let b = base[pos]
            if b == UInt8(ascii: "\"") {
                pos += 1
                return String(decoding: out, as: UTF8.self)
            }
            if b == UInt8(ascii: "\\") {
                pos += 1
                guard pos < end else { break }
                let e = base[pos]
                pos += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        // High surrogate: pair it with a following low surrogate if there is one.
                        if pos + 1 < end, base[pos] == UInt8(ascii: "\\"), base[pos + 1] == UInt8(ascii: "u") {
                            let save = pos
                            pos += 2
                            let low = try hex4()
                            if low >= 0xDC00 && low < 0xE000 {
                                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                pos = save
                                scalar = 0xFFFD
                            }
                        } else {
                            scalar = 0xFFFD
                        }
                    } else if scalar >= 0xDC00 && scalar < 0xE000 {
                        scalar = 0xFFFD
                    }
                    appendUTF8(scalar, to: &out)
                default:
                    pos -= 1
                    throw JSONError("invalid escape '\\\(Character(Unicode.Scalar(e)))' in string", offset: pos - 1)
                }
                continue
            }
            if b < 0x20 { throw JSONError("control character in string (must be escaped)", offset: pos) }
            if b < 0x80 {
                out.append(b)
                pos += 1
            } else {
                let n = try utf8Length()
                out.append(contentsOf: UnsafeBufferPointer(start: base + pos - n, count: n))
            }
        }
        throw JSONError("unterminated string", offset: pos)
    }

    mutating func hex4() throws(JSONError) -> UInt32 {
        guard pos + 4 <= end else { throw JSONError("unterminated \\u escape", offset: pos) }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let h = base[pos]
            let d: UInt32
            switch h {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(h - 0x30)
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(h - 0x61 + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(h - 0x41 + 10)
            default: throw JSONError("invalid hex digit in \\u escape", offset: pos)
            }
            v = v << 4 | d
            pos += 1
        }
        return v
    }

    /// Validates the UTF-8 sequence at `pos` (first byte >= 0x80), advances past it and
    /// returns its length.
    @inline(__always)
    mutating func utf8Length() throws(JSONError) -> Int {
        let b0 = base[pos]
        func cont(_ i: Int, _ lo: UInt8 = 0x80, _ hi: UInt8 = 0xBF) -> Bool {
            pos + i < end && base[pos + i] >= lo && base[pos + i] <= hi
        }
        let n: Int
        switch b0 {
        case 0xC2...0xDF: n = cont(1) ? 2 : 0
        case 0xE0: n = cont(1, 0xA0) && cont(2) ? 3 : 0
        case 0xE1...0xEC, 0xEE...0xEF: n = cont(1) && cont(2) ? 3 : 0
        case 0xED: n = cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0
        case 0xF0: n = cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0
        case 0xF1...0xF3: n = cont(1) && cont(2) && cont(3) ? 4 : 0
        case 0xF4: n = cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0
        default: n = 0
        }
        if n == 0 { throw JSONError("invalid UTF-8", offset: pos) }
        pos += n
        return n
    }

    /// Scans the number grammar; returns (isInteger, digits) facts for the caller.
    mutating func parseNumber() throws(JSONError) -> JSON {
        let start = pos
        var negative = false
        if base[pos] == UInt8(ascii: "-") {
            negative = true
            pos += 1
        }
        guard pos < end, base[pos] >= 0x30 && base[pos] <= 0x39 else { throw unexpected("in a number") }
        var mantissa: UInt64 = 0
        var sigDigits = 0
        var overflow = false
        if base[pos] == 0x30 {
            pos += 1
            if pos < end, base[pos] >= 0x30 && base[pos] <= 0x39 {
                throw JSONError("leading zero in a number", offset: pos)
            }
        } else {
            while pos < end, base[pos] >= 0x30 && base[pos] <= 0x39 {
                let d = UInt64(base[pos] - 0x30)
                if sigDigits < 19 { mantissa = mantissa &* 10 &+ d } else { overflow = true }
                sigDigits += 1
                pos += 1
            }
        }
        var isInteger = true
        var fracDigits = 0
        if pos < end, base[pos] == UInt8(ascii: ".") {
            isInteger = false
            pos += 1
            guard pos < end, base[pos] >= 0x30 && base[pos] <= 0x39 else { throw unexpected("after '.' in a number") }
            while pos < end, base[pos] >= 0x30 && base[pos] <= 0x39 {
                let d = UInt64(base[pos] - 0x30)
                if mantissa == 0 && d == 0 {
                    fracDigits += 1
                } else if sigDigits < 19 {
                    mantissa = mantissa &* 10 &+ d
                    sigDigits += 1
                    fracDigits += 1
                } else {
                    overflow = true
                }
                pos += 1
            }
        }
        var exp = 0
        if pos < end, base[pos] == UInt8(ascii: "e") || base[pos] == UInt8(ascii: "E") {
            isInteger = false
            pos += 1
            var expNeg = false
            if pos < end, base[pos] == UInt8(ascii: "+") || base[pos] == UInt8(ascii: "-") {
                expNeg = base[pos] == UInt8(ascii: "-")
                pos += 1
            }
            guard pos < end, base[pos] >= 0x30 && base[pos] <= 0x39 else { throw unexpected("in a number's exponent") }
            while pos < end, base[pos] >= 0x30 && base[pos] <= 0x39 {
                if exp < 100_000 { exp = exp * 10 + Int(base[pos] - 0x30) }
                pos += 1
            }
            if expNeg { exp = -exp }
        }
        if isInteger && !overflow {
            if !negative, mantissa <= UInt64(Int64.max) { return .int(Int64(mantissa)) }
            if negative, mantissa <= UInt64(Int64.max) + 1 {
                return .int(mantissa == UInt64(Int64.max) + 1 ? Int64.min : -Int64(mantissa))
            }
        }
        // Clinger's fast path: an exact mantissa times an exact power of ten rounds once.
        let e10 = exp - fracDigits
        if !overflow, sigDigits <= 15, e10 >= -22, e10 <= 22 {
            var d = Double(mantissa)
            if e10 >= 0 { d *= powersOfTen[e10] } else { d /= powersOfTen[-e10] }
            return .double(negative ? -d : d)
        }
        let d = slowDouble(start: start)
        if !d.isFinite { throw JSONError("number out of range", offset: start) }
        return .double(d)
    }

    func slowDouble(start: Int) -> Double {
        let n = pos - start
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: n + 1) { buf in
            for i in 0..<n { buf[i] = CChar(bitPattern: base[start + i]) }
            buf[n] = 0
            return strtod(buf.baseAddress!, nil)
        }
    }

    /// Skips the ':' after an object key, and the whitespace around it.
    @inline(__always)
    mutating func skipColon() throws(JSONError) {
        skipWhitespace()
        guard pos < end, base[pos] == UInt8(ascii: ":") else { throw unexpected("where ':' was expected") }
        pos += 1
        skipWhitespace()
    }

    /// After an object member's value: skips whitespace and the ',' before the next
    /// member (true) or the '}' that closes the object (false).
    @inline(__always)
    mutating func skipMemberEnd() throws(JSONError) -> Bool {
        skipWhitespace()
        guard pos < end else { throw JSONError("unexpected end of input inside an object", offset: pos) }
        let b = base[pos]
        pos += 1
        if b == UInt8(ascii: ",") { return true }
        if b == UInt8(ascii: "}") { return false }
        pos -= 1
        throw unexpected("where ',' or '}' was expected")
    }

    // MARK: Skipping (validation without building)

    mutating func skipValue(depth: Int) throws(JSONError) {
        guard pos < end else { throw JSONError("unexpected end of input", offset: pos) }
        switch base[pos] {
        case UInt8(ascii: "{"):
            if depth >= maxDepth { throw tooDeep() }
            pos += 1
            skipWhitespace()
            if pos < end && base[pos] == UInt8(ascii: "}") {
                pos += 1
                return
            }
            guard let checker = duplicates else {
                while true {
                    skipWhitespace()
                    guard pos < end, base[pos] == UInt8(ascii: "\"") else {
                        throw unexpected("where an object key was expected")
                    }
                    try skipString()
                    try skipColon()
                    try skipValue(depth: depth + 1)
                    if try !skipMemberEnd() { return }
                }
            }
            var frame = DuplicateKeyChecker.Frame(open: pos - 1)
            defer { checker.leave(frame) }
            while true {
                skipWhitespace()
                guard pos < end, base[pos] == UInt8(ascii: "\"") else {
                    throw unexpected("where an object key was expected")
                }
                let keyStart = pos &+ 1
                if let tag = skipShortPlainKey() {
                    try checker.addPlain(
                        base, tag: tag, start: keyStart, count: pos &- 1 &- keyStart, frame: &frame, end: end)
                } else {
                    let plain = try skipKey()
                    try checker.add(
                        base, start: keyStart, count: pos &- 1 &- keyStart, plain: plain, frame: &frame, end: end)
                }
                try skipColon()
                try skipValue(depth: depth + 1)
                if try !skipMemberEnd() { return }
            }
        case UInt8(ascii: "["):
            if depth >= maxDepth { throw tooDeep() }
            pos += 1
            skipWhitespace()
            if pos < end && base[pos] == UInt8(ascii: "]") {
                pos += 1
                return
            }
            while true {
                skipWhitespace()
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard pos < end else { throw JSONError("unexpected end of input inside an array", offset: pos) }
                let b = base[pos]
                pos += 1
                if b == UInt8(ascii: ",") { continue }
                if b == UInt8(ascii: "]") { return }
                pos -= 1
                throw unexpected("where ',' or ']' was expected")
            }
        case UInt8(ascii: "\""):
            try skipString()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try skipNumber()
        default:
            throw unexpected("where a value was expected")
        }
    }

    /// Skips a value known to be valid (an event the reader already checked): strings,
    /// numbers and nested containers are stepped over without re-validating them.
    mutating func skipValidated() throws(JSONError) {
        guard pos < end else { throw JSONError("unexpected end of input", offset: pos) }
        switch base[pos] {
        case UInt8(ascii: "\""):
            pos += 1
            while pos < end {
                skipPlainStringBytes()
                guard pos < end else { break }
                let b = base[pos]
                if b == UInt8(ascii: "\"") {
                    pos += 1
                    return
                }
                pos += b == UInt8(ascii: "\\") ? 2 : 1
            }
            throw JSONError("unterminated string", offset: pos)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while pos < end {
                let b = base[pos]
                if b == UInt8(ascii: "\"") {
                    try skipValidated()
                    continue
                }
                if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") {
                    depth += 1
                } else if b == UInt8(ascii: "}") || b == UInt8(ascii: "]") {
                    depth -= 1
                    if depth == 0 {
                        pos += 1
                        return
                    }
                }
                pos += 1
            }
            throw JSONError("unterminated container", offset: pos)
        default:
            // A number or literal: up to the next delimiter.
            while pos < end {
                let b = base[pos]
                if b == UInt8(ascii: ",") || b == UInt8(ascii: "}") || b == UInt8(ascii: "]") || b == 0x20 || b == 0x0A
                    || b == 0x0D || b == 0x09
                {
                    return
                }
                pos += 1
            }
        }
    }

    /// Steps over a string (at its opening quote), checking escapes and UTF-8. The same
    /// walk as ``skipKey()`` without noting whether the string is plain: this one runs
    /// for every string value, and the bookkeeping costs about 6% of it.
    mutating func skipString() throws(JSONError) {
        pos += 1
        while pos < end {
            skipPlainStringBytes()
            guard pos < end else { break }
            let b = base[pos]
            if b == UInt8(ascii: "\"") {
                pos += 1
                return
            }
            if b == UInt8(ascii: "\\") {
                pos += 1
                guard pos < end else { break }
                try skipEscape()
                continue
            }
            if b < 0x20 { throw JSONError("control character in string (must be escaped)", offset: pos) }
            if b < 0x80 { pos += 1 } else { _ = try utf8Length() }
        }
        throw JSONError("unterminated string", offset: pos)
    }

    /// Steps over the escape whose letter is at `pos` (just after its backslash), checking
    /// it: the shared part of ``skipString()`` and ``skipKey()``.
    @inline(__always)
    mutating func skipEscape() throws(JSONError) {
        switch base[pos] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
            UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            pos += 1
        case UInt8(ascii: "u"):
            pos += 1
            _ = try hex4()
        default:
            throw JSONError("invalid escape in string", offset: pos - 1)
        }
    }

    /// ``skipString()`` that also says whether the string is plain (no escape, all
    /// ASCII), so that an object key's bytes are the key.
    mutating func skipKey() throws(JSONError) -> Bool {
        pos += 1
        var plain = true
        while pos < end {
            skipPlainStringBytes()
            guard pos < end else { break }
            let b = base[pos]
            if b == UInt8(ascii: "\"") {
                pos += 1
                return plain
            }
            if b == UInt8(ascii: "\\") {
                plain = false
                pos += 1
                guard pos < end else { break }
                try skipEscape()
                continue
            }
            if b < 0x20 { throw JSONError("control character in string (must be escaped)", offset: pos) }
            if b < 0x80 {
                pos += 1
            } else {
                plain = false
                _ = try utf8Length()
            }
        }
        throw JSONError("unterminated string", offset: pos)
    }

    /// The offset of the first byte at or after `start` (at most ``end``) that is not an
    /// ASCII digit. Eight bytes at a time: each byte is xored with `0`, so digits become
    /// 0 to 9; adding 0x76 sets a byte's high bit from 10 up, and a byte from 0x80 up is
    /// flagged as it is. A carry out of a byte only comes from a flagged byte and only
    /// reaches higher ones, so the lowest flagged byte is exact. A timestamp's 13 digits
    /// take two loads instead of thirteen compares.
    @inline(__always)
    func digitsEnd(from start: Int) -> Int { Self.digitsEnd(base, from: start, end) }

    /// ``digitsEnd(from:)`` of the text at `base` ending at `end`.
    @inline(__always)
    static func digitsEnd(_ base: UnsafePointer<UInt8>, from start: Int, _ end: Int) -> Int {
        var p = start
        let raw = UnsafeRawPointer(base)
        while p &+ 8 <= end {
            let x = raw.loadUnaligned(fromByteOffset: p, as: UInt64.self) ^ 0x3030_3030_3030_3030
            let flagged = ((x &+ 0x7676_7676_7676_7676) | x) & 0x8080_8080_8080_8080
            if flagged != 0 { return p &+ (flagged.trailingZeroBitCount &>> 3) }
            p &+= 8
        }
        while p < end, base[p] &- 0x30 < 10 { p &+= 1 }
        return p
    }

    mutating func skipNumber() throws(JSONError) {
        let start = pos
        if base[pos] == UInt8(ascii: "-") { pos += 1 }
        guard pos < end, base[pos] >= 0x30 && base[pos] <= 0x39 else { throw unexpected("in a number") }
        if base[pos] == 0x30 {
            pos += 1
            if pos < end, base[pos] >= 0x30 && base[pos] <= 0x39 {
                throw JSONError("leading zero in a number", offset: pos)
            }
        } else {
            pos = digitsEnd(from: pos &+ 1)
        }
        var simple = true
        if pos < end, base[pos] == UInt8(ascii: ".") {
            pos += 1
            guard pos < end, base[pos] >= 0x30 && base[pos] <= 0x39 else { throw unexpected("after '.' in a number") }
            pos = digitsEnd(from: pos &+ 1)
        }
        if pos < end, base[pos] == UInt8(ascii: "e") || base[pos] == UInt8(ascii: "E") {
            simple = false
            pos += 1
            if pos < end, base[pos] == UInt8(ascii: "+") || base[pos] == UInt8(ascii: "-") { pos += 1 }
            guard pos < end, base[pos] >= 0x30 && base[pos] <= 0x39 else { throw unexpected("in a number's exponent") }
            pos = digitsEnd(from: pos &+ 1)
        }
        // Only an exponent can push a double out of range; check those the slow way so
        // that validation and parsing agree.
        if !simple, !slowDouble(start: start).isFinite { throw JSONError("number out of range", offset: start) }
    }

    /// Compares the string at `pos` (an object key) with `key` and advances past it.
    mutating func keyEquals(_ key: UnsafeRawBufferPointer) throws(JSONError) -> Bool {
        let start = pos + 1
        var p = start
        while p < end {
            let b = base[p]
            if b == UInt8(ascii: "\"") {
                let n = p - start
                pos = p + 1
                return n == key.count && (n == 0 || memcmp(base + start, key.baseAddress!, n) == 0)
            }
            if b == UInt8(ascii: "\\") {
                // Escaped key: decode it to compare.
                let s = try parseString()
                return s.utf8.elementsEqual(key)
            }
            p += 1
        }
        throw JSONError("unterminated string", offset: p)
    }
}

@inline(__always)
func isNumberByte(_ b: UInt8) -> Bool {
    (b >= 0x30 && b <= 0x39) || b == 0x2E || b == 0x2D || b == 0x2B || b == 0x45 || b == 0x65
}

@usableFromInline
let powersOfTen: [Double] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
]

@inline(__always)
func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
    switch scalar {
    case 0..<0x80:
        out.append(UInt8(scalar))
    case 0x80..<0x800:
        out.append(UInt8(0xC0 | (scalar >> 6)))
        out.append(UInt8(0x80 | (scalar & 0x3F)))
    case 0x800..<0x10000:
        out.append(UInt8(0xE0 | (scalar >> 12)))
        out.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (scalar & 0x3F)))
    default:
        out.append(UInt8(0xF0 | (scalar >> 18)))
        out.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
        out.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (scalar & 0x3F)))
    }
}
