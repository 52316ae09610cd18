/// A JSON object that keeps its keys in insertion order.
///
/// Events usually have a handful of fields, so keys and values sit in two parallel arrays
/// and lookup is a linear scan: faster than hashing for small objects and cheaper to
/// build. A duplicate key in parsed input keeps its first position and its first
/// value (later repeats are ignored), so reading one field can stop at its first match.
public struct JSONObject: Sendable, Hashable {
    /// The keys, in order.
    public private(set) var keys: [String]
    /// The values, parallel to ``keys``.
    public private(set) var values: [JSON]

    /// An empty object.
    public init() {
        keys = []
        values = []
    }

    /// An object of `keys` and `values` taken as they are (same count; the keys
    /// distinct, which is not checked). A caller that builds many objects with the same
    /// keys passes one shared array, so only the values are allocated.
    public init(uniqueKeys keys: [String], values: [JSON]) {
        precondition(keys.count == values.count, "JSONObject(uniqueKeys:values:): counts differ")
        self.keys = keys
        self.values = values
    }

    /// An empty object with room for `capacity` fields.
    public init(minimumCapacity capacity: Int) {
        keys = []
        values = []
        keys.reserveCapacity(capacity)
        values.reserveCapacity(capacity)
    }

    /// An object from ordered pairs; a repeated key keeps its first place and last value.
    public init(_ pairs: some Sequence<(String, JSON)>) {
        self.init()
        for (k, v) in pairs { self[k] = v }
    }

    /// The number of fields.
    @inlinable public var count: Int { keys.count }

    /// True when the object has no fields.
    @inlinable public var isEmpty: Bool { keys.isEmpty }

    /// The position of `key`, or nil.
    @inlinable
    public func index(of key: String) -> Int? {
        keys.firstIndex(of: key)
    }

    /// Calls `body` with the value of `key` in place (no copy of the value or the
    /// object), or returns nil when the key is absent. For hot read paths.
    @inlinable
    public func withValue<R>(forKey key: String, _ body: (borrowing JSON) throws -> R) rethrows -> R? {
        guard let i = keys.firstIndex(of: key) else { return nil }
        return try values.withUnsafeBufferPointer { try body($0[i]) }
    }

    /// Calls `body` with the keys and the values, in place (no copy of either array). The
    /// buffers are valid only inside `body`: it must not keep them, nor anything pointing
    /// into them, after it returns.
    @inlinable
    package func withUnsafeFields<R>(
        _ body: (UnsafeBufferPointer<String>, UnsafeBufferPointer<JSON>) throws -> R
    ) rethrows -> R {
        try keys.withUnsafeBufferPointer { k in try values.withUnsafeBufferPointer { v in try body(k, v) } }
    }

    /// The value of `key`; setting nil removes the field, setting a new key appends it.
    public subscript(key: String) -> JSON? {
        @inlinable
        get {
            guard let i = index(of: key) else { return nil }
            return values[i]
        }
        set {
            if let i = index(of: key) {
                if let v = newValue {
                    values[i] = v
                } else {
                    keys.remove(at: i)
                    values.remove(at: i)
                }
            } else if let v = newValue {
                keys.append(key)
                values.append(v)
            }
        }
    }

    /// Appends a field without checking for an existing key. Only for builders that know
    /// the key is new (the parser checks with ``subscript(_:)`` when keys may repeat).
    @usableFromInline package mutating func appendUnchecked(key: String, value: JSON) {
        keys.append(key)
        values.append(value)
    }

    /// Replaces the value at position `i` (a valid index), keeping the key.
    @usableFromInline package mutating func replaceValue(at i: Int, with value: JSON) {
        values[i] = value
    }

    /// Removes `key` and returns its value, if present.
    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSON? {
        guard let i = index(of: key) else { return nil }
        keys.remove(at: i)
        return values.remove(at: i)
    }

    /// Renames `old` to `new` in place, keeping the field's position. A field already named
    /// `new` is replaced. Returns false when `old` is absent.
    @discardableResult
    public mutating func renameKey(_ old: String, to new: String) -> Bool {
        guard let i = index(of: old) else { return false }
        if old == new { return true }
        if let j = index(of: new) {
            keys.remove(at: j)
            values.remove(at: j)
            let k = j < i ? i - 1 : i
            keys[k] = new
        } else {
            keys[i] = new
        }
        return true
    }
}

extension JSONObject: Sequence {
    /// Iterates `(key, value)` pairs in order.
    public func makeIterator() -> Zip2Sequence<[String], [JSON]>.Iterator {
        zip(keys, values).makeIterator()
    }
}
