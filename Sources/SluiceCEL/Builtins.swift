import Foundation

/// How a function is implemented. Unary and binary forms avoid building an argument array.
enum FunctionImpl: Sendable {
    case unary(@Sendable (CELValue) throws(CELError) -> CELValue)
    case binary(@Sendable (CELValue, CELValue) throws(CELError) -> CELValue)
    case nary(@Sendable ([CELValue]) throws(CELError) -> CELValue)
}

/// Identifies an overload group: name, call style and argument count (not counting the
/// receiver). `arity == -1` accepts any count of at least one.
struct FunctionKey: Hashable, Sendable {
    let name: String
    let receiver: Bool
    let arity: Int
}

/// One function available to expressions.
struct FunctionDef: Sendable {
    let impl: FunctionImpl
    /// Builtins are pure and may be folded at compile time; host functions are not.
    let pure: Bool
}

enum Builtins {
    static func unary(_ f: @escaping @Sendable (CELValue) throws(CELError) -> CELValue) -> FunctionDef {
        FunctionDef(impl: .unary(f), pure: true)
    }
    static func binary(_ f: @escaping @Sendable (CELValue, CELValue) throws(CELError) -> CELValue) -> FunctionDef {
        FunctionDef(impl: .binary(f), pure: true)
    }
    static func nary(_ f: @escaping @Sendable ([CELValue]) throws(CELError) -> CELValue) -> FunctionDef {
        FunctionDef(impl: .nary(f), pure: true)
    }

    /// The standard library plus Sluice's list extensions (when `listExtensions`).
    static func table(listExtensions: Bool) -> [FunctionKey: FunctionDef] {
        var t: [FunctionKey: FunctionDef] = [:]
        func g(_ n: String, _ a: Int, _ d: FunctionDef) { t[FunctionKey(name: n, receiver: false, arity: a)] = d }
        func r(_ n: String, _ a: Int, _ d: FunctionDef) { t[FunctionKey(name: n, receiver: true, arity: a)] = d }

        g("size", 1, unary(Ops.size))
        r("size", 0, unary(Ops.size))
        g("int", 1, unary(Conversions.toInt))
        g("uint", 1, unary(Conversions.toUint))
        g("double", 1, unary(Conversions.toDouble))
        g("string", 1, unary(Conversions.toString))
        g("bytes", 1, unary(Conversions.toBytes))
        g("bool", 1, unary(Conversions.toBool))
        g("timestamp", 1, unary(Conversions.toTimestamp))
        g("duration", 1, unary(Conversions.toDuration))
        g("dyn", 1, unary { v in v })
        g("type", 1, unary { v in .type(v.celType) })

        r("contains", 1, binary(Strings.contains))
        r("startsWith", 1, binary(Strings.startsWith))
        r("endsWith", 1, binary(Strings.endsWith))
        g("matches", 2, binary(Strings.matches))
        r("matches", 1, binary(Strings.matches))
        r("lowerAscii", 0, unary(Strings.lowerAscii))
        r("upperAscii", 0, unary(Strings.upperAscii))
        r("trim", 0, unary(Strings.trim))
        r("replace", 2, nary(Strings.replace))
        r("split", 1, binary(Strings.split))
        r("join", 0, unary { v throws(CELError) in try Strings.join(v, .string("")) })
        r("join", 1, binary(Strings.join))
        r("indexOf", 1, binary(Strings.indexOf))
        r("substring", 1, nary(Strings.substring))
        r("substring", 2, nary(Strings.substring))
        r("charAt", 1, binary(Strings.charAt))

        for name in [
            "getFullYear", "getMonth", "getDayOfYear", "getDayOfMonth", "getDate", "getDayOfWeek",
            "getHours", "getMinutes", "getSeconds", "getMilliseconds",
        ] {
            let field = TimeField(rawValue: name) ?? .fullYear
            r(name, 0, unary { v throws(CELError) in try Time.accessor(field, v, zone: nil) })
            r(name, 1, binary { v, z throws(CELError) in try Time.accessor(field, v, zone: z) })
        }

        if listExtensions {
            r("sum", 0, unary(Aggregates.sum))
            r("min", 0, unary { v throws(CELError) in try Aggregates.extreme(v, max: false) })
            r("max", 0, unary { v throws(CELError) in try Aggregates.extreme(v, max: true) })
            r("avg", 0, unary(Aggregates.avg))
            g(
                "min", -1,
                nary { a throws(CELError) in try Aggregates.extreme(a.count == 1 ? a[0] : .list(a), max: false) })
            g(
                "max", -1,
                nary { a throws(CELError) in try Aggregates.extreme(a.count == 1 ? a[0] : .list(a), max: true) })
        }
        return t
    }
}

