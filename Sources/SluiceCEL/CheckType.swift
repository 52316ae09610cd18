/// Static types used by the checker. `dyn` means "not known until evaluation".
indirect enum CheckType: Equatable, Sendable, CustomStringConvertible {
    case dyn, null, bool, int, uint, double, string, bytes, timestamp, duration, type
    case list(CheckType)
    case map(CheckType, CheckType)

    var description: String {
        switch self {
        case .dyn: return "dyn"
        case .null: return "null_type"
        case .bool: return "bool"
        case .int: return "int"
        case .uint: return "uint"
        case .double: return "double"
        case .string: return "string"
        case .bytes: return "bytes"
        case .timestamp: return "google.protobuf.Timestamp"
        case .duration: return "google.protobuf.Duration"
        case .type: return "type"
        case .list(let e): return "list(\(e))"
        case .map(let k, let v): return "map(\(k), \(v))"
        }
    }

    var isDyn: Bool { self == .dyn }
    var isNumeric: Bool { self == .int || self == .uint || self == .double }

    /// The static type of a constant.
    init(of value: CELValue) {
        switch value {
        case .null: self = .null
        case .bool: self = .bool
        case .int: self = .int
        case .uint: self = .uint
        case .double: self = .double
        case .string: self = .string
        case .bytes: self = .bytes
        case .list: self = .list(.dyn)
        case .map: self = .map(.dyn, .dyn)
        case .timestamp: self = .timestamp
        case .duration: self = .duration
        case .type: self = .type
        }
    }

    /// Parses a declaration such as `int`, `list(string)`, `map(string, list(int))`.
    static func parse(_ text: String) -> CheckType? {
        var s = Substring(text.filter { $0 != " " })
        let t = parseOne(&s)
        return s.isEmpty ? t : nil
    }

    private static func parseOne(_ s: inout Substring) -> CheckType? {
        var name = ""
        while let c = s.first, c != "(", c != ")", c != "," {
            name.append(c)
            s.removeFirst()
        }
        var params: [CheckType] = []
        if s.first == "(" {
            s.removeFirst()
            while true {
                guard let p = parseOne(&s) else { return nil }
                params.append(p)
                if s.first == "," {
                    s.removeFirst()
                    continue
                }
                guard s.first == ")" else { return nil }
                s.removeFirst()
                break
            }
        }
        switch (name, params.count) {
        case ("dyn", 0), ("any", 0): return .dyn
        case ("null_type", 0), ("null", 0): return .null
        case ("bool", 0): return .bool
        case ("int", 0): return .int
        case ("uint", 0): return .uint
        case ("double", 0): return .double
        case ("string", 0): return .string
        case ("bytes", 0): return .bytes
        case ("type", _): return .type
        case ("google.protobuf.Timestamp", 0), ("timestamp", 0): return .timestamp
        case ("google.protobuf.Duration", 0), ("duration", 0): return .duration
        case ("list", 0): return .list(.dyn)
        case ("list", 1): return .list(params[0])
        case ("map", 0): return .map(.dyn, .dyn)
        case ("map", 2): return .map(params[0], params[1])
        default: return nil
        }
    }

    /// The common type of two branches or elements: equal types stay, others become dyn.
    func join(_ other: CheckType) -> CheckType {
        if self == other { return self }
        if self == .null || other == .dyn { return other == .null ? self : .dyn }
        return .dyn
    }
}
