import SluiceJSON

/// One event flowing through a pipeline: a JSON value (usually an object) and its time.
///
/// An event read from input starts as its original bytes, already checked to be valid
/// JSON, and is parsed only when a step needs more than a few fields: ``field(_:)``
/// scans the bytes for one top-level field, and an event no step changed is written back
/// byte for byte. Changing an event turns it into a parsed ``JSON`` value.
public struct Event: Sendable {
    @usableFromInline
    enum Storage: Sendable {
        case raw(ByteBuffer, start: Int, count: Int)
        /// A raw object plus fields appended after its last one (an `enrich` that only
        /// adds new top-level fields): written as the original bytes with the new
        /// fields spliced in before the closing brace, without parsing the rest.
        case patched(ByteBuffer, start: Int, count: Int, extra: JSONObject)
        case value(JSON)
    }

    @usableFromInline
    var storage: Storage

    /// Event time in epoch milliseconds, or ``Event/noTime`` before a time is assigned.
    public var time: Int64

    /// The 1-based input line the event came from, when known (0 otherwise).
    @usableFromInline package var line: Int

    /// The source's watermark just before this event was read (event-time mode), or
    /// `Int64.min`. Streams whose steps use watermarks advance to it before the event,
    /// so a run gives the same results however its input was split into batches.
    @usableFromInline package var watermark: Int64 = Int64.min

    /// Monotonic time (nanoseconds, `DispatchTime.uptimeNanoseconds`) at which a source
    /// handed the event to the runtime, or 0. Set only while
    /// ``SourceOutput/stampIngestTime`` is on, so `sluice bench` can measure end-to-end
    /// latency at its sink; steps that pass events on keep it, new events have 0.
    @usableFromInline package var ingestNanos: UInt64 = 0

    /// Where the values of the reader's indexed fields start in the original bytes (see
    /// ``FieldIndex``); empty for events not read by an indexing reader. Only meaningful
    /// while the event keeps its original bytes, and only for the index of its buffer.
    @usableFromInline package var offsets = FieldOffsets()

    /// Marks an event without an assigned event time.
    public static let noTime = Int64.min

    /// An event holding a parsed value.
    public init(_ value: JSON, time: Int64 = Event.noTime, line: Int = 0) {
        storage = .value(value)
        self.time = time
        self.line = line
    }

    /// An event over validated JSON bytes `buffer[start ..< start+count]`.
    @usableFromInline package init(raw buffer: ByteBuffer, start: Int, count: Int, line: Int = 0) {
        storage = .raw(buffer, start: start, count: count)
        time = Event.noTime
        self.line = line
    }

    /// An event over validated JSON bytes whose indexed fields' places were recorded
    /// with `buffer`'s ``ByteBuffer/fieldIndex``.
    @usableFromInline package init(raw buffer: ByteBuffer, start: Int, count: Int, line: Int, offsets: FieldOffsets) {
        storage = .raw(buffer, start: start, count: count)
        time = Event.noTime
        self.line = line
        self.offsets = offsets
    }

    /// True while the event is still its original bytes.
    @inlinable
    package var isRaw: Bool {
        if case .raw = storage { return true }
        return false
    }

    /// True when the event is held as a parsed value (not original bytes).
    @inlinable
    package var isValueBacked: Bool {
        if case .value = storage { return true }
        return false
    }

    /// The object of a parsed event (nil for a raw event or a parsed non-object): a
    /// copy of the object without parsing anything, for steps that read many fields.
    @inlinable
    package var parsedObject: JSONObject? {
        if case .value(.object(let o)) = storage { return o }
        return nil
    }

    /// Calls `body` with the keys and values of a parsed object event, in place (neither
    /// the event nor its object is copied), or returns nil for other events. The buffers
    /// are valid only inside `body`, which must not keep them.
    @inlinable
    package func withParsedFields<R>(
        _ body: (UnsafeBufferPointer<String>, UnsafeBufferPointer<JSON>) throws -> R
    ) rethrows -> R? {
        if case .value(.object(let o)) = storage { return try o.withUnsafeFields(body) }
        return nil
    }

