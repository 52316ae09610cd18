// Iterative parser from pattern text to a flat AST (nodes addressed by index,
// so neither parsing nor dropping the tree recurses).

/// Zero-width assertions.
enum Assertion: UInt32, Sendable {
    case beginText, endText, beginLine, endLine, wordBoundary, notWordBoundary
}

/// AST node; children are indices into `AST.nodes`.
enum Node: Sendable {
    case empty
    case literal(UInt32)
    case set(ScalarSet)
    case assertion(Assertion)
    case concat([Int])
    case alternate([Int])
    case repetition(Int, min: Int, max: Int, greedy: Bool)  // max == -1: unbounded
}

struct AST: Sendable {
    var nodes: [Node]
    var root: Int
}

/// Limits shared by parser and compiler.
enum Limits {
    static let maxRepeat = 1000
    static let maxNesting = 1000
    static let maxInstructions = 100_000
}

struct Flags {
    var caseInsensitive = false
    var dotAll = false
    var multiLine = false
    var ungreedy = false
}

struct Parser {
    private let p: [Unicode.Scalar]
    private let syntax: RegexSyntax
    private var i = 0
    private var nodes: [Node] = []
    private var flags = Flags()
    private var groupNames: Set<String> = []

    private enum Last { case none, atom, assertion, quantified }

    private struct Frame {
        var branches: [Int] = []
        var items: [Int] = []
        var savedFlags: Flags
        var openOffset: Int
    }

    init(_ pattern: String, syntax: RegexSyntax) {
        self.p = Array(pattern.unicodeScalars)
        self.syntax = syntax
    }

    private func err(_ message: String, _ offset: Int) -> RegexError {
        RegexError(message: message, offset: offset)
    }

    private var syntaxName: String { syntax == .re2 ? "RE2 syntax" : "ECMA-262 syntax, limitation of this engine" }

    private func peek(_ k: Int = 0) -> UInt32? {
        let j = i + k
        return j < p.count ? p[j].value : nil
    }

    private mutating func add(_ n: Node) -> Int {
        nodes.append(n)
        return nodes.count - 1
    }

    private func text(_ from: Int, _ to: Int) -> String {
        let lo = max(0, from)
        let hi = min(to, p.count)
        var s = String.UnicodeScalarView()
        if lo < hi { s.append(contentsOf: p[lo..<hi]) }
        return String(s)
    }

    // MARK: - Main loop

    mutating func parse() throws(RegexError) -> AST {
        var stack: [Frame] = [Frame(savedFlags: flags, openOffset: -1)]
        var last = Last.none
        while i < p.count {
            let c = p[i].value
            let start = i
            switch c {
            case 0x28:  // (
                if stack.count > Limits.maxNesting {
                    throw err("nesting depth exceeds maximum of \(Limits.maxNesting)", start)
                }
                i += 1
                var newFlags = flags
                if peek() == 0x3F {  // ?
                    i += 1
                    switch try parseGroupPrefix(start: start, flags: &newFlags) {
                    case .flagsOnly:
                        flags = newFlags
                        last = .none
                        continue
                    case .group:
                        break
                    }
                }
                stack.append(Frame(savedFlags: flags, openOffset: start))
                flags = newFlags
                last = .none
            case 0x29:  // )
                guard stack.count > 1, var frame = stack.popLast() else {
                    throw err("unexpected ')'", start)
                }
                i += 1
                let node = finish(&frame)
                flags = frame.savedFlags
                stack[stack.count - 1].items.append(node)
                last = .atom
            case 0x7C:  // |
                i += 1
                let top = stack.count - 1
                let branch = concatNode(stack[top].items)
                stack[top].branches.append(branch)
                stack[top].items = []
                last = .none
            case 0x2A, 0x2B, 0x3F:  // * + ?
                i += 1
                let (mn, mx) = c == 0x2A ? (0, -1) : c == 0x2B ? (1, -1) : (0, 1)
                try applyRepeat(&stack[stack.count - 1], last: last, min: mn, max: mx, opStart: start)
                last = .quantified
            case 0x7B:  // {
                if let (mn, mx) = try parseCount() {
                    try applyRepeat(&stack[stack.count - 1], last: last, min: mn, max: mx, opStart: start)
                    last = .quantified
                } else {
                    i += 1
                    stack[stack.count - 1].items.append(literal(c))
                    last = .atom
                }
            case 0x5B:  // [
                let set = try parseClass()
                stack[stack.count - 1].items.append(add(.set(set)))
                last = .atom
            case 0x2E:  // .
                i += 1
                let set: ScalarSet
                if syntax == .ecma262 {
                    set = flags.dotAll ? .all : ClassTables.ecmaLineTerminators.inverted()
                } else {
                    set = flags.dotAll ? .all : ScalarSet.single(0x0A).inverted()
                }
                stack[stack.count - 1].items.append(add(.set(set)))
                last = .atom
            case 0x5E:  // ^
                i += 1
                stack[stack.count - 1].items.append(add(.assertion(flags.multiLine ? .beginLine : .beginText)))
                last = .assertion
            case 0x24:  // $
                i += 1
                stack[stack.count - 1].items.append(add(.assertion(flags.multiLine ? .endLine : .endText)))
                last = .assertion
            case 0x5C:  // backslash
                switch try parseEscape(inClass: false) {
                case .scalar(let v):
                    stack[stack.count - 1].items.append(literal(v))
                    last = .atom
                case .set(let s):
                    // Perl classes are not case-folded ((?i)\W must not match 'k' via
                    // KELVIN SIGN); \p classes were folded when parsed.
                    stack[stack.count - 1].items.append(add(.set(s)))
                    last = .atom
                case .assertion(let a):
                    stack[stack.count - 1].items.append(add(.assertion(a)))
                    last = .assertion
                case .quote:
                    // \Q...\E: literal text.
                    while i < p.count {
                        if p[i].value == 0x5C && peek(1) == 0x45 {
                            i += 2
                            break
                        }
                        if p[i].value == 0x5C && peek(1) == 0x5C {
                            i += 1
                        }
                        stack[stack.count - 1].items.append(literal(p[i].value))
                        i += 1
                        last = .atom
                    }
                }
            default:
                i += 1
                stack[stack.count - 1].items.append(literal(c))
                last = .atom
            }
        }
        if stack.count > 1, let open = stack.last {
            throw err("missing closing ')'", open.openOffset)
        }
        var top = stack[0]
        let root = finish(&top)
        return AST(nodes: nodes, root: root)
    }

