import SluiceJSON

/// A processor in a stream: filter, enrich, window, pattern, or a custom step.
///
/// A step instance belongs to one stage and is only ever called from that stage's
/// thread, in order, so its state needs no locks. Steps are synchronous: they receive one
/// event at a time and append what they produce to a ``StepOutput``. Only
/// ``process(_:into:)`` is required; a stateful step also overrides
/// ``advance(watermark:into:)`` to emit what a watermark completes (windows closing,
/// patterns timing out). The end of input arrives as a watermark of `Int64.max`.
///
/// ```
///   event ──▶ process ──▶ out.emit(...)            main output, to the next step
///                     └─▶ out.reject(...) / out.side(port, ...)   side outputs
///   watermark ──▶ advance ──▶ out.emit(...)        whatever the watermark closes
/// ```
public protocol Step: AnyObject {
    /// Handles one event.
    func process(_ event: Event, into out: inout StepOutput)
    /// Handles a batch of events in order, with the same results as calling
    /// ``process(_:into:)`` on each (which the default does).
    func process(batch events: [Event], into out: inout StepOutput)
    /// Event time has advanced to `watermark` (epoch ms; `Int64.max` at the end).
    func advance(watermark: Int64, into out: inout StepOutput)
    /// Open state, for stats and bounds checks (open windows, partial matches, keys).
    var stateSize: Int { get }
    /// What the step counts beyond events in and out, by name, for `--stats` (keys a
    /// bounded `dedupe` evicted, events a full `reorder` emitted early). The default: none.
    var counters: [(name: String, value: Int)] { get }
}

/// What the runtime may assume about a kind of step, declared once on its definition
/// (`StepDefinition.traits`) rather than asked of instances.
public struct StepTraits: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// The step keeps nothing from one event to the next (filter, map, enrich, validate,
    /// route): what it does with an event depends on that event alone. A keyed stream
    /// made only of such steps holds no key's state in any one partition, so its batches
    /// may go to whichever worker is free (see ``Dataflow/addPartitioner(name:count:dealsByLoad:hash:)``).
    public static let stateless = StepTraits(rawValue: 1)
    /// The step's results depend on the watermark (windows, patterns, reorder, dedupe).
    /// Its stream advances time event by event, as the source saw it, so results do not
    /// depend on how input happened to be cut into batches.
    public static let usesWatermarks = StepTraits(rawValue: 2)
}

extension Step {
    public func process(batch events: [Event], into out: inout StepOutput) {
        for i in events.indices { process(events[i], into: &out) }
    }
    public func advance(watermark: Int64, into out: inout StepOutput) {}
    public var stateSize: Int { 0 }
    public var counters: [(name: String, value: Int)] { [] }
}

/// A step that hands work to something outside the run and hears back later (a Kafka
/// output's messages and their delivery reports): before a checkpoint barrier passes its
/// stream, and once when the stream stops (its input ended, or the run was stopped), the
/// stage calls ``drain(into:)``, which waits for that work and emits what it learnt (the
/// events that failed, to `rejected`), so that a checkpoint covers them and none is lost
/// at the end.
package protocol DrainingStep: Step {
    /// Waits for the work handed out so far and emits its outcome.
    func drain(into out: inout StepOutput)
}

/// A step on a hot path that reads events where they are instead of taking a copy
/// (built-in steps only). The runtime finds out once, when it builds a stream's chain,
/// whether a step is one; it then lends events in place, event by event, to
/// time-sensitive steps.
@usableFromInline package protocol InPlaceStep: Step {
    /// Handles the event at `event`, with the same results as ``process(_:into:)`` on
    /// `event.pointee` (which the default does). The event stays valid and unchanged for
    /// the call. Passing an event that lives in a batch's storage to ``process(_:into:)``
    /// copies it (the caller cannot prove the call leaves the storage alone), which costs
    /// a reference count per buffer the event holds; a step on a hot path overrides this
    /// to read the event where it is. Stages call it for time-sensitive steps, which they
    /// drive event by event.
    func process(at event: UnsafePointer<Event>, into out: inout StepOutput)
    /// A hint that `event` will be processed soon (a couple of events from now, in the
    /// same batch): a step whose per-event work waits on memory (key tables, the event's
    /// own fields) may start loading it, so that the wait overlaps the events before.
    /// Must not change anything; the default does nothing. Stages call it for
    /// time-sensitive steps, which they drive event by event.
    func prefetch(upcoming event: UnsafePointer<Event>)
    /// Runs a stamped batch (each event carries the source's watermark just before it,
    /// ``Event/watermark``): for each event, advances to its watermark when that is above
    /// `mark` (and raises `mark`), then handles the event in place, hinting at the events
    /// two places on. The default (``runStamped(_:mark:into:)``) is what a stage did
    /// event by event; a step on a hot path implements it by calling that same function,
    /// so that it is specialized for the step and its per-event calls are direct.
    func process(stamped batch: UnsafeBufferPointer<Event>, mark: inout Int64, into out: inout StepOutput)
}