    /// ``withParsedFields(_:)`` for an event lent by pointer (as ``Step/process(at:into:)``
    /// lends it), read where it is. `event.pointee.withParsedFields` copies the object
    /// (a retain and a release of each of its two arrays, about 120 instructions), as the
    /// compiler cannot prove that `body` leaves the pointed-to memory alone; through an
    /// exclusive access (``withParsedFieldsExclusive(_:)``, which writes nothing) it
    /// borrows them. The caller promises what ``InPlaceStep`` promises: the event stays
    /// valid and unchanged for the call.
    @inlinable @inline(__always)
    package static func withParsedFields<R>(
        at event: UnsafePointer<Event>, _ body: (UnsafeBufferPointer<String>, UnsafeBufferPointer<JSON>) throws -> R
    ) rethrows -> R? {
        try UnsafeMutablePointer(mutating: event).pointee.withParsedFieldsExclusive(body)
    }

    /// ``withParsedFields(_:)`` under an exclusive access: reads only (see
    /// ``withParsedFields(at:_:)``).
    @inlinable @inline(__always)
    package mutating func withParsedFieldsExclusive<R>(
        _ body: (UnsafeBufferPointer<String>, UnsafeBufferPointer<JSON>) throws -> R
    ) rethrows -> R? {
        if case .value(.object(let o)) = storage { return try o.withUnsafeFields(body) }
        return nil
    }

    /// The whole value, parsed on demand (the event is not changed; see ``materialize()``).
    @inlinable
    public var value: JSON {
        if case .value(let v) = storage { return v }
        return parsedValue
    }

    /// ``value`` of a raw or patched event.
    @usableFromInline
    var parsedValue: JSON {
        switch storage {
        case .value(let v): return v
        case .raw(let buf, let start, let count):
            // The reader validated these bytes with the same parser and limits; a failure
            // here would be a bug, and null is the least harmful answer.
            return (try? JSONParser.parse(buf.bytes(start, count), maxDepth: Int.max)) ?? .null
        case .patched(let buf, let start, let count, let extra):
            guard case .object(var o)? = try? JSONParser.parse(buf.bytes(start, count), maxDepth: Int.max) else {
                return .null
            }
            for (k, v) in extra { o[k] = v }
            return .object(o)
        }
    }

    /// Adds top-level fields that the event does not have yet, keeping a raw event raw
    /// (see ``Storage/patched``). Returns false, changing nothing, when the event is
    /// not an object or already has one of the keys; the caller then edits ``value``.
    @usableFromInline package mutating func appendNewFields(_ fields: JSONObject) -> Bool {
        switch storage {
        case .raw(let buf, let start, let count):
            guard count >= 2, buf.bytes(start, 1)[0] == UInt8(ascii: "{"),
                buf.bytes(start + count - 1, 1)[0] == UInt8(ascii: "}")
            else {
                return false
            }
            if rawHasAnyKey(fields.keys, buf, start, count) { return false }
            storage = .patched(buf, start: start, count: count, extra: fields)
            return true
        case .patched(let buf, let start, let count, var extra):
            if rawHasAnyKey(fields.keys, buf, start, count) { return false }
            for k in fields.keys where extra.index(of: k) != nil { return false }
            for (k, v) in fields { extra.appendUnchecked(key: k, value: v) }
            storage = .patched(buf, start: start, count: count, extra: extra)
            return true
        case .value(let v):
            guard case .object(var o) = v else { return false }
            for k in fields.keys where o.index(of: k) != nil { return false }
            for (k, value) in fields { o.appendUnchecked(key: k, value: value) }
            storage = .value(.object(o))
            return true
        }
    }