    private mutating func literal(_ c: UInt32) -> Int {
        if flags.caseInsensitive {
            let orbit = CaseFolding.orbit(c)
            if orbit.count > 1 {
                var s = ScalarSet()
                for m in orbit { s.add(m) }
                s.normalize()
                return add(.set(s))
            }
        }
        return add(.literal(c))
    }

    private mutating func concatNode(_ items: [Int]) -> Int {
        if items.count == 1 { return items[0] }
        if items.isEmpty { return add(.empty) }
        return add(.concat(items))
    }

    private mutating func finish(_ frame: inout Frame) -> Int {
        let branch = concatNode(frame.items)
        if frame.branches.isEmpty { return branch }
        frame.branches.append(branch)
        return add(.alternate(frame.branches))
    }

    private mutating func applyRepeat(_ frame: inout Frame, last: Last, min: Int, max: Int, opStart: Int)
        throws(RegexError)
    {
        let opText = text(opStart, i + (peek() == 0x3F ? 1 : 0))
        switch last {
        case .none:
            throw err(
                syntax == .re2 ? "missing argument to repetition operator: \(opText)" : "nothing to repeat", opStart)
        case .quantified:
            throw err(
                syntax == .re2 ? "bad repetition operator: \(text(opStart - 1, i))" : "nothing to repeat", opStart)
        case .assertion where syntax == .ecma262:
            throw err("nothing to repeat", opStart)
        default:
            break
        }
        var greedy = !flags.ungreedy
        if peek() == 0x3F {
            i += 1
            greedy = !greedy
        }
        guard let child = frame.items.popLast() else {
            throw err("missing argument to repetition operator: \(opText)", opStart)
        }
        frame.items.append(add(.repetition(child, min: min, max: max, greedy: greedy)))
    }

    /// Parses `{n}`, `{n,}`, `{n,m}` at `i`. Returns nil (consuming nothing)
    /// when the text is not a valid repetition, in which case `{` is literal.
    private mutating func parseCount() throws(RegexError) -> (Int, Int)? {
        let start = i
        var j = i + 1
        func number(_ j: inout Int) -> Int? {
            var v = 0
            let s = j
            while j < p.count, p[j].value >= 0x30, p[j].value <= 0x39 {
                if v <= 100_000_000 { v = v * 10 + Int(p[j].value - 0x30) }
                j += 1
            }
            return j > s ? v : nil
        }
        guard let mn = number(&j) else { return nil }
        var mx = mn
        if j < p.count, p[j].value == 0x2C {
            j += 1
            if let m = number(&j) { mx = m } else { mx = -1 }
        }
        guard j < p.count, p[j].value == 0x7D else { return nil }
        j += 1
        i = j
        let opText = text(start, j)
        if mn > Limits.maxRepeat || mx > Limits.maxRepeat {
            throw err("repetition count exceeds maximum of \(Limits.maxRepeat): \(opText)", start)
        }
        if mx != -1 && mx < mn {
            throw err(
                syntax == .re2 ? "bad repetition operator: \(opText)" : "numbers out of order in \(opText) quantifier",
                start)
        }
        return (mn, mx)
    }

