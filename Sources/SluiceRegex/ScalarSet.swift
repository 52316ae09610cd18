// Sets of Unicode scalar values as sorted, non-overlapping ranges, plus the
// Unicode tables (general categories, a few scripts, simple case folding)
// that character classes are built from.

/// An inclusive range of scalar values.
struct ScalarRange: Sendable, Hashable {
    var lo: UInt32
    var hi: UInt32
}

/// A set of scalar values stored as ranges. Call `normalize()` after adding
/// ranges before relying on ordering (all producing helpers do this).
struct ScalarSet: Sendable, Hashable {
    static let maxScalar: UInt32 = 0x10FFFF

    var ranges: [ScalarRange] = []

    init() {}
    init(_ ranges: [(UInt32, UInt32)]) {
        self.ranges = ranges.map { ScalarRange(lo: $0.0, hi: $0.1) }
        normalize()
    }
    static func single(_ c: UInt32) -> ScalarSet { ScalarSet([(c, c)]) }
    static var all: ScalarSet { ScalarSet([(0, maxScalar)]) }

    var isEmpty: Bool { ranges.isEmpty }

    mutating func add(_ lo: UInt32, _ hi: UInt32) {
        ranges.append(ScalarRange(lo: lo, hi: hi))
    }
    mutating func add(_ c: UInt32) { add(c, c) }
    mutating func add(_ other: ScalarSet) { ranges.append(contentsOf: other.ranges) }

    /// Sorts and merges overlapping or adjacent ranges.
    mutating func normalize() {
        if ranges.count < 2 { return }
        ranges.sort { $0.lo < $1.lo }
        var out: [ScalarRange] = []
        out.reserveCapacity(ranges.count)
        for r in ranges {
            if let last = out.last, r.lo <= last.hi &+ 1 {
                if r.hi > last.hi { out[out.count - 1].hi = r.hi }
            } else {
                out.append(r)
            }
        }
        ranges = out
    }

    /// Complement over [0, 0x10FFFF]. Expects a normalized set.
    func inverted() -> ScalarSet {
        var out = ScalarSet()
        var next: UInt32 = 0
        for r in ranges {
            if r.lo > next { out.add(next, r.lo - 1) }
            next = r.hi &+ 1
        }
        if next <= ScalarSet.maxScalar {
            out.add(next, ScalarSet.maxScalar)
        }
        return out
    }

    func contains(_ c: UInt32) -> Bool {
        var lo = 0
        var hi = ranges.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            let r = ranges[mid]
            if c < r.lo { hi = mid } else if c > r.hi { lo = mid + 1 } else { return true }
        }
        return false
    }

    /// Adds every simple-case-folding equivalent of every member.
    func caseFolded() -> ScalarSet {
        let keys = CaseFolding.keys
        var out = self
        for r in ranges {
            // First key >= r.lo.
            var lo = 0
            var hi = keys.count
            while lo < hi {
                let mid = (lo + hi) >> 1
                if keys[mid] < r.lo { lo = mid + 1 } else { hi = mid }
            }
            var k = lo
            while k < keys.count && keys[k] <= r.hi {
                if let orbit = CaseFolding.orbits[keys[k]] {
                    for m in orbit { out.add(m) }
                }
                k += 1
            }
        }
        out.normalize()
        return out
    }
}

/// Simple case folding orbits, derived once from the standard library's
/// single-scalar case mappings (e.g. {k, K, U+212A KELVIN SIGN}).
enum CaseFolding {
    /// Scalar -> every scalar in its case orbit (including itself), only for
    /// scalars whose orbit has more than one member.
    static let orbits: [UInt32: [UInt32]] = build()
    /// Sorted keys of `orbits`.
    static let keys: [UInt32] = orbits.keys.sorted()

    private static func build() -> [UInt32: [UInt32]] {
        var parent: [UInt32: UInt32] = [:]
        func find(_ x: UInt32) -> UInt32 {
            var x = x
            while let p = parent[x], p != x { x = p }
            return x
        }
        func union(_ a: UInt32, _ b: UInt32) {
            if parent[a] == nil { parent[a] = a }
            if parent[b] == nil { parent[b] = b }
            let ra = find(a)
            let rb = find(b)
            if ra != rb { parent[max(ra, rb)] = min(ra, rb) }
        }
        func single(_ s: String) -> UInt32? {
            let u = s.unicodeScalars
            guard u.count == 1, let f = u.first else { return nil }
            return f.value
        }
        var v: UInt32 = 0
        while v < 0x1F000 {
            defer { v += 1 }
            guard let s = Unicode.Scalar(v) else { continue }
            let p = s.properties
            guard p.changesWhenCaseMapped else { continue }
            if let l = single(p.lowercaseMapping), l != v { union(v, l) }
            if let u = single(p.uppercaseMapping), u != v { union(v, u) }
            if let t = single(p.titlecaseMapping), t != v { union(v, t) }
        }
        var groups: [UInt32: [UInt32]] = [:]
        for k in parent.keys { groups[find(k), default: []].append(k) }
        var result: [UInt32: [UInt32]] = [:]
        for (_, members) in groups where members.count > 1 {
            let sorted = members.sorted()
            for m in sorted { result[m] = sorted }
        }
        return result
    }

