/// A CEL map: keys are `int`, `uint`, `bool` or `string`, entries keep insertion order.
///
/// Numeric keys compare by value across `int` and `uint` (and a lookup with an integral
/// `double` finds them), as CEL requires. Small maps (the usual event) are scanned
/// linearly; from ``indexThreshold`` entries on, a hash index keeps lookup O(1).
@usableFromInline package struct CELMap: Sendable {
    /// The keys, in insertion order, with the type they were written with.
    @usableFromInline package private(set) var keys: [CELValue]
    /// The values, parallel to ``keys``.
    @usableFromInline package private(set) var values: [CELValue]
    private var index: [MapKey: Int]?

    /// Maps with at least this many entries get a hash index.
    static let indexThreshold = 12

    /// An empty map.
    @usableFromInline package init() {
        keys = []
        values = []
    }

    /// An empty map with room for `capacity` entries.
    @usableFromInline package init(minimumCapacity capacity: Int) {
        self.init()
        keys.reserveCapacity(capacity)
        values.reserveCapacity(capacity)
    }

    /// A map from string-keyed pairs, in order; a repeated key keeps its last value.
    @usableFromInline package init(_ pairs: KeyValuePairs<String, CELValue>) {
        self.init(minimumCapacity: pairs.count)
        for (k, v) in pairs { insertOrReplace(.string(k), v) }
    }

    /// The number of entries.
    @usableFromInline package var count: Int { keys.count }

    /// True when the map is empty.
    @usableFromInline package var isEmpty: Bool { keys.isEmpty }

    /// The entries in insertion order.
    @usableFromInline package var entries: Zip2Sequence<[CELValue], [CELValue]> { zip(keys, values) }

    /// The value for `key` under CEL key equality, or nil (also for non-key types).
    @usableFromInline package subscript(key: CELValue) -> CELValue? {
        guard let k = MapKey(lookup: key), let i = position(of: k) else { return nil }
        return values[i]
    }

    /// The value for a string key; the fast path for field selection.
    @usableFromInline package func value(forStringKey key: String) -> CELValue? {
        if let index {
            guard let i = index[.string(key)] else { return nil }
            return values[i]
        }
        for i in keys.indices {
            if case .string(let s) = keys[i], s == key { return values[i] }
        }
        return nil
    }

    /// Inserts a new entry. Returns false, changing nothing, when an equal key exists.
    /// Throws for a key type maps cannot hold (`double`, `null`, lists...).
    @discardableResult
    @usableFromInline package mutating func insert(_ key: CELValue, _ value: CELValue) throws(CELError) -> Bool {
        guard let k = MapKey(key: key) else {
            throw CELError("unsupported map key type: \(key.typeName)")
        }
        if position(of: k) != nil { return false }
        append(k, key, value)
        return true
    }

    /// Sets the value for a string, int, uint or bool key, appending it when new.
    /// Other key types are ignored (use ``insert(_:_:)`` to be told).
    @usableFromInline package mutating func insertOrReplace(_ key: CELValue, _ value: CELValue) {
        guard let k = MapKey(key: key) else { return }
        if let i = position(of: k) {
            values[i] = value
        } else {
            append(k, key, value)
        }
    }

    private mutating func append(_ k: MapKey, _ key: CELValue, _ value: CELValue) {
        keys.append(key)
        values.append(value)
        if index != nil {
            index?[k] = keys.count - 1
        } else if keys.count >= Self.indexThreshold {
            var idx: [MapKey: Int] = [:]
            idx.reserveCapacity(keys.count * 2)
            for (i, existing) in keys.enumerated() {
                if let mk = MapKey(key: existing) { idx[mk] = i }
            }
            index = idx
        }
    }

    private func position(of k: MapKey) -> Int? {
        if let index { return index[k] }
        for i in keys.indices where MapKey(key: keys[i]) == k { return i }
        return nil
    }
}

/// A normalised map key: `uint` values that fit in `Int64` are stored as `int` so that
/// `1`, `1u` and `1.0` find the same entry.
enum MapKey: Hashable {
    case int(Int64)
    case bigUint(UInt64)
    case bool(Bool)
    case string(String)

    /// The key for storing `value`; nil for types that cannot be map keys.
    init?(key value: CELValue) {
        switch value {
        case .int(let i): self = .int(i)
        case .uint(let u): self = u <= UInt64(Int64.max) ? .int(Int64(u)) : .bigUint(u)
        case .bool(let b): self = .bool(b)
        case .string(let s): self = .string(s)
        default: return nil
        }
    }

    /// The key for looking up `value`; integral doubles find numeric keys.
    init?(lookup value: CELValue) {
        if case .double(let d) = value {
            guard d.rounded(.towardZero) == d else { return nil }
            if d >= -9.223372036854775808e18 && d < 9.223372036854775808e18 {
                self = .int(Int64(d))
            } else if d >= 0 && d < 1.8446744073709551616e19 {
                self = .bigUint(UInt64(d))
            } else {
                return nil
            }
            return
        }
        self.init(key: value)
    }
}
