import SluiceCore
import SluiceJSON
import Synchronization

/// The destination of side outputs that no stream or output reads: counted always, and
/// written to the `--dlq` file when one is given. Several ports share one file, so writes
/// go through a lock (dead letters are rare; the lock is not on a hot path).
@usableFromInline package final class DeadLetterFile: Sendable {
    let sink: Mutex<JSONLinesSink?>

    /// A file sink for dead letters, or nil to only count them. With `resumeAt` (a
    /// checkpoint's ``commit()``), the file is cut back to the length recorded.
    @usableFromInline package init(path: String?, resumeAt: [UInt8]? = nil) throws {
        if let path {
            sink = Mutex(try JSONLinesSink(name: "dlq", target: .file(path: path, append: false), resumeAt: resumeAt))
        } else {
            sink = Mutex(nil)
        }
    }

    /// Flushes and fsyncs the file; its length (empty without a file).
    func commit() throws -> [UInt8] {
        try sink.withLock { s in try s?.commit() ?? [] }
    }

    /// True when records are written (a path was given), not only counted.
    var writes: Bool { sink.withLock { $0 != nil } }

    func write(_ events: [Event]) throws {
        try sink.withLock { s in
            guard let s else { return }
            try s.write(events)
            try s.flush()
        }
    }
}

/// Why the events of one side output went there: a count per reason (the error message),
/// with the input line of the first event of each. Bounded: past ``maxReasons``
/// distinct reasons, the rest are counted together as "other reasons".
@usableFromInline package struct DeadLetterReasons: Sendable {
    /// Distinct reasons kept.
    @usableFromInline package static let maxReasons = 100

    /// One reason: how many events, and the input line of the first (0 when unknown).
    @usableFromInline package struct Entry: Sendable, Equatable {
        @usableFromInline package var reason: String
        @usableFromInline package var count: Int
        @usableFromInline package var firstLine: Int
    }

    var entries: [Entry] = []
    var index: [String: Int] = [:]
    /// Events whose reason did not fit in the table.
    @usableFromInline package private(set) var other = 0

    @usableFromInline package init() {}

    /// Counts one event with `reason`, from input line `line`.
    @usableFromInline package mutating func note(_ reason: String, line: Int) {
        if let i = index[reason] {
            entries[i].count += 1
            if entries[i].firstLine == 0 { entries[i].firstLine = line }
        } else if entries.count < Self.maxReasons {
            index[reason] = entries.count
            entries.append(Entry(reason: reason, count: 1, firstLine: line))
        } else {
            other += 1
        }
    }

    /// The reasons, most frequent first (ties in first-seen order).
    @usableFromInline package var sorted: [Entry] {
        entries.enumerated().sorted { ($1.element.count, $0.offset) < ($0.element.count, $1.offset) }.map(\.element)
    }

    /// `no such field 'card': 1000, first at line 1; ...`: the `limit` most frequent
    /// reasons, then how many events had other reasons. Empty when no event had a reason.
    @usableFromInline package func summary(limit: Int = 3) -> String {
        let all = sorted
        guard !all.isEmpty else { return "" }
        var parts = all.prefix(limit).map { e in
            e.firstLine > 0 ? "\(e.reason): \(e.count), first at line \(e.firstLine)" : "\(e.reason): \(e.count)"
        }
        let rest = all.dropFirst(limit).reduce(0) { $0 + $1.count } + other
        if rest > 0 { parts.append("\(rest) with other reasons") }
        return parts.joined(separator: "; ")
    }
}

