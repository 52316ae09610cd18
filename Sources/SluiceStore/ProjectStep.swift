import SluiceCEL
import SluiceCore
import SluiceJSON
import SluiceSteps

/// What a `project` output computes (docs/event-sourcing.md, "Projections").
package struct ProjectionSpec: Sendable {
    /// Where an event's position comes from.
    package enum Position: Sendable {
        /// An expression giving an integer that grows with every event (by default
        /// `_store.position`, the store's global position).
        case expression(Expression)
        /// The event's ordinal in the run: the Nth event the output receives has
        /// position N (for inputs that replay the same events from their start).
        case arrival
    }

    /// One `on:` rule: the first whose condition holds decides what an event does.
    package struct Rule: Sendable {
        package var when: Expression?
        /// Column index (into the table's columns) and the expression that sets it.
        package var set: [(column: Int, expression: Expression)]
        package var delete: Bool

        package init(when: Expression?, set: [(column: Int, expression: Expression)], delete: Bool) {
            self.when = when
            self.set = set
            self.delete = delete
        }
    }

    /// The output's name, for messages and the `error.step` of rejected events.
    package var name: String
    package var table: ProjectionTable
    package var key: Expression
    package var position: Position
    package var rules: [Rule]
    /// The name the current row is bound to in `set:` expressions.
    package static let rowName = "row"

    package init(name: String, table: ProjectionTable, key: Expression, position: Position, rules: [Rule]) {
        self.name = name
        self.table = table
        self.key = key
        self.position = position
        self.rules = rules
    }
}

