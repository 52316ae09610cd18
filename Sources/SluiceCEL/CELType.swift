/// A CEL type as a runtime value, e.g. the result of `type(1)`.
///
/// Runtime types carry only their name: `type([1]) == type(['a'])`, as in CEL.
@usableFromInline package struct CELType: Sendable, Hashable, CustomStringConvertible {
    /// The type name, e.g. `int`, `list`, `google.protobuf.Timestamp`.
    @usableFromInline package let name: String

    /// Creates a type value with `name`.
    @usableFromInline package init(name: String) { self.name = name }

    /// The name.
    @usableFromInline package var description: String { name }

    /// `null_type`.
    @usableFromInline package static let nullType = CELType(name: "null_type")
    /// `bool`.
    @usableFromInline package static let bool = CELType(name: "bool")
    /// `int`.
    @usableFromInline package static let int = CELType(name: "int")
    /// `uint`.
    @usableFromInline package static let uint = CELType(name: "uint")
    /// `double`.
    @usableFromInline package static let double = CELType(name: "double")
    /// `string`.
    @usableFromInline package static let string = CELType(name: "string")
    /// `bytes`.
    @usableFromInline package static let bytes = CELType(name: "bytes")
    /// `list`.
    @usableFromInline package static let list = CELType(name: "list")
    /// `map`.
    @usableFromInline package static let map = CELType(name: "map")
    /// `google.protobuf.Timestamp`.
    @usableFromInline package static let timestamp = CELType(name: "google.protobuf.Timestamp")
    /// `google.protobuf.Duration`.
    @usableFromInline package static let duration = CELType(name: "google.protobuf.Duration")
    /// `type`, the type of types.
    @usableFromInline package static let type = CELType(name: "type")

    /// Type names usable as identifiers in expressions (`int`, `google.protobuf.Duration`...).
    static let denotable: [String: CELType] = {
        var d: [String: CELType] = [:]
        for t in [nullType, bool, int, uint, double, string, bytes, list, map, timestamp, duration, type] {
            d[t.name] = t
        }
        return d
    }()
}
