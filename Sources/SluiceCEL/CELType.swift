/// A CEL type as a runtime value, e.g. the result of `type(1)`.
///
/// Runtime types carry only their name: `type([1]) == type(['a'])`, as in CEL.
public struct CELType: Sendable, Hashable, CustomStringConvertible {
    /// The type name, e.g. `int`, `list`, `google.protobuf.Timestamp`.
    public let name: String

    /// Creates a type value with `name`.
    public init(name: String) { self.name = name }

    /// The name.
    public var description: String { name }

    /// `null_type`.
    public static let nullType = CELType(name: "null_type")
    /// `bool`.
    public static let bool = CELType(name: "bool")
    /// `int`.
    public static let int = CELType(name: "int")
    /// `uint`.
    public static let uint = CELType(name: "uint")
    /// `double`.
    public static let double = CELType(name: "double")
    /// `string`.
    public static let string = CELType(name: "string")
    /// `bytes`.
    public static let bytes = CELType(name: "bytes")
    /// `list`.
    public static let list = CELType(name: "list")
    /// `map`.
    public static let map = CELType(name: "map")
    /// `google.protobuf.Timestamp`.
    public static let timestamp = CELType(name: "google.protobuf.Timestamp")
    /// `google.protobuf.Duration`.
    public static let duration = CELType(name: "google.protobuf.Duration")
    /// `type`, the type of types.
    public static let type = CELType(name: "type")

    /// Type names usable as identifiers in expressions (`int`, `google.protobuf.Duration`...).
    static let denotable: [String: CELType] = {
        var d: [String: CELType] = [:]
        for t in [nullType, bool, int, uint, double, string, bytes, list, map, timestamp, duration, type] {
            d[t.name] = t
        }
        return d
    }()
}