/// String functions.
enum Strings {
    static func strings(_ name: String, _ a: CELValue, _ b: CELValue) throws(CELError) -> (String, String) {
        guard case .string(let x) = a, case .string(let y) = b else { throw CELError.noOverload(name, a, b) }
        return (x, y)
    }

    static func contains(_ a: CELValue, _ b: CELValue) throws(CELError) -> CELValue {
        let (x, y) = try strings("contains", a, b)
        if y.isEmpty { return .bool(true) }
        // Code-point containment: search the UTF-8 bytes (valid UTF-8 cannot match
        // across a character boundary).
        return .bool(x.utf8.firstRange(of: y.utf8) != nil)
    }

    static func startsWith(_ a: CELValue, _ b: CELValue) throws(CELError) -> CELValue {
        let (x, y) = try strings("startsWith", a, b)
        return .bool(x.utf8.starts(with: y.utf8))
    }

    static func endsWith(_ a: CELValue, _ b: CELValue) throws(CELError) -> CELValue {
        let (x, y) = try strings("endsWith", a, b)
        return .bool(x.utf8.reversed().starts(with: y.utf8.reversed()))
    }

    static func matches(_ a: CELValue, _ b: CELValue) throws(CELError) -> CELValue {
        let (x, y) = try strings("matches", a, b)
        return .bool(try CELRegex(y).matches(x))
    }

    static func lowerAscii(_ a: CELValue) throws(CELError) -> CELValue {
        guard case .string(let s) = a else { throw CELError.noOverload("lowerAscii", a) }
        return .string(String(decoding: s.utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self))
    }

    static func upperAscii(_ a: CELValue) throws(CELError) -> CELValue {
        guard case .string(let s) = a else { throw CELError.noOverload("upperAscii", a) }
        return .string(String(decoding: s.utf8.map { $0 >= 97 && $0 <= 122 ? $0 - 32 : $0 }, as: UTF8.self))
    }

    static func trim(_ a: CELValue) throws(CELError) -> CELValue {
        guard case .string(let s) = a else { throw CELError.noOverload("trim", a) }
        let scalars = Array(s.unicodeScalars)
        var lo = 0
        var hi = scalars.count
        while lo < hi, scalars[lo].properties.isWhitespace { lo += 1 }
        while hi > lo, scalars[hi - 1].properties.isWhitespace { hi -= 1 }
        var v = String.UnicodeScalarView()
        v.append(contentsOf: scalars[lo..<hi])
        return .string(String(v))
    }

    static func replace(_ a: [CELValue]) throws(CELError) -> CELValue {
        guard a.count == 3, case .string(let s) = a[0], case .string(let old) = a[1], case .string(let new) = a[2]
        else {
            throw CELError.noOverload("replace", types: a)
        }
        if old.isEmpty { return .string(s) }
        return .string(s.replacingOccurrences(of: old, with: new))
    }

    static func split(_ a: CELValue, _ b: CELValue) throws(CELError) -> CELValue {
        let (x, sep) = try strings("split", a, b)
        if sep.isEmpty { return .list(x.unicodeScalars.map { .string(String($0)) }) }
        return .list(x.components(separatedBy: sep).map { .string($0) })
    }

