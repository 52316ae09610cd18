/// Where each of a reader's fields was found among the keys of the last parsed object
/// that was searched for it, by a small id (a name id, a slot): events of one stream
/// nearly always list their fields in the same order, so finding a field is usually one
/// comparison. The one shape cache of the steps (expression activations, the window's
/// direct path); raw events use the reader's ``FieldIndex`` offsets instead.
///
/// Noncopyable: it owns its memory, so it is read and grown in place with no reference
/// counting and no uniqueness check.
struct FieldPositionCache: ~Copyable {
    /// The position per id, -1 when unknown or absent; `capacity` entries.
    private var positions: UnsafeMutablePointer<Int>
    private var capacity: Int

    /// A cache for ids `0..<capacity` (it grows when a larger id comes).
    init(capacity: Int = 0) {
        positions = .allocate(capacity: max(capacity, 1))
        positions.initialize(repeating: -1, count: max(capacity, 1))
        self.capacity = max(capacity, 1)
    }

    deinit { positions.deallocate() }

    /// The position of `key` (of `utf8Count` UTF-8 bytes, known by `id`) in `keys`,
    /// trying where it was found last first; nil when absent. Remembers the answer.
    @inline(__always)
    mutating func index(of key: String, id: Int, utf8Count: Int, in keys: UnsafeBufferPointer<String>) -> Int? {
        if id < capacity {
            // Usually the same string as last time: `==` is then one inline comparison.
            let h = positions[id]
            if h >= 0, h < keys.count, keys[h] == key { return h }
        }
        var i = 0
        while i < keys.count {
            if keys[i].utf8.count == utf8Count, keys[i] == key {
                remember(id, i)
                return i
            }
            i += 1
        }
        remember(id, -1)
        return nil
    }

    /// Where ``index(of:id:utf8Count:in:)`` last found `id`, or -1 (absent or not asked).
    @inline(__always)
    subscript(id: Int) -> Int { id < capacity ? positions[id] : -1 }

    private mutating func remember(_ id: Int, _ index: Int) {
        if id >= capacity {
            guard index >= 0 else { return }
            let count = Swift.max(id + 1, 2 * capacity, 8)
            let grown = UnsafeMutablePointer<Int>.allocate(capacity: count)
            grown.moveInitialize(from: positions, count: capacity)
            (grown + capacity).initialize(repeating: -1, count: count - capacity)
            positions.deallocate()
            positions = grown
            capacity = count
        }
        positions[id] = index
    }
}