    // MARK: - Groups

    private enum GroupKind { case group, flagsOnly }

    /// Called with `i` just after `(?`.
    private mutating func parseGroupPrefix(start: Int, flags newFlags: inout Flags) throws(RegexError) -> GroupKind {
        guard let c = peek() else { throw err("missing closing ')'", start) }
        switch c {
        case 0x3A:  // (?:
            i += 1
            return .group
        case 0x3D, 0x21:  // (?= (?!
            throw err("lookaround assertions are not supported (\(syntaxName))", start)
        case 0x3C:  // (?<
            if peek(1) == 0x3D || peek(1) == 0x21 {
                throw err("lookaround assertions are not supported (\(syntaxName))", start)
            }
            i += 1
            try parseGroupName(start: start)
            return .group
        case 0x50 where syntax == .re2:  // (?P
            if peek(1) == 0x3C {
                i += 2
                try parseGroupName(start: start)
                return .group
            }
            if peek(1) == 0x3D {
                throw err("backreferences are not supported (\(syntaxName))", start)
            }
            throw err("invalid or unsupported Perl syntax: \(text(start, i + 2))", start)
        default:
            break
        }
        if syntax == .ecma262 {
            throw err("invalid group: \(text(start, i + 1))", start)
        }
        // RE2 flags: (?imsU-imsU) or (?imsU-imsU:...)
        var negate = false
        var sawFlag = false
        var sawNegation = false
        while let f = peek() {
            i += 1
            switch f {
            case 0x69: newFlags.caseInsensitive = !negate
            case 0x73: newFlags.dotAll = !negate
            case 0x6D: newFlags.multiLine = !negate
            case 0x55: newFlags.ungreedy = !negate
            case 0x2D:  // -
                if negate { throw err("invalid or unsupported Perl syntax: \(text(start, i))", start) }
                negate = true
                sawNegation = true
                sawFlag = false
                continue
            case 0x29, 0x3A:  // ) :
                if sawNegation && !sawFlag || (!sawFlag && !sawNegation) {
                    throw err("invalid or unsupported Perl syntax: \(text(start, i))", start)
                }
                return f == 0x29 ? .flagsOnly : .group
            default:
                throw err("invalid or unsupported Perl syntax: \(text(start, i))", start)
            }
            sawFlag = true
        }
        throw err("missing closing ')'", start)
    }

    /// Parses `name>` with `i` at the first name character.
    private mutating func parseGroupName(start: Int) throws(RegexError) {
        let nameStart = i
        while let c = peek(), c != 0x3E { i += 1 }
        guard peek() == 0x3E else { throw err("invalid named capture group: missing '>'", start) }
        let name = text(nameStart, i)
        i += 1
        // RE2: word characters. ECMA: identifier characters (letters, digits, _ and $).
        let ecma = syntax == .ecma262
        let valid =
            !name.isEmpty
            && name.unicodeScalars.allSatisfy {
                ClassTables.word.contains($0.value)
                    || (ecma
                        && ($0.value == 0x24 || $0.properties.isAlphabetic || $0.properties.numericType == .decimal))
            }
            && !(name.unicodeScalars.first.map {
                ClassTables.digit.contains($0.value) || $0.properties.numericType == .decimal
            } ?? true)
        if !valid { throw err("invalid named capture group name: '\(name)'", start) }
        if !groupNames.insert(name).inserted {
            throw err("duplicate capture group name: '\(name)'", start)
        }
    }

    // MARK: - Escapes

    private enum Escape {
        case scalar(UInt32)
        case set(ScalarSet)
        case assertion(Assertion)
        case quote
    }

    private func isHex(_ c: UInt32?) -> Bool {
        guard let c else { return false }
        return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
    }
    private func hexValue(_ c: UInt32) -> UInt32 {
        c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10
    }