    /// Emits to `out` the raw object event at `event` with new members appended after
    /// its last one, as one raw event: a copy of the original bytes with the members' text
    /// spliced in before the closing brace (the text ``Storage/patched`` writes), cut
    /// from `arena`, keeping the event's time, line and field offsets. The result is an
    /// ordinary raw event: sinks copy its bytes, and later steps read its fields, the
    /// new ones included, as they read an input event's.
    ///
    /// `writeMembers` writes the members' text (`"k":v,"k2":w`, at least one member,
    /// none of whose keys the event has) at the pointer it is given, at most `bound`
    /// bytes, and returns how many it wrote. It is also given where the members start in
    /// the new event and the event's field offsets, to record where the new fields'
    /// values are (kept only when the event has offsets). Returns false, emitting and
    /// calling nothing, when this is not a raw object.
    ///
    /// Takes the event by pointer, as steps are lent it: calling a method on
    /// `event.pointee` would copy the event first.
    package static func emitAppending(
        to event: UnsafePointer<Event>, membersUpTo bound: Int, arena: inout ByteArena, into out: inout StepOutput,
        _ writeMembers: (UnsafeMutablePointer<UInt8>, _ start: Int, _ offsets: inout FieldOffsets) -> Int
    ) -> Bool {
        guard let (place, start, count) = rawPlace(at: event), count >= 2, bound > 0 else { return false }
        return place._withUnsafeGuaranteedRef { buf in
            emitAppending(to: event, buf, start, count, membersUpTo: bound, arena: &arena, into: &out, writeMembers)
        }
    }

    /// The buffer (unretained), start and count of the raw event at `event`, or nil.
    /// Matching `event.pointee.storage` copies the buffer reference (a retain and a
    /// release, on a count the reader's thread also changes); through an exclusive
    /// access, which reads only, the compiler borrows it (see ``withParsedFields(at:_:)``).
    /// The buffer is valid while the event is, which the caller lends.
    @inlinable @inline(__always)
    package static func rawPlace(at event: UnsafePointer<Event>) -> (Unmanaged<ByteBuffer>, Int, Int)? {
        UnsafeMutablePointer(mutating: event).pointee.rawPlaceExclusive()
    }

    /// ``rawPlace(at:)`` under an exclusive access: reads only.
    @inlinable @inline(__always)
    package mutating func rawPlaceExclusive() -> (Unmanaged<ByteBuffer>, Int, Int)? {
        if case .raw(let buf, let start, let count) = storage { return (Unmanaged.passUnretained(buf), start, count) }
        return nil
    }

    /// ``emitAppending(to:membersUpTo:arena:into:_:)`` on the raw event's bytes,
    /// `buf[start ..< start+count]`.
    @inline(__always)
    static func emitAppending(
        to event: UnsafePointer<Event>, _ buf: ByteBuffer, _ start: Int, _ count: Int, membersUpTo bound: Int,
        arena: inout ByteArena, into out: inout StepOutput,
        _ writeMembers: (UnsafeMutablePointer<UInt8>, _ start: Int, _ offsets: inout FieldOffsets) -> Int
    ) -> Bool {
        let src = UnsafeRawPointer(buf.base + start)
        guard src.load(as: UInt8.self) == UInt8(ascii: "{"),
            src.load(fromByteOffset: count - 1, as: UInt8.self) == UInt8(ascii: "}")
        else { return false }
        // A comma after the last member, unless there is none (`{}`, `{ }`).
        var empty = true
        var i = 1
        while i < count - 1 {
            let b = src.load(fromByteOffset: i, as: UInt8.self)
            if !(b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D) {
                empty = false
                break
            }
            i += 1
        }
        let head = count - 1 + (empty ? 0 : 1)
        // Offsets are 32-bit (see FieldOffsets).
        guard head + bound + 1 <= Int(UInt32.max) - 2 else { return false }
        let (dest, at) = arena.reserve(head + bound + 1, indexedLike: buf)
        let p = (dest.base + at).assumingMemoryBound(to: UInt8.self)
        UnsafeMutableRawPointer(p).copyMemory(from: src, byteCount: count - 1)
        if !empty { p[count - 1] = UInt8(ascii: ",") }
        let offsets = event.pointee.offsets
        var newOffsets = offsets
        let n = min(bound, max(0, writeMembers(p + head, head, &newOffsets)))
        p[head + n] = UInt8(ascii: "}")
        arena.giveBack(bound - n, of: dest)
        out.emit(
            Event(
                raw: dest, start: at, count: head + n + 1, offsets: offsets.isEmpty ? offsets : newOffsets,
                as: event))
        return true
    }

