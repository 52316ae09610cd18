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
    case eventTime(assign: @Sendable (Event) -> Result<Int64, TimeError>, lateness: Int64)
    /// Time is the wall clock when an event arrives.
    case processingTime

    /// The current wall-clock time in epoch milliseconds.
    @usableFromInline package static func nowMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

/// Why an event has no usable time.
@usableFromInline package struct TimeError: Error, Sendable {
    @usableFromInline package var message: String
    @usableFromInline package init(_ message: String) { self.message = message }
}
