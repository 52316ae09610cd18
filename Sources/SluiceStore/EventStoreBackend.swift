#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where an event store lives: a SQLite file or a PostgreSQL database
/// (docs/event-sourcing.md, "Backends").
package enum StoreLocation: Sendable, Equatable, CustomStringConvertible {
    /// A SQLite file (resolved against the pipeline's folder).
    case sqlite(String)
    /// A libpq connection string, usually a `postgres://` URL.
    case postgres(String)

    /// How messages name the store: the file, or the URL with its password hidden.
    package var description: String {
        switch self {
        case .sqlite(let path): return path
        case .postgres(let url): return redactedConnectionString(url)
        }
    }

    /// Opens the store for appending, creating its tables when they are missing.
    package func openForAppend() throws(StoreError) -> any EventStoreBackend {
        switch self {
        case .sqlite(let path): return try SQLiteEventStore.openForAppend(path: path)
        case .postgres(let url): return try PostgresEventStore.open(url, forAppend: true)
        }
    }

    /// Opens an existing store for reading; `follow` prepares waiting for new appends.
    package func openForReading(follow: Bool = false) throws(StoreError) -> any EventStoreBackend {
        switch self {
        case .sqlite(let path): return try SQLiteEventStore.openForReading(path: path)
        case .postgres(let url): return try PostgresEventStore.open(url, forAppend: false, listen: follow)
        }
    }
}

/// What the `store` output and the `store` input need of a backend: appends in one
/// transaction, reads in global order, and a wait for new appends. One thread uses a
/// backend at a time.
package protocol EventStoreBackend: AnyObject, Sendable {
    /// Appends `batch` in one transaction: all of it is stored or (on an error) none of it.
    /// Duplicates (by event id) and version conflicts write nothing for that event and are
    /// reported in its result; the other events are appended.
    func append(_ batch: [NewEvent], now: Int64) throws(StoreError) -> [AppendResult]

    /// Calls `body` with each event matching `start` at a position after `after`, in global
    /// order, at most `limit` of them; returns how many it read. A row is only valid
    /// during its call.
    func replay(_ start: ReplayStart, after: Int64, limit: Int, _ body: (any StoredEventRow) throws -> Void) throws
        -> Int

    /// Waits until new appends may have committed, at most `millis` milliseconds, returning
    /// early when `isCancelled` turns true.
    func waitForAppends(millis: Int, isCancelled: () -> Bool)

    /// The stream's current version: its number of events, 0 when it has none.
    func streamVersion(_ stream: String) throws(StoreError) -> Int64

    /// The highest global position, 0 for an empty store.
    func lastPosition() throws(StoreError) -> Int64

    /// Writes whatever the backend keeps for later that is not the events themselves
    /// (SQLite: the stream versions for `sluice_streams`). Called by the store output at
    /// checkpoints and at the end of its input; the default does nothing.
    func flush() throws(StoreError)

    func close()
}

extension EventStoreBackend {
    package func flush() throws(StoreError) {}

    /// Every event matching `start`, in global order (for tests and small stores).
    package func readAll(_ start: ReplayStart = .beginning) throws -> [StoredEvent] {
        var out: [StoredEvent] = []
        var last: Int64 = 0
        while true {
            let n = try replay(start, after: last, limit: 1000) { v in
                out.append(v.event)
                last = v.position
            }
            if n == 0 { return out }
        }
    }
}

/// One stored event being read, lent to a replay's callback.
package protocol StoredEventRow {
    var position: Int64 { get }
    var streamID: String { get }
    var version: Int64 { get }
    var eventID: String { get }
    var type: String { get }
    var schemaVersion: Int64 { get }
    var eventTime: Int64 { get }
    var appendedAt: Int64 { get }
    /// True when the store knows that Sluice's own serializer wrote the data (valid JSON),
    /// so a replay need not validate it; false when it does not know.
    var dataIsValidJSON: Bool { get }
    /// The event's JSON text, lent for the call.
    func withData<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R
    /// A text column's UTF-8 bytes, lent for the call (no String made).
    func withText<R>(_ column: StoredTextColumn, _ body: (UnsafeRawBufferPointer) -> R) -> R
}

/// The text columns of a stored event, numbered as both backends select them.
package enum StoredTextColumn: Int32, Sendable {
    case streamID = 1
    case eventID = 3
    case type = 4
}

extension StoredEventRow {
    /// A copy of the row that outlives the callback.
    package var event: StoredEvent {
        StoredEvent(
            position: position, streamID: streamID, version: version, eventID: eventID, type: type,
            schemaVersion: schemaVersion, eventTime: eventTime, appendedAt: appendedAt,
            data: withData { String(decoding: $0, as: UTF8.self) })
    }
}

extension StoredEventView: StoredEventRow {}

extension SQLiteEventStore: EventStoreBackend {
    package func replay(
        _ start: ReplayStart, after: Int64, limit: Int, _ body: (any StoredEventRow) throws -> Void
    ) throws -> Int {
        try read(start, after: after, limit: limit) { try body($0) }
    }

    /// SQLite has no notifications: the wait is a sleep, in short steps.
    package func waitForAppends(millis: Int, isCancelled: () -> Bool) {
        sleepMillis(millis, isCancelled: isCancelled)
    }
}

/// Sleeps `millis` milliseconds in steps of at most 20 ms, stopping early on a cancel.
func sleepMillis(_ millis: Int, isCancelled: () -> Bool) {
    var waited = 0
    while waited < millis && !isCancelled() {
        let step = min(20, millis - waited)
        usleep(UInt32(step * 1000))
        waited += step
    }
}

/// A connection string with its password replaced by `***`, for messages: the
/// `user:password@` of a URL and any `password=` keyword.
package func redactedConnectionString(_ s: String) -> String {
    var text = s
    if let scheme = text.range(of: "://") {
        let rest = text[scheme.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        if let at = rest[..<authorityEnd].lastIndex(of: "@"),
            let colon = rest[..<at].firstIndex(of: ":")
        {
            text.replaceSubrange(text.index(after: colon)..<at, with: "***")
        }
    }
    // `password=...` in a URL's query or a keyword/value string.
    var out = ""
    var rest = Substring(text)
    while let r = rest.range(of: "password=") {
        out += rest[..<r.upperBound]
        out += "***"
        rest = rest[r.upperBound...]
        let end = rest.firstIndex { $0 == "&" || $0 == " " } ?? rest.endIndex
        rest = rest[end...]
    }
    return out + rest
}
