/// A growable column of values in memory its owner manages, for the pattern step's
/// hot per-event state.
///
/// An `Array` stored in a class and written per event costs a uniqueness check (and a
/// bounds check) on every write, and a borrowed read of an element of an array held by
/// `self` can retain the whole array around the call. A column is a plain pointer: reads
/// and writes are loads and stores. It is `~Copyable` and frees its memory in its own
/// `deinit`, so a copy (two owners of one block) or a missed release cannot compile.
///
/// Indices are checked only in debug builds: callers index with numbers they handed
/// out themselves (slots, nodes, keys), never with numbers read from input.
struct RawColumn<T>: ~Copyable {
    private(set) var base: UnsafeMutablePointer<T>
    private(set) var count = 0
    private(set) var capacity: Int

    /// The byte alignment of the storage (at least `T`'s own): 64 puts each element of a
    /// 64-byte type on one cache line.
    let alignment: Int

    init(capacity: Int = 16, alignment: Int = MemoryLayout<T>.alignment) {
        self.capacity = Swift.max(capacity, 1)
        self.alignment = Swift.max(alignment, MemoryLayout<T>.alignment)
        base = Self.allocate(self.capacity, self.alignment)
    }

    private static func allocate(_ capacity: Int, _ alignment: Int) -> UnsafeMutablePointer<T> {
        UnsafeMutableRawPointer.allocate(byteCount: capacity * MemoryLayout<T>.stride, alignment: alignment)
            .bindMemory(to: T.self, capacity: capacity)
    }

    /// The element at `i` (`0 ..< count`), read and written in place.
    @inline(__always)
    subscript(i: Int) -> T {
        unsafeAddress {
            assert(i >= 0 && i < count)
            return UnsafePointer(base + i)
        }
        nonmutating unsafeMutableAddress {
            assert(i >= 0 && i < count)
            return base + i
        }
    }

    /// Appends `value` and returns its index.
    @inline(__always)
    @discardableResult
    mutating func append(_ value: consuming T) -> Int {
        if count == capacity { grow() }
        (base + count).initialize(to: value)
        count += 1
        return count - 1
    }

    /// Removes and returns the last element (the column must not be empty).
    @inline(__always)
    mutating func removeLast() -> T {
        assert(count > 0)
        count -= 1
        return (base + count).move()
    }

    @inline(never)
    private mutating func grow() {
        let bigger = capacity * 2
        let fresh = Self.allocate(bigger, alignment)
        fresh.moveInitialize(from: base, count: count)
        base.deallocate()
        base = fresh
        capacity = bigger
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }
}

/// A column of plain values (nothing to release) as a reusable scratch list: the
/// runner's per-event lists of partial matches and completed matches, emptied and
/// refilled per event without a uniqueness check per append (as an `Array` stored in
/// a class pays).
extension RawColumn where T: BitwiseCopyable {
    var isEmpty: Bool {
        @inline(__always) get { count == 0 }
    }

    /// Empties the column, keeping its storage.
    @inline(__always)
    mutating func removeAll() { count = 0 }

    /// Removes the last `n` elements (`n <= count`).
    @inline(__always)
    mutating func removeLast(_ n: Int) {
        assert(n >= 0 && n <= count)
        count -= n
    }

    /// Removes the first `n` elements (`n <= count`), moving the others to the front.
    mutating func removeFirst(_ n: Int) {
        assert(n >= 0 && n <= count)
        guard n > 0 else { return }
        (base).update(from: base + n, count: count - n)
        count -= n
    }
}
