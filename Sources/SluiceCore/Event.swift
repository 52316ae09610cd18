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
        case value(JSON)
    }

    @usableFromInline
    var storage: Storage

    /// Event time in epoch milliseconds, or ``Event/noTime`` before a time is assigned.
    public var time: Int64

    /// The 1-based input line the event came from, when known (0 otherwise).
    public var line: Int

    /// The source's watermark just before this event was read (event-time mode), or
    /// `Int64.min`. Streams whose steps use watermarks advance to it before the event,
    /// so a run gives the same results however its input was split into batches.
    public var watermark: Int64 = Int64.min

    /// Monotonic time (nanoseconds, `DispatchTime.uptimeNanoseconds`) at which a source
    /// handed the event to the runtime, or 0. Set only while
    /// ``SourceOutput/stampIngestTime`` is on, so `sluice bench` can measure end-to-end
    /// latency at its sink; steps that pass events on keep it, new events have 0.
    public var ingestNanos: UInt64 = 0

    /// Marks an event without an assigned event time.
    public static let noTime = Int64.min

    /// An event holding a parsed value.
    public init(_ value: JSON, time: Int64 = Event.noTime, line: Int = 0) {
        storage = .value(value)
        self.time = time
        self.line = line
    }

    /// An event over validated JSON bytes `buffer[start ..< start+count]`.
    public init(raw buffer: ByteBuffer, start: Int, count: Int, line: Int = 0) {
        storage = .raw(buffer, start: start, count: count)
        time = Event.noTime
        self.line = line
    }

    /// True while the event is still its original bytes.
    public var isRaw: Bool {
        if case .raw = storage { return true }
        return false
    }

    /// The whole value, parsed on demand (the event is not changed; see ``materialize()``).
    public var value: JSON {
        switch storage {
        case .value(let v): return v
        case .raw(let buf, let start, let count):
            // The reader validated these bytes with the same parser and limits; a failure
            // here would be a bug, and null is the least harmful answer.
            return (try? JSONParser.parse(buf.bytes(start, count), maxDepth: Int.max)) ?? .null
        }
    }

    /// Parses the event in place if it is raw, so later reads do not parse again.
    public mutating func materialize() {
        if case .raw = storage { storage = .value(value) }
    }

    /// Replaces the event's value.
    public mutating func setValue(_ v: JSON) { storage = .value(v) }

    /// The top-level field `key`, or nil when absent or the event is not an object.
    @inlinable
    public func field(_ key: String) -> JSON? {
        switch storage {
        case .value(let v): return v[key]
        case .raw(let buf, let start, let count): return JSONParser.field(key, in: buf.bytes(start, count))
        }
    }

    /// ``field(_:)`` with a key already encoded as UTF-8, for hot paths.
    @inlinable
    public func field(utf8 key: UnsafeRawBufferPointer, _ string: String) -> JSON? {
        switch storage {
        case .value(let v): return v[string]
        case .raw(let buf, let start, let count): return JSONParser.field(utf8Key: key, in: buf.bytes(start, count))
        }
    }

    /// Appends the event's JSON text (no newline) to `out`: the original bytes when unchanged.
    @inlinable
    public func write(into out: inout [UInt8]) {
        switch storage {
        case .value(let v): JSONWriter.write(v, into: &out)
        case .raw(let buf, let start, let count): out.append(contentsOf: UnsafeRawBufferPointer(buf.bytes(start, count)))
        }
    }

    /// Size of the original bytes, or 0 for a parsed event (used for MB/s statistics).
    public var rawByteCount: Int {
        if case .raw(_, _, let count) = storage { return count }
        return 0
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