    /// An event over `buffer[start ..< start+count]` with `offsets`, and the time, line,
    /// watermark and ingest time of `other` (which it replaces).
    init(raw buffer: ByteBuffer, start: Int, count: Int, offsets: FieldOffsets, as other: UnsafePointer<Event>) {
        storage = .raw(buffer, start: start, count: count)
        time = other.pointee.time
        line = other.pointee.line
        watermark = other.pointee.watermark
        ingestNanos = other.pointee.ingestNanos
        self.offsets = offsets
    }

    /// Emits to `out` the event at `event` with its value replaced by JSON text that `write`
    /// writes (valid and compact, at most `bound` bytes, at least one) at the pointer it
    /// is given, returning how many bytes it wrote: a raw event whose bytes are cut from
    /// `arena`, with the offsets `write` records (for the field index of this event's
    /// buffer; it is given no offsets recorded, and they are kept only when this event
    /// has offsets). Returns false, emitting and calling nothing, when this event is not
    /// raw (the caller then sets a value).
    package static func emitReplacing(
        _ event: UnsafePointer<Event>, textUpTo bound: Int, arena: inout ByteArena, into out: inout StepOutput,
        _ write: (UnsafeMutablePointer<UInt8>, _ offsets: inout FieldOffsets) -> Int
    ) -> Bool {
        guard let (place, _, _) = rawPlace(at: event), bound > 0, bound <= Int(UInt32.max) - 2 else {
            return false
        }
        let (dest, at) = place._withUnsafeGuaranteedRef { arena.reserve(bound, indexedLike: $0) }
        let p = (dest.base + at).assumingMemoryBound(to: UInt8.self)
        var newOffsets = FieldOffsets()
        let n = min(bound, max(0, write(p, &newOffsets)))
        arena.giveBack(bound - n, of: dest)
        let keep = !event.pointee.offsets.isEmpty
        out.emit(Event(raw: dest, start: at, count: n, offsets: keep ? newOffsets : FieldOffsets(), as: event))
        return true
    }

    /// Whether the original bytes have a top-level field named by one of `keys`: from
    /// the reader's offsets when they cover every key, else by a scan.
    @usableFromInline
    func rawHasAnyKey(_ keys: [String], _ buf: ByteBuffer, _ start: Int, _ count: Int) -> Bool {
        if !offsets.isEmpty {
            var allAbsent = true
            for k in keys {
                guard let slot = buf.indexSlot(of: k) else {
                    allAbsent = false
                    break
                }
                switch offsets[slot] {
                case .offset: return true
                case .absent: continue
                case .unknown: allAbsent = false
                }
                if !allAbsent { break }
            }
            if allAbsent { return false }
        }
        return JSONParser.hasAnyKey(keys, in: buf.bytes(start, count))
    }

    /// Parses the event in place if it is raw, so later reads do not parse again.
    @usableFromInline package mutating func materialize() {
        switch storage {
        case .raw, .patched: storage = .value(value)
        case .value: break
        }
    }

    /// Replaces the event's value.
    public mutating func setValue(_ v: JSON) { storage = .value(v) }

    /// The top-level field `key`, or nil when absent or the event is not an object.
    @inlinable
    public func field(_ key: String) -> JSON? {
        switch storage {
        case .value(let v): return v[key]
        case .raw(let buf, let start, let count):
            return rawField(key, buf, start, count)
        case .patched(let buf, let start, let count, let extra):
            if let v = extra[key] { return v }
            return rawField(key, buf, start, count)
        }
    }