/// Counts (and, with a ``DeadLetterFile``, writes) the events of one unread side output,
/// such as `in.malformed` or `main.rejected`, and tallies why they went there.
///
/// Each record written says where it came from: `"from"` is the side output's name as a
/// pipeline's `from:` would read it (`main.rejected`), followed by the side output's own
/// form. Events that reach a side output unwrapped are wrapped: a late event as
/// `{"from":"main.late","error":{"message":"late: ...","line":N},"event":{...}}`, others
/// (route branches, timeouts) as `{"from":...,"event":...}`. The `error` of every record
/// carries the input line (`line`) when it is known.
@usableFromInline package final class DeadLetterSink: EventSink, Sendable {
    @usableFromInline package let name: String
    /// The side output's own name (`rejected`, `late`, `malformed`, a route branch).
    let side: Substring
    let file: DeadLetterFile
    let state = Mutex<(count: Int, reasons: DeadLetterReasons)>((0, DeadLetterReasons()))

    @usableFromInline package init(port: String, file: DeadLetterFile) {
        name = port
        self.file = file
        side = port.firstIndex(of: ".").map { port[port.index(after: $0)...] } ?? Substring(port)
    }

    /// Events seen so far.
    @usableFromInline package var count: Int { state.withLock { $0.count } }

    /// Why events went here so far.
    @usableFromInline package var reasons: DeadLetterReasons { state.withLock { $0.reasons } }

    @usableFromInline package func write(_ events: [Event]) throws {
        let writes = file.writes
        var records: [Event] = []
        if writes { records.reserveCapacity(events.count) }
        state.withLock { s in
            for e in events {
                s.count += 1
                let (record, reason, line) = describe(e, build: writes)
                if let reason { s.reasons.note(reason, line: line) }
                if let record { records.append(record) }
            }
        }
        if writes { try file.write(records) }
    }

    /// Dead letters are JSON lines like any output's; keeping this true lets keyed
    /// streams of stateless steps deal batches by load (see ``EventSink/writesJSONText``).
    /// The lines are read back as events (``EventSink/writeLines(_:count:)``'s default),
    /// which costs little: dead letters are the exception.
    @usableFromInline package var writesJSONText: Bool { true }

    /// The record for `event` (when `build`), its reason and its input line.
    func describe(_ event: Event, build: Bool) -> (record: Event?, reason: String?, line: Int) {
        var line = event.line
        if side == "late" {
            // Late events arrive as they were; wrapped here like the other side outputs.
            let message = "late: event time behind the watermark"
            guard build else { return (nil, message, line) }
            var err = JSONObject(minimumCapacity: 3)
            err.appendUnchecked(key: "message", value: .string(message))
            if event.time != Event.noTime { err.appendUnchecked(key: "time", value: .int(event.time)) }
            if line > 0 { err.appendUnchecked(key: "line", value: .int(Int64(line))) }
            return (record(["error": .object(err), "event": event.value], line: line), message, line)
        }
        // Only `rejected` and `malformed` hold wrapped errors; the events of other side
        // outputs (route branches, timeouts) are not parsed just to be counted.
        let wrapped = side == "rejected" || side == "malformed"
        guard wrapped || build else { return (nil, nil, line) }
        let value = event.value
        if wrapped, case .object(let o) = value, case .object(var err)? = o["error"],
            case .string(let message)? = err["message"]
        {
            if case .int(let l)? = err["line"], l > 0, l <= Int64(Int.max) { line = Int(l) }
            guard build else { return (nil, message, line) }
            if err["line"] == nil, line > 0 { err.appendUnchecked(key: "line", value: .int(Int64(line))) }
            var fields: [(String, JSON)] = []
            for (k, v) in zip(o.keys, o.values) { fields.append((k, k == "error" ? .object(err) : v)) }
            return (record(fields, line: line), message, line)
        }
        guard build else { return (nil, nil, line) }
        return (record(["event": value], line: line), nil, line)
    }

    func record(_ fields: KeyValuePairs<String, JSON>, line: Int) -> Event {
        record(fields.map { ($0.key, $0.value) }, line: line)
    }

    func record(_ fields: [(String, JSON)], line: Int) -> Event {
        var o = JSONObject(minimumCapacity: fields.count + 1)
        o.appendUnchecked(key: "from", value: .string(name))
        for (k, v) in fields where k != "from" { o.appendUnchecked(key: k, value: v) }
        return Event(.object(o), line: line)
    }
}

/// In a checkpointed run, the one sink every unread side output goes to, so that one
/// stage sees each barrier from all of them and records the `--dlq` file's length
/// between one checkpoint's records and the next (docs/checkpoints.md). Each input (an
/// edge into it, in order) is one side output's ``DeadLetterSink``, which counts and
/// writes as usual.
@usableFromInline package final class DeadLetterCollector: CheckpointedSink, InputAwareSink, Sendable {
    @usableFromInline package static let sinkName = "dead letters"
    @usableFromInline package var name: String { Self.sinkName }
    let file: DeadLetterFile
    /// The side output of each input.
    let inputs: [DeadLetterSink]

    @usableFromInline package init(file: DeadLetterFile, inputs: [DeadLetterSink]) {
        self.file = file
        self.inputs = inputs
    }

    @usableFromInline package func write(_ events: [Event]) throws {
        try inputs.first?.write(events)
    }

    @usableFromInline package func write(_ events: [Event], input: Int) throws {
        guard inputs.indices.contains(input) else { return try write(events) }
        try inputs[input].write(events)
    }

    @usableFromInline package func commit() throws -> [UInt8] { try file.commit() }
}
