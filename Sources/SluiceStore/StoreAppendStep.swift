import Dispatch
import SluiceCEL
import SluiceCore
import SluiceJSON
import SluiceSteps

/// What a `store` output computes per event (docs/event-sourcing.md, "The store output").
package struct StoreAppendSpec: Sendable {
    /// The output's name, for messages and the `error.step` of rejected events.
    package var name: String
    package var stream: Expression
    package var id: Expression
    package var type: Expression
    package var expectedVersion: Expression?
    package var schemaVersion: Expression?

    package init(
        name: String, stream: Expression, id: Expression, type: Expression, expectedVersion: Expression?,
        schemaVersion: Expression?
    ) {
        self.name = name
        self.stream = stream
        self.id = id
        self.type = type
        self.expectedVersion = expectedVersion
        self.schemaVersion = schemaVersion
    }
}

/// The work of a `store` output: appends each batch it is handed to the store in one
/// transaction. Events whose expressions fail, and appends whose `expected_version` does
/// not match, go to the `rejected` side output (`OUTPUT.rejected`); an event already
/// stored (same id) is skipped and counted. A store failure stops the run, with nothing
/// of the failed batch written (nor of any batch after it).
///
/// Appends run on a queue of their own, so that the store's work on one batch overlaps
/// the expressions and serialisation of the next: a batch of ``overlapMinimum`` events or
/// more is handed to the queue and committed there at once, and what came of it (its
/// rejected events and conflicts, in the order they would have had) is emitted when the
/// stage hands over the next batch, or drains (before a checkpoint barrier, and at the
/// end). A smaller batch (a slow input) is waited for, its outcome emitted with it. The
/// store is used by one thread at a time: the queue's, one append after another.
package final class StoreAppendStep: DrainingStep {
    let spec: StoreAppendSpec
    let store: any EventStoreBackend
    let activation: EventActivation
    private(set) var appended = 0
    private(set) var duplicates = 0
    private(set) var conflicts = 0

    /// Batches of at least this many events are appended while the next is prepared.
    static let overlapMinimum = 64

    /// The batch being appended on ``queue``, whose outcome is not emitted yet.
    private var inFlight: InFlight?
    /// Set when an append failed: nothing more is appended.
    private var failed = false
    private let queue = DispatchQueue(label: "sluice.store-append")

    /// An append handed to the queue: its events, as `process` prepared them, and its result.
    struct InFlight {
        var events: [Event]
        /// The index in `events` of each of `pending`'s events.
        var sources: [Int]
        var pending: [NewEvent]
        /// Events whose expressions failed (index in `events`, message), in order.
        var rejects: [(Int, String)]
        var outcome: Outcome
    }

    /// The result of an append, written on the queue before `done` is signalled and read
    /// by the stage after waiting for it.
    final class Outcome: @unchecked Sendable {
        var result: Result<[AppendResult], StoreError> = .success([])
        let done = DispatchSemaphore(value: 0)
    }

    package init(spec: StoreAppendSpec, store: any EventStoreBackend) {
        self.spec = spec
        self.store = store
        var all = [spec.stream, spec.id, spec.type]
        if let e = spec.expectedVersion { all.append(e) }
        if let e = spec.schemaVersion { all.append(e) }
        activation = spec.stream.compiler.activation(prefetching: all)
    }

    package var counters: [(name: String, value: Int)] {
        [("appended", appended), ("duplicates", duplicates), ("conflicts", conflicts)]
    }

    package func process(_ event: Event, into out: inout StepOutput) {
        process(batch: [event], into: &out)
    }

    package func process(batch events: [Event], into out: inout StepOutput) {
        var pending: [NewEvent] = []
        var sources: [Int] = []
        var rejects: [(Int, String)] = []
        pending.reserveCapacity(events.count)
        sources.reserveCapacity(events.count)
        var text: [UInt8] = []
        for (i, event) in events.enumerated() {
            activation.event = event
            do throws(StoreReject) {
                let stream = try key(spec.stream, "stream")
                let id = try key(spec.id, "id")
                let type = try string(spec.type, "type")
                let expected = try spec.expectedVersion.map { e throws(StoreReject) in
                    try int(e, "expected_version", min: 0)
                }
                let schema =
                    try spec.schemaVersion.map { e throws(StoreReject) in try int(e, "schema_version", min: 1) } ?? 1
                text.removeAll(keepingCapacity: true)
                event.write(into: &text)
                pending.append(
                    NewEvent(
                        streamID: stream, eventID: id, type: type, schemaVersion: schema,
                        eventTime: event.time == Event.noTime ? currentMillis() : event.time, data: text,
                        expectedVersion: expected, serialized: true))
                sources.append(i)
            } catch {
                rejects.append((i, error.message))
            }
        }
        // The previous batch's outcome comes first, as it would have without the overlap.
        collect(into: &out)
        let batch = InFlight(events: events, sources: sources, pending: pending, rejects: rejects, outcome: Outcome())
        guard !failed, !pending.isEmpty else {
            emit(batch, [], into: &out)
            return
        }
        let store = self.store
        let outcome = batch.outcome
        let now = currentMillis()
        let events = pending
        queue.async {
            do throws(StoreError) {
                outcome.result = .success(try store.append(events, now: now))
            } catch {
                outcome.result = .failure(error)
            }
            outcome.done.signal()
        }
        inFlight = batch
        if events.count < Self.overlapMinimum { collect(into: &out) }
    }

    /// Waits for the append in flight, if any, and emits its outcome; then lets the store
    /// write what it keeps for later (SQLite's stream versions).
    package func drain(into out: inout StepOutput) {
        collect(into: &out)
        guard !failed else { return }
        do {
            try store.flush()
        } catch {
            failed = true
            out.stop("output '\(spec.name)': \(error.message)")
        }
    }

    func collect(into out: inout StepOutput) {
        guard let batch = inFlight else { return }
        inFlight = nil
        batch.outcome.done.wait()
        switch batch.outcome.result {
        case .success(let results):
            emit(batch, results, into: &out)
        case .failure(let error):
            failed = true
            emit(batch, [], into: &out)
            out.stop("output '\(spec.name)': \(error.message)")
        }
    }

    /// A batch's rejected events, then its conflicts, and its counts.
    func emit(_ batch: InFlight, _ results: [AppendResult], into out: inout StepOutput) {
        for (i, message) in batch.rejects { out.reject(batch.events[i], step: spec.name, message: message) }
        for (k, r) in results.enumerated() {
            switch r {
            case .appended: appended += 1
            case .duplicate: duplicates += 1
            case .conflict(let actual):
                conflicts += 1
                let e = batch.pending[k]
                out.sides.append((SidePort.rejected, conflictEvent(batch.events[batch.sources[k]], e, actual: actual)))
                out.rejectedCount += 1
            }
        }
    }

    /// The rejected form of a conflicting append: the usual `{"error": ..., "event": ...}`
    /// with the stream and both versions in `error`.
    func conflictEvent(_ event: Event, _ e: NewEvent, actual: Int64) -> Event {
        var err = JSONObject(minimumCapacity: 6)
        err.appendUnchecked(key: "step", value: .string(spec.name))
        err.appendUnchecked(
            key: "message",
            value: .string(
                "version conflict on stream '\(e.streamID)': expected version \(e.expectedVersion ?? 0), the stream is at \(actual)"
            ))
        err.appendUnchecked(key: "stream", value: .string(e.streamID))
        err.appendUnchecked(key: "expected_version", value: .int(e.expectedVersion ?? 0))
        err.appendUnchecked(key: "actual_version", value: .int(actual))
        var o = JSONObject(minimumCapacity: 2)
        o.appendUnchecked(key: "error", value: .object(err))
        o.appendUnchecked(key: "event", value: event.value)
        return Event(.object(o), time: event.time, line: event.line)
    }

    struct StoreReject: Error { var message: String }

    func value(_ e: Expression, _ what: String) throws(StoreReject) -> JSON {
        do {
            return try e.evaluateJSON(activation)
        } catch {
            throw StoreReject(message: "\(what) '\(e.source)': \(error.message)")
        }
    }

    /// A stream id or event id: a string, or an integer written as one.
    func key(_ e: Expression, _ what: String) throws(StoreReject) -> String {
        switch try value(e, what) {
        case .string(let s) where !s.isEmpty: return s
        case .int(let i): return String(i)
        case let v:
            throw StoreReject(
                message: "\(what) '\(e.source)' must give a non-empty string or an integer, got \(v.kindName)")
        }
    }

    func string(_ e: Expression, _ what: String) throws(StoreReject) -> String {
        switch try value(e, what) {
        case .string(let s) where !s.isEmpty: return s
        case let v: throw StoreReject(message: "\(what) '\(e.source)' must give a non-empty string, got \(v.kindName)")
        }
    }

    func int(_ e: Expression, _ what: String, min: Int64) throws(StoreReject) -> Int64 {
        switch try value(e, what) {
        case .int(let i) where i >= min: return i
        case .double(let d) where d == d.rounded() && d >= Double(min) && d < 9e18: return Int64(d)
        case let v:
            throw StoreReject(
                message: "\(what) '\(e.source)' must give an integer of at least \(min), got \(v.kindName)")
        }
    }
}