/// The work of a `project` output: folds each batch of events into the projection
/// table in one transaction, with the position of the last event applied.
///
/// Per event: its position (events at or below the position stored when the output
/// started were applied by an earlier run and are skipped); the first rule whose `when`
/// holds; the key; then every `set:` expression, over the event and `row` (the row's
/// current values, or the columns' initial values for a new row), all evaluated before
/// any is stored, or `delete`. An event whose expressions fail, or whose values do not
/// fit their columns, changes nothing and goes to `OUTPUT.rejected` with the reason. A
/// database failure rolls the batch back and stops the run.
package final class ProjectStep: Step {
    let spec: ProjectionSpec
    let backend: any ProjectionBackend
    let activation: EventActivation
    /// The position stored when the output opened: events at or below it were applied.
    let startPosition: Int64
    /// The last position applied (committed or in the current batch).
    var lastPosition: Int64
    /// Events received this run, for ``ProjectionSpec/Position/arrival``.
    var arrivals: Int64 = 0
    private(set) var applied = 0
    private(set) var deleted = 0
    private(set) var skipped = 0
    private(set) var ignored = 0
    private(set) var rejected = 0

    /// The rows read or written so far, by key: their values (nil: absent or deleted).
    /// At most ``cachedRows`` are kept.
    var rows: [String: [JSON]?] = [:]
    /// The keys whose rows the current batch must write.
    var dirty = Set<String>()
    static let cachedRows = 100_000
    let initialRow: [JSON]

    /// A step folding into `backend`, whose stored position is `startPosition` (read by
    /// the caller with ``ProjectionBackend/position()`` when it opened the backend).
    package init(spec: ProjectionSpec, backend: any ProjectionBackend, startPosition: Int64) {
        self.spec = spec
        self.backend = backend
        self.startPosition = startPosition
        lastPosition = startPosition
        initialRow = spec.table.columns.map(\.initial)
        var all = [spec.key]
        if case .expression(let e) = spec.position { all.append(e) }
        for r in spec.rules {
            if let w = r.when { all.append(w) }
            all += r.set.map(\.expression)
        }
        activation = spec.key.compiler.activation(prefetching: all)
    }

    package var counters: [(name: String, value: Int)] {
        [
            ("applied", applied), ("deleted", deleted), ("skipped", skipped), ("ignored", ignored),
            ("rejected", rejected),
        ]
    }

    package func process(_ event: Event, into out: inout StepOutput) {
        process(batch: [event], into: &out)
    }

    package func process(batch events: [Event], into out: inout StepOutput) {
        let before = lastPosition
        var changed = false
        var rejects: [(Event, String)] = []
        do throws(StoreError) {
            try backend.begin()
            // Rows read in earlier batches stay valid while no one else has written the
            // projection (its position is still the one this step committed).
            if try backend.position() != lastPosition || rows.count > Self.cachedRows { rows.removeAll() }
            for event in events {
                activation.event = event
                do throws(Reject) {
                    if try apply(event) { changed = true }
                } catch {
                    if let failure = readFailure { throw failure }
                    rejects.append((event, error.message))
                }
            }
            for key in dirty {
                if case .some(.some(let values)) = rows[key] {
                    try backend.upsert(key: key, values: values)
                } else {
                    try backend.delete(key: key)
                }
            }
            if changed || lastPosition != before { try backend.setPosition(lastPosition) }
            try backend.commit()
        } catch {
            backend.rollback()
            rows.removeAll()
            dirty.removeAll()
            readFailure = nil
            lastPosition = before
            out.stop("output '\(spec.name)': \(error.message)")
            return
        }
        dirty.removeAll(keepingCapacity: true)
        for (event, message) in rejects {
            rejected += 1
            out.reject(event, step: spec.name, message: message)
        }
    }

    /// Why an event was not applied: it goes to `rejected` with this message.
    struct Reject: Error { var message: String }
    /// A database failure met while folding an event (not the event's fault): it stops
    /// the run like any other.
    var readFailure: StoreError?

    /// Folds one event into ``rows``; true when it changed a row. Throws, having changed
    /// nothing, when an expression fails or a value does not fit.
    func apply(_ event: Event) throws(Reject) -> Bool {
        arrivals += 1
        let position: Int64
        switch spec.position {
        case .arrival: position = arrivals
        case .expression(let e):
            switch try value(e, "position") {
            case .int(let p): position = p
            case .double(let d) where d == d.rounded() && abs(d) < 9e18: position = Int64(d)
            case let v:
                throw Reject(message: "position '\(e.source)' must give an integer, got \(v.kindName)")
            }
        }
        if position <= startPosition {
            skipped += 1
            return false
        }
        if position <= lastPosition {
            throw Reject(
                message:
                    "position \(position) is not after \(lastPosition), the last applied: a projection needs its events in position order"
            )
        }
        // From here the event is consumed, whatever becomes of it: applied, ignored (no
        // rule), or rejected.
        lastPosition = position
        var rule: ProjectionSpec.Rule?
        for r in spec.rules {
            guard let w = r.when else {
                rule = r
                break
            }
            let hit: Bool
            do {
                hit = try w.evaluateBool(activation)
            } catch {
                throw Reject(message: "when '\(w.source)': \(error.message)")
            }
            if hit {
                rule = r
                break
            }
        }
        guard let rule else {
            ignored += 1
            return false
        }
        let key: String
        switch try value(spec.key, "key") {
        case .string(let s) where !s.isEmpty: key = s
        case .int(let i): key = String(i)
        case let v:
            throw Reject(
                message: "key '\(spec.key.source)' must give a non-empty string or an integer, got \(v.kindName)")
        }
        let current: [JSON]?
        if let cached = rows[key] {
            current = cached
        } else {
            do {
                current = try backend.row(key: key)
            } catch {
                readFailure = error
                throw Reject(message: error.message)
            }
            rows[key] = .some(current)
        }
        if rule.delete {
            if current != nil { deleted += 1 }
            rows[key] = .some(nil)
            dirty.insert(key)
            return true
        }
        var values = current ?? initialRow
        if !rule.set.isEmpty {
            activation.bindings[ProjectionSpec.rowName] = rowValue(key: key, values: values)
            defer { activation.bindings.removeAll() }
            var computed: [(Int, JSON)] = []
            computed.reserveCapacity(rule.set.count)
            for (column, e) in rule.set {
                let col = spec.table.columns[column]
                let v = try value(e, "column '\(col.name)'")
                switch col.type.coerce(v) {
                case .success(let fit): computed.append((column, fit))
                case .failure(let f):
                    throw Reject(message: "column '\(col.name)' ('\(e.source)'): \(f.message)")
                }
            }
            for (column, v) in computed { values[column] = v }
        }
        rows[key] = .some(values)
        dirty.insert(key)
        applied += 1
        return true
    }

    /// The row as the CEL map `row`: the key column and every column.
    func rowValue(key: String, values: [JSON]) -> CELValue {
        var m = CELMap(minimumCapacity: values.count + 1)
        m.insertOrReplace(.string(spec.table.keyColumn), .string(key))
        for (c, v) in zip(spec.table.columns, values) { m.insertOrReplace(.string(c.name), CELValue(json: v)) }
        return .map(m)
    }

    /// `e` evaluated as JSON, or a rejection naming `what`.
    func value(_ e: Expression, _ what: String) throws(Reject) -> JSON {
        do {
            return try e.evaluateJSON(activation)
        } catch {
            throw Reject(message: "\(what) '\(e.source)': \(error.message)")
        }
    }
}
