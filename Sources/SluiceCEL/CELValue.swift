import SluiceJSON

/// A runtime value of the Common Expression Language.
///
/// Scalars are stored inline so that producing an `int`, `double` or `bool` result never
/// allocates. `Equatable` follows CEL's `==`: numbers compare across `int`, `uint` and
/// `double` by mathematical value, NaN is unequal to itself, and values of different
/// kinds are simply unequal.
@usableFromInline package enum CELValue: Sendable {
    /// `null`, of type `null_type`.
    case null
    /// A boolean.
    case bool(Bool)
    /// A signed 64-bit integer.
    case int(Int64)
    /// An unsigned 64-bit integer.
    case uint(UInt64)
    /// An IEEE-754 double.
    case double(Double)
    /// A Unicode string.
    case string(String)
    /// A byte sequence.
    case bytes([UInt8])
    /// A list of values.
    case list([CELValue])
    /// A map with insertion-ordered entries.
    case map(CELMap)
    /// A point in time (`google.protobuf.Timestamp`).
    case timestamp(CELTimestamp)
    /// A signed span of time (`google.protobuf.Duration`).
    case duration(CELDuration)
    /// A type value such as `int` or `google.protobuf.Timestamp`.
    case type(CELType)

    /// The CEL type of this value.
    @usableFromInline package var celType: CELType {
        switch self {
        case .null: return .nullType
        case .bool: return .bool
        case .int: return .int
        case .uint: return .uint
        case .double: return .double
        case .string: return .string
        case .bytes: return .bytes
        case .list: return .list
        case .map: return .map
        case .timestamp: return .timestamp
        case .duration: return .duration
        case .type: return .type
        }
    }

    /// The CEL type name of this value, as used in error messages.
    @usableFromInline package var typeName: String { celType.name }
}

extension CELValue: Equatable {
    /// CEL equality (`==`): heterogeneous numeric equality, NaN unequal, deep for
    /// lists and maps, `false` (never an error) across unrelated kinds.
    @usableFromInline package static func == (lhs: CELValue, rhs: CELValue) -> Bool {
        Ops.equals(lhs, rhs)
    }
}

extension CELValue: CustomStringConvertible {
    /// A CEL-like rendering for diagnostics, e.g. `[1, "a", 2u]`.
    @usableFromInline package var description: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .uint(let u): return "\(u)u"
        case .double(let d): return Ops.formatDouble(d)
        case .string(let s): return Ops.quote(s)
        case .bytes(let b):
            return "b\""
                + b.map {
                    $0 >= 0x20 && $0 < 0x7f && $0 != 0x22 && $0 != 0x5c ? String(UnicodeScalar($0)) : "\\x" + hex2($0)
                }.joined() + "\""
        case .list(let l): return "[" + l.map(\.description).joined(separator: ", ") + "]"
        case .map(let m): return "{" + m.entries.map { "\($0.0): \($0.1)" }.joined(separator: ", ") + "}"
        case .timestamp(let t): return "timestamp(\"\(t)\")"
        case .duration(let d): return "duration(\"\(d)\")"
        case .type(let t): return t.name
        }
    }
}

private func hex2(_ b: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
}

extension CELValue {
    /// Converts JSON to CEL: integers become `int`, other numbers `double`, objects maps
    /// with string keys (order kept) and arrays lists.
    @inlinable
    package init(json: __shared JSON) {
        switch json {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array, .object: self = CELValue.container(json)
        }
    }

    /// ``init(json:)`` for arrays and objects (kept out of line).
    @usableFromInline
    static func container(_ json: JSON) -> CELValue {
        switch json {
        case .array(let a): return .list(a.map { CELValue(json: $0) })
        case .object(let o):
            var m = CELMap(minimumCapacity: o.count)
            for (k, v) in o { m.insertOrReplace(.string(k), CELValue(json: v)) }
            return .map(m)
        default: return CELValue(json: json)
        }
    }

    /// Converts this value to JSON for output.
    ///
    /// `uint` becomes an integer when it fits in `Int64`, otherwise a double; bytes
    /// become standard base64; timestamps RFC 3339; durations protobuf JSON (`"1.5s"`);
    /// types their name. Map keys are rendered as strings; a map whose keys render alike
    /// (`1` and `"1"`, `true` and `"true"`) throws rather than drop one. NaN and infinities
    /// cannot be represented in JSON and throw.
    @usableFromInline package func toJSON() throws(CELError) -> JSON {
        switch self {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .uint(let u): return u <= UInt64(Int64.max) ? .int(Int64(u)) : .double(Double(u))
        case .double(let d):
            guard d.isFinite else { throw CELError("cannot convert \(Ops.formatDouble(d)) to JSON") }
            return .double(d)
        case .string(let s): return .string(s)
        case .bytes(let b): return .string(Base64.encode(b))
        case .list(let l):
            var out: [JSON] = []
            out.reserveCapacity(l.count)
            for v in l { out.append(try v.toJSON()) }
            return .array(out)
        case .map(let m):
            var o = JSONObject(minimumCapacity: m.count)
            // String keys are distinct already (as the map compares them); only a
            // rendered int, uint or bool key can meet another key, and then the event
            // would silently lose a field: that is an error.
            var rendered: Set<String>? = nil
            for (k, v) in m.entries {
                let key: String
                switch k {
                case .string(let s):
                    if rendered != nil, rendered?.insert(s).inserted != true {
                        throw CELError("map keys collide in JSON: key \(k) and another key both become \"\(s)\"")
                    }
                    o.appendUnchecked(key: s, value: try v.toJSON())
                    continue
                case .int(let i): key = String(i)
                case .uint(let u): key = String(u)
                case .bool(let b): key = b ? "true" : "false"
                default: key = k.description
                }
                if rendered == nil { rendered = Set(o.keys) }
                guard rendered?.insert(key).inserted == true else {
                    throw CELError("map keys collide in JSON: key \(k) and another key both become \"\(key)\"")
                }
                o.appendUnchecked(key: key, value: try v.toJSON())
            }
            return .object(o)
        case .timestamp(let t): return .string(t.description)
        case .duration(let d): return .string(d.description)
        case .type(let t): return .string(t.name)
        }
    }
}

/// Standard base64 (RFC 4648) with padding, used for bytes in JSON output.
enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 2 < bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [
                alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)],
                alphabet[Int(n & 63)],
            ]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let n = UInt32(bytes[i]) << 16
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], 61, 61]
        } else if rest == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], 61]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