    /// `key` in the original bytes: at its recorded offset when the reader indexed it,
    /// else by a scan.
    @usableFromInline
    func rawField(_ key: String, _ buf: ByteBuffer, _ start: Int, _ count: Int) -> JSON? {
        let bytes = buf.bytes(start, count)
        if !offsets.isEmpty, let slot = buf.indexSlot(of: key) {
            switch offsets[slot] {
            case .absent: return nil
            case .offset(let o): return JSONParser.value(at: o, in: bytes)
            case .unknown: break
            }
        }
        return JSONParser.field(key, in: bytes)
    }

    /// ``rawView(for:)`` of the event at `event`, read where it is (no copy of its buffer
    /// reference; see ``rawPlace(at:)``).
    @inlinable @inline(__always)
    package static func rawView(at event: UnsafePointer<Event>, for index: FieldIndex) -> (
        bytes: UnsafeRawBufferPointer, offsets: FieldOffsets
    )? {
        guard !event.pointee.offsets.isEmpty, let (place, start, count) = rawPlace(at: event) else { return nil }
        return place._withUnsafeGuaranteedRef { buf in
            buf.isIndexed(by: index) ? (buf.bytes(start, count), event.pointee.offsets) : nil
        }
    }

    /// The original bytes and recorded offsets of a raw event read with `index`, or nil
    /// (parsed or patched, or read without that index). The bytes stay valid while this
    /// event value is alive and unchanged: a caller that keeps the event (as an
    /// activation binds one) reads fields through the view without copying the event.
    @inlinable
    package func rawView(for index: FieldIndex) -> (bytes: UnsafeRawBufferPointer, offsets: FieldOffsets)? {
        guard !offsets.isEmpty, case .raw(let buf, let start, let count) = storage, buf.isIndexed(by: index) else {
            return nil
        }
        return (buf.bytes(start, count), offsets)
    }

    /// Calls `body` with the original bytes of a raw event from where the value of the
    /// field in slot `slot` of `index` starts, to the end of the event; nil when the event
    /// is not raw, was not read with `index`, or the field is absent. The caller looks the
    /// slot up once (`index.slot(of:)`), not per event: a partitioner hashes every
    /// event's key this way.
    @inlinable
    package func withIndexedFieldBytes<R>(slot: Int, of index: FieldIndex, _ body: (UnsafeRawBufferPointer) -> R) -> R?
    {
        guard !offsets.isEmpty, case .raw(let buf, let start, let count) = storage, buf.isIndexed(by: index),
            case .offset(let o) = offsets[slot], o < count
        else { return nil }
        return body(UnsafeRawBufferPointer(rebasing: buf.bytes(start, count)[o...]))
    }

    /// `events` with the original bytes of the raw ones copied into one new buffer
    /// (parsed and patched events are kept as they are). A partitioner repacks each
    /// partition's events so that the workers do not share a buffer's reference count:
    /// on two cores, two workers retaining and releasing the same object for every
    /// event spend more time passing its cache line back and forth than working.
    @usableFromInline package static func repacked(_ events: [Event]) -> [Event] {
        repacked(events, where: nil, equals: 0, count: events.count)
    }

