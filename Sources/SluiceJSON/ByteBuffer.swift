/// An immutable block of bytes shared by the events read from it.
///
/// A reader fills one buffer per chunk it reads and hands out events that point into it,
/// so a chunk of thousands of events costs one allocation. Bytes an event points to are
/// never written after the event is shared, which is what makes it safe to send across
/// stages (a ``ByteArena`` writes the rest of its chunk after handing out the start).
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

/// Bytes for events that steps build (an `enrich` appending fields to a raw event), cut
/// from shared chunks so that an event costs no allocation of its own.
///
/// Each chunk is a ``ByteBuffer`` that the events cut from it hold, as events read from
/// input hold the reader's chunk. The arena hands out each range once and writes only
/// ranges it has not handed out yet: bytes an event points to are never written again,
/// so the events can cross stages as input events do. A chunk carries the field index
/// of the events whose bytes it holds, so that their recorded offsets stay valid.
/// Owned by one step, used from its stage's thread only.
///
/// Filled chunks are kept (the last ``spareCount``) and filled again once no event holds
/// them any more: the events are written and released downstream, on another thread, a
/// few batches later. Allocating each chunk afresh cost a `malloc` here and a `free`
/// there (on this thread's malloc arena, under its lock), and, as the allocator gave the
/// freed chunks back to the system, a page fault for each of a chunk's 16 pages when it
/// was first written.
package struct ByteArena {
    /// The chunk being filled and how much of it is handed out.
    var chunk: ByteBuffer?
    var used = 0
    /// The size of a chunk; a request over a quarter of it gets a buffer of its own.
    let chunkSize: Int
    /// Filled chunks, oldest at `nextSpare`, reused when only this arena holds them.
    var spares: [ByteBuffer?]
    var nextSpare = 0
    /// How many filled chunks are kept for reuse: more than the batches that can wait
    /// between a stage and the next (a ring of 16), each about a chunk.
    static let spareCount = 24

    package init(chunkSize: Int = 64 * 1024) {
        self.chunkSize = max(16, chunkSize)
        spares = Array(repeating: nil, count: Self.spareCount)
    }

    /// Room for `count` bytes in a buffer whose field index is `like`'s: the buffer and
    /// where the room starts. The caller writes the bytes before sharing them.
    package mutating func reserve(_ count: Int, indexedLike like: ByteBuffer) -> (ByteBuffer, Int) {
        // `like.fieldIndex` (a retain and a release) only for a new chunk.
        let ref = like.indexRef?.toOpaque()
        if let c = chunk, c.capacity - used >= count, c.indexRef?.toOpaque() == ref {
            let at = used
            used += count
            return (c, at)
        }
        return reserve(count, fieldIndex: like.fieldIndex, indexRef: ref)
    }

    /// Copies `bytes` into a buffer without a field index (the text of events a step
    /// makes from scratch, as the saga step's commands and log events): the buffer
    /// holding them and where they start.
    package mutating func store(_ bytes: UnsafeRawBufferPointer) -> (ByteBuffer, Int) {
        let (buffer, at) = reserve(bytes.count, fieldIndex: nil, indexRef: nil)
        if let src = bytes.baseAddress, bytes.count > 0 {
            (buffer.base + at).copyMemory(from: src, byteCount: bytes.count)
        }
        return (buffer, at)
    }

    @inline(__always)
    mutating func reserve(_ count: Int, fieldIndex: FieldIndex?, indexRef: UnsafeMutableRawPointer?) -> (
        ByteBuffer, Int
    ) {
        if let c = chunk, c.capacity - used >= count, c.indexRef?.toOpaque() == indexRef {
            let at = used
            used += count
            return (c, at)
        }
        if count > chunkSize / 4 { return (ByteBuffer(capacity: count, fieldIndex: fieldIndex), 0) }
        let c = nextChunk(fieldIndex: fieldIndex, indexRef: indexRef)
        chunk = c
        used = count
        return (c, 0)
    }

    /// A chunk to fill next: the oldest spare when no event holds it any more and it
    /// carries the same field index, else a new one. The chunk just filled takes the
    /// oldest spare's place.
    mutating func nextChunk(fieldIndex: FieldIndex?, indexRef: UnsafeMutableRawPointer?) -> ByteBuffer {
        let slot = nextSpare
        nextSpare = slot + 1 == spares.count ? 0 : slot + 1
        var reused: ByteBuffer?
        if var oldest = spares[slot] {
            spares[slot] = nil
            // Only `oldest` holds it now: every event cut from it is gone, and the
            // threads that read those events released them after their last read.
            if isKnownUniquelyReferenced(&oldest), oldest.indexRef?.toOpaque() == indexRef {
                reused = oldest
            }
        }
        spares[slot] = chunk
        return reused ?? ByteBuffer(capacity: chunkSize, fieldIndex: fieldIndex)
    }

    /// Gives back the last `count` bytes of the room just reserved in `buffer` (nothing
    /// was written there, nor handed out), for a caller that reserved an upper bound.
    package mutating func giveBack(_ count: Int, of buffer: ByteBuffer) {
        if let c = chunk, c === buffer { used -= count }
    }
}
