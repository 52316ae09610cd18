/// The type conversion functions `int()`, `uint()`, `double()`, `string()`, `bytes()`,
/// `bool()`, `timestamp()`, `duration()`, `type()`.
enum Conversions {
    static func toInt(_ v: CELValue) throws(CELError) -> CELValue {
        switch v {
        case .int: return v
        case .uint(let u):
            guard u <= UInt64(Int64.max) else { throw CELError("int() range error: \(u)u does not fit in int") }
            return .int(Int64(u))
        case .double(let d):
            // Both ends are exclusive, matching the reference implementations: the nearest
            // doubles to ±2^63 are rejected.
            guard d > -9.223372036854775808e18, d < 9.223372036854775807e18 else {
                throw CELError("int() range error: \(Ops.formatDouble(d)) does not fit in int")
            }
            return .int(Int64(d))
        case .string(let s):
            guard let i = Int64(s) else { throw CELError("int() cannot convert '\(s)'") }
            return .int(i)
        case .timestamp(let t): return .int(t.seconds)
        default: throw CELError.noOverload("int", v)
        }
    }

    static func toUint(_ v: CELValue) throws(CELError) -> CELValue {
        switch v {
        case .uint: return v
        case .int(let i):
            guard i >= 0 else { throw CELError("uint() range error: \(i) is negative") }
            return .uint(UInt64(i))
        case .double(let d):
            guard d > -1, d < 1.8446744073709551616e19 else {
                throw CELError("uint() range error: \(Ops.formatDouble(d)) does not fit in uint")
            }
            return .uint(UInt64(d))
        case .string(let s):
            guard let u = UInt64(s) else { throw CELError("uint() cannot convert '\(s)'") }
            return .uint(u)
        default: throw CELError.noOverload("uint", v)
        }
    }

    static func toDouble(_ v: CELValue) throws(CELError) -> CELValue {
        switch v {
        case .double: return v
        case .int(let i): return .double(Double(i))
        case .uint(let u): return .double(Double(u))
        case .string(let s):
            guard let d = Double(s) else { throw CELError("double() cannot convert '\(s)'") }
            return .double(d)
        default: throw CELError.noOverload("double", v)
        }
    }

    static func toString(_ v: CELValue) throws(CELError) -> CELValue {
        switch v {
        case .string: return v
        case .int(let i): return .string(String(i))
        case .uint(let u): return .string(String(u))
        case .double(let d): return .string(Ops.formatDouble(d))
        case .bool(let b): return .string(b ? "true" : "false")
        case .bytes(let b):
            let s = String(decoding: b, as: UTF8.self)
            guard s.utf8.elementsEqual(b) else { throw CELError("string() invalid UTF-8 in bytes") }
            return .string(s)
        case .timestamp(let t): return .string(t.description)
        case .duration(let d): return .string(d.description)
        case .type(let t): return .string(t.name)
        default: throw CELError.noOverload("string", v)
        }
    }

    static func toBytes(_ v: CELValue) throws(CELError) -> CELValue {
        switch v {
        case .bytes: return v
        case .string(let s): return .bytes(Array(s.utf8))
        default: throw CELError.noOverload("bytes", v)
        }
    }

    static func toBool(_ v: CELValue) throws(CELError) -> CELValue {
        switch v {
        case .bool: return v
        case .string(let s):
            switch s {
            case "1", "t", "true", "TRUE", "True": return .bool(true)
            case "0", "f", "false", "FALSE", "False": return .bool(false)
            default: throw CELError("bool() cannot convert '\(s)'")
            }
        default: throw CELError.noOverload("bool", v)
        }
    }

    static func toTimestamp(_ v: CELValue) throws(CELError) -> CELValue {
        switch v {
        case .timestamp: return v
        case .string(let s): return .timestamp(try CELTimestamp(parsing: s))
        case .int(let i): return .timestamp(try CELTimestamp(seconds: i))
        default: throw CELError.noOverload("timestamp", v)
        }
    }

    static func toDuration(_ v: CELValue) throws(CELError) -> CELValue {
        switch v {
        case .duration: return v
        case .string(let s): return .duration(try CELDuration(parsing: s))
        default: throw CELError.noOverload("duration", v)
        }
    }
}