    /// ``repacked(_:)`` of the events `events[j]` with `parts[j] == part` (all of them
    /// when `parts` is nil), `count` of them: a partitioner's batch for one partition,
    /// built without copying the batch's events into a part first.
    @usableFromInline package static func repacked(_ events: [Event], where parts: [Int]?, equals part: Int, count: Int)
        -> [Event]
    {
        // Through a buffer pointer, so that reading each event borrows it instead of
        // copying it (a retain and a release of its buffer per event, twice over).
        events.withUnsafeBufferPointer { batch in
            var total = 0
            var index: FieldIndex?
            for j in batch.indices where parts?[j] ?? part == part {
                if let (_, count) = batch[j].unsafeRawPlace {
                    total += count
                    if index == nil, case .raw(let buf, _, _) = batch[j].storage { index = buf.fieldIndex }
                }
            }
            var out: [Event] = []
            out.reserveCapacity(count)
            guard total > 0 else {
                for j in batch.indices where parts?[j] ?? part == part { out.append(batch[j]) }
                return out
            }
            let fresh = ByteBuffer(capacity: total, fieldIndex: index)
            var at = 0
            for j in batch.indices where parts?[j] ?? part == part {
                guard let (bytes, count) = batch[j].unsafeRawPlace else {
                    out.append(batch[j])
                    continue
                }
                fresh.base.advanced(by: at).copyMemory(from: bytes, byteCount: count)
                // Offsets are relative to the event's first byte; they stay true as long
                // as they were recorded for the index the new buffer carries.
                let offsets = index.map { batch[j].isRaw(indexedBy: $0) } == true ? batch[j].offsets : FieldOffsets()
                var copy = Event(raw: fresh, start: at, count: count, line: batch[j].line, offsets: offsets)
                copy.time = batch[j].time
                copy.watermark = batch[j].watermark
                copy.ingestNanos = batch[j].ingestNanos
                out.append(copy)
                at += count
            }
            return out
        }
    }

    /// Calls `body` with the top-level field `key` (borrowed in place for a parsed event,
    /// so the event's object is not copied), or returns nil when absent or the event is
    /// not an object. For hot paths that read a field and keep only part of it.
    @inlinable
    package func withField<R>(_ key: String, _ body: (borrowing JSON) throws -> R) rethrows -> R? {
        if case .value(.object(let o)) = storage { return try o.withValue(forKey: key, body) }
        if case .value = storage { return nil }
        guard let v = field(key) else { return nil }
        return try body(v)
    }

    /// ``field(_:)`` with a key already encoded as UTF-8, for hot paths.
    @inlinable
    package func field(utf8 key: UnsafeRawBufferPointer, _ string: String) -> JSON? {
        switch storage {
        case .value(let v): return v[string]
        case .raw(let buf, let start, let count): return JSONParser.field(utf8Key: key, in: buf.bytes(start, count))
        case .patched(let buf, let start, let count, let extra):
            return extra[string] ?? JSONParser.field(utf8Key: key, in: buf.bytes(start, count))
        }
    }

    /// Calls `body` with the original bytes of a raw event (not for parsed or patched
    /// events, whose fields are not all in the bytes); nil otherwise.
    @inlinable
    package func withRawBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R? {
        if case .raw(let buf, let start, let count) = storage { return body(buf.bytes(start, count)) }
        return nil
    }

    /// Appends the event's JSON text (no newline) to `out`: the original bytes when unchanged.
    @inlinable
    package func write(into out: inout [UInt8]) {
        Self.write(storage, into: &out)
    }

    /// ``write(into:)`` of the event at `event`, read where it is: a raw event's bytes
    /// are appended without reference counting, where calling ``write(into:)`` on
    /// `event.pointee` would copy the event first.
    @inlinable
    package static func write(at event: UnsafePointer<Event>, into out: inout [UInt8]) {
        if let (bytes, count) = event.pointee.unsafeRawPlace {
            out.append(contentsOf: UnsafeRawBufferPointer(start: bytes, count: count))
        } else {
            event.pointee.write(into: &out)
        }
    }

