import SluiceJSON

/// The compiled schema: a flat table of nodes that refer to each other by index, so that
/// recursive `$ref`s need no reference cycles and the whole thing is a Sendable value.
struct Program: Sendable {
    var nodes: [Node]
    var root: Int
}

/// One compiled (sub)schema.
struct Node: Sendable {
    enum Kind: Sendable {
        /// A boolean schema, or a placeholder while compiling.
        case always(Bool)
        /// An object schema: its checks, cheapest and most selective first.
        case checks([Check])
    }

    var kind: Kind
    /// JSON pointer to this schema inside the root schema.
    var path: String
}

/// JSON Schema's primitive types as a bit set.
struct TypeSet: OptionSet, Sendable {
    let rawValue: UInt8
    static let null = TypeSet(rawValue: 1)
    static let boolean = TypeSet(rawValue: 2)
    static let object = TypeSet(rawValue: 4)
    static let array = TypeSet(rawValue: 8)
    static let number = TypeSet(rawValue: 16)
    static let string = TypeSet(rawValue: 32)
    static let integer = TypeSet(rawValue: 64)

    static let byName: [(String, TypeSet)] = [
        ("null", .null), ("boolean", .boolean), ("object", .object), ("array", .array),
        ("number", .number), ("string", .string), ("integer", .integer),
    ]

    /// Whether a value has one of these types.
    @inline(__always)
    func admits(_ v: JSON) -> Bool {
        switch v {
        case .null: return contains(.null)
        case .bool: return contains(.boolean)
        case .string: return contains(.string)
        case .array: return contains(.array)
        case .object: return contains(.object)
        case .int: return !isDisjoint(with: [.number, .integer])
        case .double:
            if contains(.number) { return true }
            return contains(.integer) && Semantics.isInteger(v)
        }
    }
}

/// A keyword, or a group of keywords that work together, ready to run.
enum Check: Sendable {
    case type(TypeSet, names: [String])
    case const(JSON)
    case enumeration([JSON])
    case minimum(JSON)
    case maximum(JSON)
    case exclusiveMinimum(JSON)
    case exclusiveMaximum(JSON)
    case multipleOf(JSON, DecimalNumber?)
    case minLength(Int)
    case maxLength(Int)
    case pattern(Pattern)
    case minItems(Int)
    case maxItems(Int)
    case uniqueItems
    case minProperties(Int)
    case maxProperties(Int)
    case required([String])
    case dependentRequired([(String, [String])])
    /// `properties`, `patternProperties` and `additionalProperties` of one schema.
    case properties(ObjectApplicator)
    case propertyNames(Int)
    case dependentSchemas([(String, Int)])
    /// `prefixItems` and `items` of one schema.
    case items(prefix: [Int], rest: Int?)
    case contains(Int, min: Int, max: Int?)
    case allOf([Int])
    case anyOf([Int])
    case oneOf([Int])
    case not(Int)
    case conditional(if: Int, then: Int?, else: Int?)
    case ref(Int, target: String)
    /// Applies to the properties no adjacent keyword evaluated; always runs last.
    case unevaluatedProperties(Int)
    /// Applies to the items no adjacent keyword evaluated; always runs last.
    case unevaluatedItems(Int)
}

/// The object applicators of one schema object.
struct ObjectApplicator: Sendable {
    var properties: [(name: String, node: Int)] = []
    var lookup: [String: Int] = [:]
    var patterns: [(pattern: Pattern, node: Int)] = []
    var additional: Int?

    /// When only `properties` is present the instance need not be scanned key by key.
    var onlyNamed: Bool { patterns.isEmpty && additional == nil }
}
