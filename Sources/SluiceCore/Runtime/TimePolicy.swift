import SluiceJSON

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a source stamps events with time and derives watermarks (docs/pipeline-language.md, "Event time").
///
/// ```
///  event time:       time = f(event); watermark = max time seen - lateness; +inf at the end
///  processing time:  time = wall clock at arrival; watermark = wall clock (also on idle ticks)
/// ```
@usableFromInline package enum TimePolicy: Sendable {
    /// Events carry their time; `assign` reads it (epoch ms) or says why it cannot.
    /// `indexed`, when set, reads the usual time (a plain integer in a field the reader
    /// indexed) where it is, without calling `assign`, which reads every other event.
    case eventTime(
        assign: @Sendable (Event) -> Result<Int64, TimeError>, lateness: Int64, indexed: IndexedTime? = nil)
    /// Time is the wall clock when an event arrives.
    case processingTime

    /// The current wall-clock time in epoch milliseconds.
    @usableFromInline package static func nowMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

/// An event time that is a plain field of the reader's ``FieldIndex``: what
/// ``TimePolicy/eventTime(assign:lateness:indexed:)``'s `assign` reads first, read by the
/// source without a call, a copy of the event or a `Result` per event. It answers only
/// where `assign` would answer the same from the same bytes (a raw event read with
/// `index`, the field a plain integer whose milliseconds do not overflow); nil sends
/// the event to `assign`.
@usableFromInline package struct IndexedTime: Sendable {
    @usableFromInline let index: FieldIndex
    @usableFromInline let slot: Int
    /// Milliseconds are the field's value times `multiplier`, divided by `divisor`
    /// (rounded toward zero); one of the two is 1.
    @usableFromInline let multiplier: Int64
    @usableFromInline let divisor: Int64

    package init(index: FieldIndex, slot: Int, multiplier: Int64, divisor: Int64) {
        self.index = index
        self.slot = slot
        self.multiplier = multiplier
        self.divisor = divisor
    }

    /// The time of the event at `event` in epoch milliseconds, or nil (ask `assign`).
    @inline(__always)
    package func millis(of event: UnsafePointer<Event>) -> Int64? {
        guard let (bytes, offsets) = Event.rawView(at: event, for: index), case .offset(let o) = offsets[slot],
            o < bytes.count, let v = JSONParser.plainInteger(UnsafeRawBufferPointer(rebasing: bytes[o...]))
        else { return nil }
        if multiplier != 1 {
            let (m, overflow) = v.multipliedReportingOverflow(by: multiplier)
            return overflow ? nil : m
        }
        return divisor == 1 ? v : v / divisor
    }
}

/// Why an event has no usable time.
@usableFromInline package struct TimeError: Error, Sendable {
    @usableFromInline package var message: String
    @usableFromInline package init(_ message: String) { self.message = message }
}