extension InPlaceStep {
    @usableFromInline package func process(batch events: [Event], into out: inout StepOutput) {
        // Lent from the array's storage: no copy per event.
        events.withUnsafeBufferPointer { batch in
            guard let base = batch.baseAddress else { return }
            for j in batch.indices { process(at: base + j, into: &out) }
        }
    }
    @usableFromInline package func process(at event: UnsafePointer<Event>, into out: inout StepOutput) {
        process(event.pointee, into: &out)
    }
    @usableFromInline package func prefetch(upcoming event: UnsafePointer<Event>) {}
    @usableFromInline package func process(
        stamped batch: UnsafeBufferPointer<Event>, mark: inout Int64, into out: inout StepOutput
    ) {
        runStamped(batch, mark: &mark, into: &out)
    }

    /// ``process(stamped:mark:into:)``'s loop.
    @inlinable @inline(__always)
    package func runStamped(_ batch: UnsafeBufferPointer<Event>, mark: inout Int64, into out: inout StepOutput) {
        guard let base = batch.baseAddress else { return }
        let ahead = 2
        for j in 0..<min(ahead, batch.count) { prefetch(upcoming: base + j) }
        for j in batch.indices {
            if j + ahead < batch.count { prefetch(upcoming: base + j + ahead) }
            let m = base[j].watermark
            if m > mark {
                mark = m
                out.watermark = m
                advance(watermark: m, into: &out)
            }
            process(at: base + j, into: &out)
        }
    }
}

/// The side outputs every stream has, at fixed port numbers; route branches and custom
/// side outputs take the numbers after these.
public enum SidePort {
    /// `STREAM.rejected`: validation failures and expression errors.
    public static let rejected = 0
    /// `STREAM.late`: events behind the watermark.
    public static let late = 1
    /// `STREAM.timeouts`: expired partial pattern matches.
    public static let timeouts = 2
    /// The first port number free for route branches and other named side outputs.
    public static let firstCustom = 3
}

/// Where a step puts its results: the main output and side outputs.
public struct StepOutput {
    /// Events for the next step.
    public var events: [Event] = []
    /// Events for side outputs, with their port numbers (see ``SidePort``).
    public var sides: [(port: Int, event: Event)] = []
    /// The current watermark of the stage (epoch ms), for steps that classify lateness.
    public var watermark: Int64 = Int64.min
    /// Counters for the step being run, read by `--stats`.
    @usableFromInline package var rejectedCount = 0
    /// Events the step dropped on purpose as invalid (`validate` with `on_invalid:
    /// drop`), for `--stats`; a filter's ordinary drops are not counted here.
    @usableFromInline package var droppedCount = 0
    /// Set by a step that must end the run (`validate` with `on_invalid: stop`): the
    /// run stops with this message and exit code 1, after passing on what is already out.
    @usableFromInline package var stopRequested: String?

    public init() {}

    /// Passes `event` on to the next step. Consuming: a step that made `event` (or a
    /// changed copy) hands it over without another reference-count round trip.
    @inlinable
    public mutating func emit(_ event: consuming Event) { events.append(event) }

    /// Sends `event` to side output `port`.
    @inlinable
    public mutating func side(_ port: Int, _ event: consuming Event) { sides.append((port, event)) }

    /// Ends the run with a runtime failure: `message` is printed, exit code 1.
    public mutating func stop(_ message: String) {
        if stopRequested == nil { stopRequested = message }
    }

    /// Sends `event` to the stream's `rejected` output, wrapped as docs/errors.md says:
    /// `{"error":{"step":...,"message":...,"violations":[...]},"event":{...}}`.
    public mutating func reject(_ event: Event, step: String, message: String, violations: [JSON]? = nil) {
        sides.append((SidePort.rejected, Event.wrapError(event, step: step, message: message, violations: violations)))
        rejectedCount += 1
    }
}

extension Event {
    /// The dead-letter form of a rejected event (docs/errors.md). `line`, when given, is
    /// the input line the event came from (for errors found at the source, such as an
    /// unreadable event time).
    @usableFromInline package static func wrapError(
        _ event: Event, step: String, message: String, violations: [JSON]? = nil, line: Int? = nil
    ) -> Event {
        var err = JSONObject(minimumCapacity: 4)
        err.appendUnchecked(key: "step", value: .string(step))
        err.appendUnchecked(key: "message", value: .string(message))
        if let violations { err.appendUnchecked(key: "violations", value: .array(violations)) }
        if let line, line > 0 { err.appendUnchecked(key: "line", value: .int(Int64(line))) }
        var o = JSONObject(minimumCapacity: 2)
        o.appendUnchecked(key: "error", value: .object(err))
        o.appendUnchecked(key: "event", value: event.value)
        return Event(.object(o), time: event.time, line: event.line)
    }
}