    /// Parses `{hex}` (at `{`) or exactly `count` hex digits.
    private mutating func parseHex(
        start: Int, count: Int, braces: Bool, allowSurrogate: Bool = false
    ) throws(RegexError) -> UInt32 {
        var v: UInt32 = 0
        if braces && peek() == 0x7B {
            i += 1
            var digits = 0
            while isHex(peek()), let h = peek() {
                v = v &* 16 &+ hexValue(h)
                digits += 1
                i += 1
                if v > ScalarSet.maxScalar { throw err("invalid escape sequence: \(text(start, i))", start) }
            }
            guard digits > 0, peek() == 0x7D else { throw err("invalid escape sequence: \(text(start, i + 1))", start) }
            i += 1
        } else {
            for _ in 0..<count {
                guard isHex(peek()), let h = peek() else {
                    throw err("invalid escape sequence: \(text(start, i + 1))", start)
                }
                v = v * 16 + hexValue(h)
                i += 1
            }
        }
        if v >= 0xD800 && v <= 0xDFFF && !allowSurrogate {
            throw err("invalid escape sequence: surrogate code point \(text(start, i))", start)
        }
        return v
    }

    /// Parses an escape with `i` at the backslash.
    private mutating func parseEscape(inClass: Bool) throws(RegexError) -> Escape {
        let start = i
        i += 1
        guard let c = peek() else { throw err("trailing backslash at end of expression", start) }
        i += 1
        let re2 = syntax == .re2
        switch c {
        case 0x6E: return .scalar(0x0A)  // n
        case 0x74: return .scalar(0x09)  // t
        case 0x72: return .scalar(0x0D)  // r
        case 0x66: return .scalar(0x0C)  // f
        case 0x76: return .scalar(0x0B)  // v
        case 0x61 where re2: return .scalar(0x07)  // a
        case 0x64: return .set(ClassTables.digit)  // d
        case 0x44: return .set(ClassTables.digit.inverted())
        case 0x77: return .set(ClassTables.word)  // w
        case 0x57: return .set(ClassTables.word.inverted())
        case 0x73: return .set(re2 ? ClassTables.re2Space : ClassTables.ecmaSpace)  // s
        case 0x53: return .set((re2 ? ClassTables.re2Space : ClassTables.ecmaSpace).inverted())
        case 0x62:  // b
            if inClass {
                if re2 { throw err("invalid escape sequence: \\b", start) }
                return .scalar(0x08)
            }
            return .assertion(.wordBoundary)
        case 0x42 where !inClass: return .assertion(.notWordBoundary)
        case 0x41 where re2 && !inClass: return .assertion(.beginText)
        case 0x7A where re2 && !inClass: return .assertion(.endText)
        case 0x51 where re2 && !inClass: return .quote
        case 0x78:  // x
            return .scalar(try parseHex(start: start, count: 2, braces: re2))
        case 0x75 where !re2:  // u
            let v = try parseHex(start: start, count: 4, braces: true, allowSurrogate: true)
            if v >= 0xD800 && v <= 0xDBFF && peek() == 0x5C && peek(1) == 0x75 && isHex(peek(2)) {
                // Surrogate pair \uHHHH\uLLLL -> one scalar.
                let save = i
                i += 2
                let low = try parseHex(start: save, count: 4, braces: false, allowSurrogate: true)
                if low >= 0xDC00 && low <= 0xDFFF {
                    return .scalar(0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00))
                }
                i = save
            }
            if v >= 0xD800 && v <= 0xDFFF {
                throw err("invalid escape sequence: surrogate code point \(text(start, i))", start)
            }
            return .scalar(v)
        case 0x63 where !re2:  // cX
            guard let l = peek(), (l >= 0x41 && l <= 0x5A) || (l >= 0x61 && l <= 0x7A) else {
                throw err("invalid escape sequence: \(text(start, i + 1))", start)
            }
            i += 1
            return .scalar(l % 32)
        case 0x70, 0x50:  // p P
            return .set(try parseUnicodeClass(start: start, negated: c == 0x50))
        case 0x6B where !re2:  // \k<name>
            throw err("backreferences are not supported (\(syntaxName))", start)
        case 0x30...0x39:
            if c == 0x30 && !(peek().map { $0 >= 0x30 && $0 <= 0x39 } ?? false) {
                return .scalar(0)
            }
            if re2 {
                // RE2: \0, \0N, \0NN and \NN (N octal, two or more digits) are octal escapes.
                let isOct: (UInt32?) -> Bool = { $0.map { $0 >= 0x30 && $0 <= 0x37 } ?? false }
                if c <= 0x37 && (c == 0x30 || isOct(peek())) {
                    var v = c - 0x30
                    var n = 1
                    while n < 3, isOct(peek()), let d = peek() {
                        v = v * 8 + d - 0x30
                        i += 1
                        n += 1
                    }
                    return .scalar(v)
                }
            }
            if inClass && !re2 {
                throw err("invalid escape sequence: \(text(start, i))", start)
            }
            throw err("backreferences are not supported (\(syntaxName))", start)
        default:
            break
        }
        // Escaped punctuation (ASCII non-word characters) stands for itself.
        if c < 0x80 && !ClassTables.word.contains(c) {
            return .scalar(c)
        }
        throw err("invalid escape sequence: \(text(start, i))", start)
    }

    /// `\pL`, `\p{Name}`, `\p{^Name}`; `i` is just after `p`/`P`.
    private mutating func parseUnicodeClass(start: Int, negated: Bool) throws(RegexError) -> ScalarSet {
        var negated = negated
        let name: String
        if peek() == 0x7B {
            let nameStart = i + 1
            var j = nameStart
            while j < p.count, p[j].value != 0x7D { j += 1 }
            guard j < p.count else { throw err("missing closing '}' in \(text(start, j))", start) }
            i = j + 1
            var raw = text(nameStart, j)
            if syntax == .re2, raw.hasPrefix("^") {
                negated.toggle()
                raw.removeFirst()
            }
            name = raw
        } else {
            guard syntax == .re2, let c = peek() else {
                throw err("invalid escape sequence: \(text(start, i + 1))", start)
            }
            i += 1
            name = String(Character(Unicode.Scalar(c) ?? "?"))
        }
        guard var set = ClassTables.unicodeClass(name, syntax: syntax) else {
            throw err("invalid character class range: \(text(start, i))", start)
        }
        if flags.caseInsensitive { set = set.caseFolded() }
        return negated ? set.inverted() : set
    }

    // MARK: - Character classes

    private enum ClassAtom {
        case scalar(UInt32)
        case set(ScalarSet)
    }

    private mutating func parseClassAtom() throws(RegexError) -> ClassAtom {
        guard let c = peek() else { throw err("missing closing ']'", i) }
        if c == 0x5C {
            switch try parseEscape(inClass: true) {
            case .scalar(let v): return .scalar(v)
            case .set(let s): return .set(s)
            case .assertion, .quote: throw err("invalid escape sequence in character class", i - 2)
            }
        }
        i += 1
        return .scalar(c)
    }

    /// Parses `[...]` with `i` at `[`.
    private mutating func parseClass() throws(RegexError) -> ScalarSet {
        let open = i
        i += 1
        var negated = false
        if peek() == 0x5E {
            negated = true
            i += 1
        }
        var set = ScalarSet()
        var first = true
        while true {
            guard let c = peek() else { throw err("missing closing ']'", open) }
            if c == 0x5D && (!first || syntax == .ecma262) {
                i += 1
                break
            }
            first = false
            if syntax == .re2 && c == 0x5B && peek(1) == 0x3A {
                // POSIX class [:name:] or [:^name:]
                var j = i + 2
                while j + 1 < p.count, !(p[j].value == 0x3A && p[j + 1].value == 0x5D) { j += 1 }
                if j + 1 < p.count {
                    var name = text(i + 2, j)
                    var neg = false
                    if name.hasPrefix("^") {
                        neg = true
                        name.removeFirst()
                    }
                    guard let s = ClassTables.posix(name) else {
                        throw err("invalid character class range: \(text(i, j + 2))", i)
                    }
                    set.add(neg ? s.inverted() : s)
                    i = j + 2
                    continue
                }
            }
            let itemStart = i
            let atom = try parseClassAtom()
            if case .scalar(let lo) = atom, peek() == 0x2D, let after = peek(1), after != 0x5D {
                let save = i
                i += 1
                let hiAtom = try parseClassAtom()
                switch hiAtom {
                case .scalar(let hi):
                    if hi < lo {
                        throw err("invalid character class range: \(text(itemStart, i))", itemStart)
                    }
                    set.add(lo, hi)
                case .set(let s):
                    if syntax == .re2 {
                        throw err("invalid character class range: \(text(itemStart, i))", itemStart)
                    }
                    // ECMA Annex B: "a-\d" is a, '-', and \d.
                    _ = save
                    set.add(lo)
                    set.add(0x2D)
                    set.add(s)
                }
                continue
            }
            switch atom {
            case .scalar(let v): set.add(v)
            case .set(let s): set.add(s)
            }
        }
        set.normalize()
        if flags.caseInsensitive { set = set.caseFolded() }
        return negated ? set.inverted() : set
    }
}
