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
/// of the failed batch written.
package final class StoreAppendStep: Step {
    let spec: StoreAppendSpec
    let store: any EventStoreBackend
    let activation: EventActivation
    private(set) var appended = 0
    private(set) var duplicates = 0
    private(set) var conflicts = 0

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
        pending.reserveCapacity(events.count)
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
                out.reject(event, step: spec.name, message: error.message)
            }
        }
        let results: [AppendResult]
        do {
            results = try store.append(pending, now: currentMillis())
        } catch {
            out.stop("output '\(spec.name)': \(error.message)")
            return
        }
        for (k, r) in results.enumerated() {
            switch r {
            case .appended: appended += 1
            case .duplicate: duplicates += 1
            case .conflict(let actual):
                conflicts += 1
                let e = pending[k]
                out.sides.append((SidePort.rejected, conflictEvent(events[sources[k]], e, actual: actual)))
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