    /// The orbit of `c` (at least `[c]`).
    static func orbit(_ c: UInt32) -> [UInt32] { orbits[c] ?? [c] }
}

/// Named classes: Perl, POSIX, Unicode general categories and scripts.
enum ClassTables {
    static let digit = ScalarSet([(0x30, 0x39)])
    static let word = ScalarSet([(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)])
    /// RE2 `\s`: [\t\n\f\r ].
    static let re2Space = ScalarSet([(0x09, 0x0A), (0x0C, 0x0D), (0x20, 0x20)])
    /// ECMA-262 WhiteSpace + LineTerminator.
    static let ecmaSpace = ScalarSet([
        (0x09, 0x0D), (0x20, 0x20), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A),
        (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000), (0xFEFF, 0xFEFF),
    ])
    /// ECMA-262 line terminators (excluded by `.`).
    static let ecmaLineTerminators = ScalarSet([(0x0A, 0x0A), (0x0D, 0x0D), (0x2028, 0x2029)])

    static func posix(_ name: String) -> ScalarSet? {
        switch name {
        case "alnum": return ScalarSet([(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)])
        case "alpha": return ScalarSet([(0x41, 0x5A), (0x61, 0x7A)])
        case "ascii": return ScalarSet([(0x00, 0x7F)])
        case "blank": return ScalarSet([(0x09, 0x09), (0x20, 0x20)])
        case "cntrl": return ScalarSet([(0x00, 0x1F), (0x7F, 0x7F)])
        case "digit": return digit
        case "graph": return ScalarSet([(0x21, 0x7E)])
        case "lower": return ScalarSet([(0x61, 0x7A)])
        case "print": return ScalarSet([(0x20, 0x7E)])
        case "punct": return ScalarSet([(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)])
        case "space": return ScalarSet([(0x09, 0x0D), (0x20, 0x20)])
        case "upper": return ScalarSet([(0x41, 0x5A)])
        case "word": return word
        case "xdigit": return ScalarSet([(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)])
        default: return nil
        }
    }

    /// Two-letter general category sets, computed in one pass over all
    /// scalars the first time any Unicode class is used.
    static let generalCategories: [String: ScalarSet] = buildCategories()

    private static func code(_ c: Unicode.GeneralCategory) -> String {
        switch c {
        case .uppercaseLetter: return "Lu"
        case .lowercaseLetter: return "Ll"
        case .titlecaseLetter: return "Lt"
        case .modifierLetter: return "Lm"
        case .otherLetter: return "Lo"
        case .nonspacingMark: return "Mn"
        case .spacingMark: return "Mc"
        case .enclosingMark: return "Me"
        case .decimalNumber: return "Nd"
        case .letterNumber: return "Nl"
        case .otherNumber: return "No"
        case .connectorPunctuation: return "Pc"
        case .dashPunctuation: return "Pd"
        case .openPunctuation: return "Ps"
        case .closePunctuation: return "Pe"
        case .initialPunctuation: return "Pi"
        case .finalPunctuation: return "Pf"
        case .otherPunctuation: return "Po"
        case .mathSymbol: return "Sm"
        case .currencySymbol: return "Sc"
        case .modifierSymbol: return "Sk"
        case .otherSymbol: return "So"
        case .spaceSeparator: return "Zs"
        case .lineSeparator: return "Zl"
        case .paragraphSeparator: return "Zp"
        case .control: return "Cc"
        case .format: return "Cf"
        case .surrogate: return "Cs"
        case .privateUse: return "Co"
        case .unassigned: return "Cn"
        @unknown default: return "Cn"
        }
    }

    private static func buildCategories() -> [String: ScalarSet] {
        var sets: [String: ScalarSet] = [:]
        var runCode = ""
        var runStart: UInt32 = 0
        var v: UInt32 = 0
        func flush(_ end: UInt32) {
            if !runCode.isEmpty { sets[runCode, default: ScalarSet()].add(runStart, end) }
        }
        while v <= ScalarSet.maxScalar {
            if v == 0xD800 {
                flush(v - 1)
                sets["Cs", default: ScalarSet()].add(0xD800, 0xDFFF)
                runCode = ""
                v = 0xE000
                continue
            }
            // Large unassigned / private-use stretches: skip quickly.
            let c: String
            if let s = Unicode.Scalar(v) { c = code(s.properties.generalCategory) } else { c = "Cn" }
            if c != runCode {
                flush(v &- 1)
                runCode = c
                runStart = v
            }
            v += 1
        }
        flush(ScalarSet.maxScalar)
        var result: [String: ScalarSet] = [:]
        for (k, var s) in sets {
            s.normalize()
            result[k] = s
            let major = String(k.prefix(1))
            if k == "Cn" { continue }  // like RE2, \pC excludes unassigned
            result[major, default: ScalarSet()].add(s)
        }
        for k in ["L", "M", "N", "P", "S", "Z", "C"] { result[k]?.normalize() }
        return result
    }

    static let longCategoryNames: [String: String] = [
        "letter": "L", "uppercase_letter": "Lu", "lowercase_letter": "Ll", "titlecase_letter": "Lt",
        "cased_letter": "LC", "modifier_letter": "Lm", "other_letter": "Lo", "mark": "M",
        "nonspacing_mark": "Mn", "spacing_mark": "Mc", "enclosing_mark": "Me", "number": "N",
        "decimal_number": "Nd", "digit": "Nd", "letter_number": "Nl", "other_number": "No",
        "punctuation": "P", "punct": "P", "connector_punctuation": "Pc", "dash_punctuation": "Pd",
        "open_punctuation": "Ps", "close_punctuation": "Pe", "initial_punctuation": "Pi",
        "final_punctuation": "Pf", "other_punctuation": "Po", "symbol": "S", "math_symbol": "Sm",
        "currency_symbol": "Sc", "modifier_symbol": "Sk", "other_symbol": "So", "separator": "Z",
        "space_separator": "Zs", "line_separator": "Zl", "paragraph_separator": "Zp", "other": "C",
        "control": "Cc", "cntrl": "Cc", "format": "Cf", "surrogate": "Cs", "private_use": "Co",
        "unassigned": "Cn",
    ]

    static func category(_ name: String) -> ScalarSet? {
        if name == "LC" || name == "L&" {
            guard let lu = generalCategories["Lu"], let ll = generalCategories["Ll"],
                let lt = generalCategories["Lt"]
            else { return nil }
            var s = lu
            s.add(ll)
            s.add(lt)
            s.normalize()
            return s
        }
        return generalCategories[name]
    }

    /// Main ranges of a few scripts (Unicode Scripts.txt, abridged; the
    /// standard library exposes no script property).
    static let scripts: [String: ScalarSet] = [
        "latin": ScalarSet([
            (0x41, 0x5A), (0x61, 0x7A), (0xAA, 0xAA), (0xBA, 0xBA), (0xC0, 0xD6), (0xD8, 0xF6),
            (0xF8, 0x2B8), (0x2E0, 0x2E4), (0x1D00, 0x1D25), (0x1D2C, 0x1D5C), (0x1D62, 0x1D65),
            (0x1D6B, 0x1D77), (0x1D79, 0x1DBE), (0x1E00, 0x1EFF), (0x2071, 0x2071), (0x207F, 0x207F),
            (0x2090, 0x209C), (0x212A, 0x212B), (0x2132, 0x2132), (0x214E, 0x214E), (0x2160, 0x2188),
            (0x2C60, 0x2C7F), (0xA722, 0xA787), (0xA78B, 0xA7CA), (0xA7F2, 0xA7FF), (0xAB30, 0xAB5A),
            (0xAB5C, 0xAB64), (0xFB00, 0xFB06), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A),
        ]),
        "greek": ScalarSet([
            (0x370, 0x373), (0x375, 0x377), (0x37A, 0x37D), (0x37F, 0x37F), (0x384, 0x384),
            (0x386, 0x386), (0x388, 0x38A), (0x38C, 0x38C), (0x38E, 0x3A1), (0x3A3, 0x3E1),
            (0x3F0, 0x3FF), (0x1D26, 0x1D2A), (0x1D5D, 0x1D61), (0x1D66, 0x1D6A), (0x1DBF, 0x1DBF),
            (0x1F00, 0x1F15), (0x1F18, 0x1F1D), (0x1F20, 0x1F45), (0x1F48, 0x1F4D), (0x1F50, 0x1F57),
            (0x1F59, 0x1F59), (0x1F5B, 0x1F5B), (0x1F5D, 0x1F5D), (0x1F5F, 0x1F7D), (0x1F80, 0x1FB4),
            (0x1FB6, 0x1FC4), (0x1FC6, 0x1FD3), (0x1FD6, 0x1FDB), (0x1FDD, 0x1FEF), (0x1FF2, 0x1FF4),
            (0x1FF6, 0x1FFE), (0x2126, 0x2126), (0xAB65, 0xAB65), (0x10140, 0x1018E), (0x101A0, 0x101A0),
            (0x1D200, 0x1D245),
        ]),
        "cyrillic": ScalarSet([
            (0x400, 0x484), (0x487, 0x52F), (0x1C80, 0x1C88), (0x1D2B, 0x1D2B), (0x1D78, 0x1D78),
            (0x2DE0, 0x2DFF), (0xA640, 0xA69F), (0xFE2E, 0xFE2F),
        ]),
        "han": ScalarSet([
            (0x2E80, 0x2E99), (0x2E9B, 0x2EF3), (0x2F00, 0x2FD5), (0x3005, 0x3005), (0x3007, 0x3007),
            (0x3021, 0x3029), (0x3038, 0x303B), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFA6D),
            (0xFA70, 0xFAD9), (0x20000, 0x2A6DF), (0x2A700, 0x2EBE0), (0x2F800, 0x2FA1D),
            (0x30000, 0x3134A),
        ]),
        "arabic": ScalarSet([
            (0x600, 0x604), (0x606, 0x60B), (0x60D, 0x61A), (0x61C, 0x61E), (0x620, 0x63F),
            (0x641, 0x64A), (0x656, 0x66F), (0x671, 0x6DC), (0x6DE, 0x6FF), (0x750, 0x77F),
            (0x8A0, 0x8FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFC),
        ]),
        "hebrew": ScalarSet([(0x591, 0x5C7), (0x5D0, 0x5EA), (0x5EF, 0x5F4), (0xFB1D, 0xFB4F)]),
        "armenian": ScalarSet([(0x531, 0x556), (0x559, 0x58A), (0x58D, 0x58F), (0xFB13, 0xFB17)]),
        "georgian": ScalarSet([
            (0x10A0, 0x10C5), (0x10C7, 0x10C7), (0x10CD, 0x10CD), (0x10D0, 0x10FA), (0x10FC, 0x10FF),
            (0x1C90, 0x1CBA), (0x1CBD, 0x1CBF), (0x2D00, 0x2D25),
        ]),
        "devanagari": ScalarSet([(0x900, 0x950), (0x955, 0x963), (0x966, 0x97F), (0xA8E0, 0xA8FF)]),
        "thai": ScalarSet([(0xE01, 0xE3A), (0xE40, 0xE5B)]),
        "hiragana": ScalarSet([(0x3041, 0x3096), (0x309D, 0x309F), (0x1B001, 0x1B11F), (0x1F200, 0x1F200)]),
        "katakana": ScalarSet([
            (0x30A1, 0x30FA), (0x30FD, 0x30FF), (0x31F0, 0x31FF), (0x32D0, 0x32FE), (0x3300, 0x3357),
            (0xFF66, 0xFF6F), (0xFF71, 0xFF9D), (0x1B000, 0x1B000),
        ]),
        "hangul": ScalarSet([
            (0x1100, 0x11FF), (0x302E, 0x302F), (0x3131, 0x318E), (0x3200, 0x321E), (0x3260, 0x327E),
            (0xA960, 0xA97C), (0xAC00, 0xD7A3), (0xD7B0, 0xD7C6), (0xD7CB, 0xD7FB), (0xFFA0, 0xFFBE),
            (0xFFC2, 0xFFC7), (0xFFCA, 0xFFCF), (0xFFD2, 0xFFD7), (0xFFDA, 0xFFDC),
        ]),
    ]

    /// Resolves a `\p{...}` name (without negation) for the given syntax.
    static func unicodeClass(_ rawName: String, syntax: RegexSyntax) -> ScalarSet? {
        var name = rawName
        var kind: String? = nil  // "gc" or "sc"
        if let eq = name.firstIndex(of: "=") {
            let key = name[..<eq].lowercased()
            name = String(name[name.index(after: eq)...])
            switch key {
            case "general_category", "gc": kind = "gc"
            case "script", "sc", "script_extensions", "scx": kind = "sc"
            default: return nil
            }
        }
        if kind != "sc" {
            if name == "Any" { return .all }
            if let s = category(name) { return s }
            if syntax == .ecma262 || kind == "gc",
                let short = longCategoryNames[name.lowercased()], let s = category(short)
            {
                return s
            }
        }
        if kind != "gc", let s = scripts[name.lowercased()] { return s }
        return nil
    }
}