    static func join(_ a: CELValue, _ b: CELValue) throws(CELError) -> CELValue {
        guard case .list(let l) = a, case .string(let sep) = b else { throw CELError.noOverload("join", a, b) }
        var parts: [String] = []
        for v in l {
            guard case .string(let s) = v else { throw CELError("join: list element is \(v.typeName), not string") }
            parts.append(s)
        }
        return .string(parts.joined(separator: sep))
    }

    static func indexOf(_ a: CELValue, _ b: CELValue) throws(CELError) -> CELValue {
        let (x, y) = try strings("indexOf", a, b)
        let hs = Array(x.unicodeScalars)
        let nd = Array(y.unicodeScalars)
        if nd.isEmpty { return .int(0) }
        if nd.count <= hs.count {
            for i in 0...(hs.count - nd.count) where hs[i..<(i + nd.count)].elementsEqual(nd) { return .int(Int64(i)) }
        }
        return .int(-1)
    }

    static func substring(_ a: [CELValue]) throws(CELError) -> CELValue {
        guard case .string(let s) = a[0], case .int(let start) = a[1] else {
            throw CELError.noOverload("substring", types: a)
        }
        let scalars = Array(s.unicodeScalars)
        var end = Int64(scalars.count)
        if a.count == 3 {
            guard case .int(let e) = a[2] else { throw CELError.noOverload("substring", types: a) }
            end = e
        }
        guard start >= 0, end <= Int64(scalars.count), start <= end else {
            throw CELError("substring index out of range: [\(start), \(end)) of \(scalars.count)")
        }
        var v = String.UnicodeScalarView()
        v.append(contentsOf: scalars[Int(start)..<Int(end)])
        return .string(String(v))
    }

    static func charAt(_ a: CELValue, _ b: CELValue) throws(CELError) -> CELValue {
        guard case .string(let s) = a, case .int(let i) = b else { throw CELError.noOverload("charAt", a, b) }
        let scalars = Array(s.unicodeScalars)
        guard i >= 0, i <= Int64(scalars.count) else { throw CELError("charAt index out of range: \(i)") }
        return .string(i == Int64(scalars.count) ? "" : String(scalars[Int(i)]))
    }
}

/// Sluice's list aggregates: `sum()`, `min()`, `max()`, `avg()`.
enum Aggregates {
    static func sum(_ v: CELValue) throws(CELError) -> CELValue {
        guard case .list(let l) = v else { throw CELError.noOverload("sum", v) }
        var acc: CELValue = .int(0)
        var first = true
        for x in l {
            switch x {
            case .int, .uint, .double, .duration: break
            default: throw CELError("sum: list element is \(x.typeName), not a number")
            }
            if first {
                acc = x
                first = false
                continue
            }
            switch (acc, x) {
            case (.int, .int), (.uint, .uint), (.double, .double), (.duration, .duration):
                acc = try Ops.add(acc, x)
            default:
                acc = .double(try number(acc) + number(x))
            }
        }
        return acc
    }

    static func number(_ v: CELValue) throws(CELError) -> Double {
        switch v {
        case .int(let i): return Double(i)
        case .uint(let u): return Double(u)
        case .double(let d): return d
        default: throw CELError("expected a number, got \(v.typeName)")
        }
    }

    static func extreme(_ v: CELValue, max: Bool) throws(CELError) -> CELValue {
        let name = max ? "max" : "min"
        guard case .list(let l) = v else {
            switch v {
            case .int, .uint, .double, .string, .timestamp, .duration: return v
            default: throw CELError.noOverload(name, v)
            }
        }
        guard var best = l.first else { throw CELError("\(name) of an empty list") }
        for x in l.dropFirst() {
            guard let o = Ops.order(x, best) else { throw CELError.noOverload(name, best, x) }
            if (max && o == .greater) || (!max && o == .less) { best = x }
        }
        if case .double(let d) = best, d.isNaN { return best }
        return best
    }

