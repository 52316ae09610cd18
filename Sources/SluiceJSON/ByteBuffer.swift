/// An immutable block of bytes shared by the events read from it.
///
/// A reader fills one buffer per chunk it reads and hands out events that point into it,
/// so a chunk of thousands of events costs one allocation. The buffer is never written
/// after it is shared, which is what makes it safe to send across stages. (A writer that
/// fills a buffer piece by piece, such as the saga step's `TextArena`, writes only past
/// every byte it has handed out, so no shared byte changes either.)
@usableFromInline package final class ByteBuffer: @unchecked Sendable {
    /// Start of the bytes.
    @usableFromInline package let base: UnsafeMutableRawPointer
    /// Allocated size in bytes.
    @usableFromInline package let capacity: Int

    /// The fields whose places the reader recorded in the events it read from this
    /// buffer (see ``FieldOffsets``), or nil.
    @usableFromInline package let fieldIndex: FieldIndex?

    /// Whether the reader recorded offsets for `index` in the events of this buffer.
    @inlinable
    package func isIndexed(by index: FieldIndex) -> Bool {
        indexRef?.toOpaque() == Unmanaged.passUnretained(index).toOpaque()
    }

    /// The slot of `key` in ``fieldIndex``, or nil (no index, or not indexed).
    @inlinable
    package func indexSlot(of key: String) -> Int? {
        indexRef?._withUnsafeGuaranteedRef { $0.slot(of: key) }
    }

    /// ``fieldIndex`` without reference counting, for hot paths: every buffer of a
    /// reader shares one index, and retaining it from the reader and the stages at once
    /// for every event would bounce its count between cores. Valid while this buffer
    /// (which holds ``fieldIndex``) is alive.
    @usableFromInline
    let indexRef: Unmanaged<FieldIndex>?

    /// A new uninitialised buffer of `capacity` bytes (at least 1).
    @usableFromInline package init(capacity: Int, fieldIndex: FieldIndex? = nil) {
        self.fieldIndex = fieldIndex
        indexRef = fieldIndex.map { Unmanaged.passUnretained($0) }
        self.capacity = max(1, capacity)
        base = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 16)
    }

    /// A buffer holding a copy of `bytes`.
    @usableFromInline package convenience init(copying bytes: UnsafeRawBufferPointer) {
        self.init(capacity: bytes.count)
        if let src = bytes.baseAddress, bytes.count > 0 { base.copyMemory(from: src, byteCount: bytes.count) }
    }

    deinit { base.deallocate() }

    /// The bytes in `range` as a raw buffer (valid while this object is alive).
    @inlinable
    package func bytes(_ start: Int, _ count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + start, count: count)
    }
}
