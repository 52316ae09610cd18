/// A JSON value.
///
/// Integers and numbers with a fraction or exponent stay distinct: `1` is `.int(1)` and
/// `1.0` is `.double(1.0)`, and the writer prints each back in its own form. Objects keep
/// their keys in document order (see ``JSONObject``).
///
/// Equality is structural and strict: `.int(1) != .double(1)`, and two objects are equal
/// only when they hold the same keys in the same order. Semantic comparisons (CEL,
/// JSON Schema) define their own rules on top of this type.
public enum JSON: Sendable, Hashable {
    case null
    case bool(Bool)
    /// A JSON number without fraction or exponent that fits in 64 bits.
    case int(Int64)
    /// Any other JSON number.
    case double(Double)
    case string(String)
    case array([JSON])
    case object(JSONObject)
}

extension JSON {
    /// The object's field `key`, or nil when this is not an object or has no such field.
    @inlinable
    public subscript(key: String) -> JSON? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// Calls `body` with the object's field `key` in place (no copy of the object), or
    /// returns nil when this is not an object or has no such field. For hot read paths.
    @inlinable
    public func withField<R>(_ key: String, _ body: (borrowing JSON) throws -> R) rethrows -> R? {
        guard case .object(let o) = self else { return nil }
        return try o.withValue(forKey: key, body)
    }

    /// A short name of the value's kind, for error messages: `null`, `bool`, `int`,
    /// `double`, `string`, `array`, `object`.
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "bool"
        case .int: "int"
        case .double: "double"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// The number as a `Double`, for `.int` and `.double`; nil otherwise.
    @inlinable
    public var numberValue: Double? {
        switch self {
        case .int(let i): Double(i)
        case .double(let d): d
        default: nil
        }
    }

    /// The string, for `.string`; nil otherwise.
    @inlinable
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The object, for `.object`; nil otherwise.
    @inlinable
    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// The elements, for `.array`; nil otherwise.
    @inlinable
    public var arrayValue: [JSON]? {
        if case .array(let a) = self { return a }
        return nil
    }
}

extension JSON: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSON)...) {
        var o = JSONObject()
        for (k, v) in elements { o[k] = v }
        self = .object(o)
    }
}

extension JSON: CustomStringConvertible {
    /// The compact JSON text of the value.
    public var description: String { JSONWriter.string(self) }
}