    static func avg(_ v: CELValue) throws(CELError) -> CELValue {
        guard case .list(let l) = v else { throw CELError.noOverload("avg", v) }
        guard !l.isEmpty else { throw CELError("avg of an empty list") }
        var total = 0.0
        for x in l { total += try number(x) }
        return .double(total / Double(l.count))
    }
}

enum TimeField: String {
    case fullYear = "getFullYear", month = "getMonth", dayOfYear = "getDayOfYear",
        dayOfMonth = "getDayOfMonth", date = "getDate", dayOfWeek = "getDayOfWeek",
        hours = "getHours", minutes = "getMinutes", seconds = "getSeconds", milliseconds = "getMilliseconds"
}

/// Timestamp and duration accessors.
enum Time {
    /// Offset from UTC in seconds for `zone`: an IANA name or `[+-]HH:MM`.
    static func offset(_ zone: String, at seconds: Int64) throws(CELError) -> Int64 {
        let b = Array(zone.utf8)
        var p = 0
        var sign: Int64 = 1
        if p < b.count, b[p] == 43 || b[p] == 45 {
            sign = b[p] == 45 ? -1 : 1
            p += 1
        }
        let rest = b[p...]
        if rest.count == 5, rest[p + 2] == 58,
            let h = Int64(String(decoding: rest[p..<(p + 2)], as: UTF8.self)),
            let m = Int64(String(decoding: rest[(p + 3)..<(p + 5)], as: UTF8.self))
        {
            guard h >= 0, h < 24, m >= 0, m < 60 else {
                throw CELError("invalid time zone offset '\(zone)': hours must be below 24 and minutes below 60")
            }
            return sign * (h * 3600 + m * 60)
        }
        guard let tz = TimeZone(identifier: zone) else { throw CELError("unknown time zone '\(zone)'") }
        return Int64(tz.secondsFromGMT(for: Date(timeIntervalSince1970: Double(seconds))))
    }

    static func accessor(_ field: TimeField, _ v: CELValue, zone: CELValue?) throws(CELError) -> CELValue {
        switch v {
        case .timestamp(let t):
            var secs = t.seconds
            if let zone {
                guard case .string(let z) = zone else { throw CELError.noOverload(field.rawValue, v, zone) }
                secs += try offset(z, at: t.seconds)
            }
            let days = floorDiv(secs, 86_400)
            let sod = secs - days * 86_400
            let (y, m, d) = civil(fromDays: days)
            switch field {
            case .fullYear: return .int(y)
            case .month: return .int(m - 1)
            case .dayOfYear: return .int(days - CELTypesDays.startOfYear(y))
            case .dayOfMonth: return .int(d - 1)
            case .date: return .int(d)
            case .dayOfWeek: return .int((days % 7 + 11) % 7)  // 1970-01-01 was a Thursday (4)
            case .hours: return .int(sod / 3600)
            case .minutes: return .int(sod / 60 % 60)
            case .seconds: return .int(sod % 60)
            case .milliseconds: return .int(Int64(t.nanos) / 1_000_000)
            }
        case .duration(let d) where zone == nil:
            switch field {
            case .hours: return .int(d.seconds / 3600)
            case .minutes: return .int(d.seconds / 60)
            case .seconds: return .int(d.seconds)
            case .milliseconds: return .int(Int64(d.nanos) / 1_000_000)
            default: throw CELError.noOverload(field.rawValue, v)
            }
        default:
            if let zone { throw CELError.noOverload(field.rawValue, v, zone) }
            throw CELError.noOverload(field.rawValue, v)
        }
    }
}

enum CELTypesDays {
    static func startOfYear(_ y: Int64) -> Int64 { days(fromCivil: y, 1, 1) }
}