    /// ``write(into:)`` of an event's storage.
    @inlinable
    static func write(_ storage: consuming Storage, into out: inout [UInt8]) {
        switch consume storage {
        case .value(let v): JSONWriter.write(v, into: &out)
        case .raw(let buf, let start, let count):
            out.append(contentsOf: UnsafeRawBufferPointer(buf.bytes(start, count)))
        case .patched(let buf, let start, let count, let extra):
            // Everything up to the closing brace, then the new fields.
            let bytes = buf.bytes(start, count - 1)
            out.append(contentsOf: bytes)
            var empty = true
            for b in bytes.dropFirst() where !(b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D) {
                empty = false
                break
            }
            // The fields in place, lent for the loop.
            extra.withUnsafeFields { keys, values in
                for i in 0..<keys.count {
                    JSONWriter.writeKey(keys[i], first: empty, into: &out)
                    empty = false
                    JSONWriter.write(values[i], into: &out)
                }
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// `events` with each event that is not plain original bytes (a parsed event, or
    /// bytes with added fields) replaced by the same event held as its JSON text, all of
    /// them in one fresh buffer; events that are already bytes stay as they are. Anyone
    /// reading the events sees the same values, times and lines; a sink that writes JSON
    /// text then copies bytes instead of encoding. A stage calls it on its output when the
    /// sink it feeds is shared with other stages, so that encoding runs on every producing
    /// thread rather than on the sink's alone.
    @usableFromInline package static func encoded(_ events: consuming [Event]) -> [Event] {
        var scratch: [UInt8] = []
        return encoded(events, scratch: &scratch)
    }

    /// Appends every event of `events` to `out` as a JSON line (its text and a newline),
    /// moving each storage out of the batch as it is written, so that nothing is reference
    /// counted on the way. For a stage that hands its output to a sink as text
    /// (``EventSink/writeLines(_:count:)``).
    @usableFromInline package static func writeLines(_ events: consuming [Event], into out: inout [UInt8]) {
        for i in events.indices {
            writeTakingStorage(of: &events[i], into: &out)
            out.append(0x0A)
        }
    }

    /// Moves `event`'s storage out (leaving a null value) and writes it to `out`: the
    /// caller owns the batch, so the storage is written and dropped with no reference
    /// counting on the way.
    static func writeTakingStorage(of event: inout Event, into out: inout [UInt8]) {
        var storage = Storage.value(.null)
        swap(&storage, &event.storage)
        Self.write(consume storage, into: &out)
    }

    /// ``encoded(_:)`` writing through `scratch`, a buffer the caller keeps from batch to
    /// batch: its capacity is reused, so a stage that encodes every batch does not
    /// allocate (and page in) a fresh staging buffer each time. Its contents on return
    /// are unspecified.
    @usableFromInline package static func encoded(_ events: consuming [Event], scratch: inout [UInt8]) -> [Event] {
        scratch.removeAll(keepingCapacity: true)
        var spans: [(start: Int, count: Int)] = []
        spans.reserveCapacity(events.count)
        for i in events.indices {
            if events[i].isRaw {
                spans.append((-1, 0))
                continue
            }
            let start = scratch.count
            writeTakingStorage(of: &events[i], into: &scratch)
            spans.append((start, scratch.count - start))
        }
        if scratch.isEmpty { return events }
        let buffer = scratch.withUnsafeBytes { ByteBuffer(copying: $0) }
        for i in events.indices where spans[i].start >= 0 {
            events[i].storage = .raw(buffer, start: spans[i].start, count: spans[i].count)
            events[i].offsets = FieldOffsets()
        }
        return events
    }

    /// Where a raw event's bytes are, read without reference counting (nil when not
    /// raw). Valid while the event is alive and unchanged.
    @inlinable
    var unsafeRawPlace: (bytes: UnsafeRawPointer, count: Int)? {
        if case .raw(let buf, let start, let count) = storage { return (UnsafeRawPointer(buf.base + start), count) }
        return nil
    }

    /// True when the event is raw and its reader recorded offsets for `index`.
    @inlinable
    func isRaw(indexedBy index: FieldIndex) -> Bool {
        if case .raw(let buf, _, _) = storage { return buf.isIndexed(by: index) }
        return false
    }

    /// Size of the original bytes, or 0 for a parsed event (used for MB/s statistics).
    @usableFromInline package var rawByteCount: Int {
        switch storage {
        case .raw(_, _, let count), .patched(_, _, let count, _): return count
        case .value: return 0
        }
    }
}

extension Event: CustomStringConvertible {
    /// The compact JSON text.
    public var description: String {
        var out: [UInt8] = []
        write(into: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
