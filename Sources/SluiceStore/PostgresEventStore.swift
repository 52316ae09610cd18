#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An event store in a PostgreSQL database (docs/event-sourcing.md, "PostgreSQL"): the
/// first SQLite table layout with PostgreSQL's types, shared by several processes.
///
/// Every append transaction takes `LOCK TABLE events IN EXCLUSIVE MODE` (readers are not
/// blocked) and numbers its events from `MAX(position) + 1`. So positions are assigned in
/// commit order with no gap and never twice, and a reader that has seen position N has seen
/// every event before it: a follower reading `position > N` cannot skip a slower
/// transaction's events, as it could with a sequence.
package final class PostgresEventStore: @unchecked Sendable {
    /// The marker row in `sluice_store`: the first SQLite layout, which PostgreSQL keeps
    /// (docs/event-sourcing.md, "PostgreSQL").
    package static let layout = "sluice-events-1"

    /// The channel every append transaction notifies on commit; followers listen to it.
    static let channel = "sluice_events"

    package static let schema = """
        CREATE TABLE sluice_store (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE events (
            position BIGINT PRIMARY KEY,
            stream_id TEXT NOT NULL,
            stream_version BIGINT NOT NULL,
            event_id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            schema_version BIGINT NOT NULL,
            event_time BIGINT NOT NULL,
            data TEXT NOT NULL,
            appended_at BIGINT NOT NULL,
            UNIQUE (stream_id, stream_version)
        );
        CREATE INDEX events_event_time ON events (event_time);
        INSERT INTO sluice_store (key, value) VALUES ('layout', '\(layout)');
        """

    let connection: PostgresConnection
    let listening: Bool
    /// The streams' versions as of this connection's last commit, valid while the store's
    /// last position is still `cachedAt` (no other writer has appended since): they save
    /// the batch's version probes for the streams it saw before.
    private var cachedVersions: [String: Int64] = [:]
    private var cachedAt: Int64 = -1
    /// Beyond this many streams the cache starts over.
    static let versionCacheLimit = 100_000
    /// Whether a batch first asks which of its event ids are stored. Off until a batch
    /// meets a stored id (then on while batches keep meeting them): a batch of new events
    /// goes straight to COPY, and one with a stored id fails there on the unique index,
    /// is rolled back and is appended again with the question asked.
    private var probeIDs = false
    /// The store as messages name it (the URL without its password).
    package var name: String { connection.name }

    init(connection: PostgresConnection, listening: Bool) {
        self.connection = connection
        self.listening = listening
    }

    /// Connects to `url`. For appending, creates the tables when they are missing (one
    /// creator at a time, under an advisory lock); for reading, the tables must exist.
    /// With `listen`, the connection listens for appends (follow mode).
    package static func open(_ url: String, forAppend: Bool, listen: Bool = false) throws(StoreError)
        -> PostgresEventStore
    {
        let c = try PostgresConnection(url)
        // Quiet the NOTICEs of CREATE TABLE; they would go to stderr.
        try c.exec("SET client_min_messages = WARNING")
        // Like SQLite's `synchronous=NORMAL`: a commit does not wait for its WAL flush, so a
        // server or machine crash may lose the last fraction of a second of batches, never
        // half of one. A connection string that sets `synchronous_commit` decides instead.
        if forAppend && !url.contains("synchronous_commit") { try c.exec("SET synchronous_commit = off") }
        if forAppend {
            try c.exec("BEGIN; SELECT pg_advisory_xact_lock(7358314623457071)")
            do throws(StoreError) {
                let (events, marker) = try tables(c)
                if events {
                    try checkLayout(c, marker: marker)
                } else {
                    if marker {
                        throw StoreError(
                            "'\(c.name)' has a table 'sluice_store' but no 'events' table: it is not a Sluice event store"
                        )
                    }
                    try c.exec(schema)
                }
                try c.exec("COMMIT")
            } catch {
                _ = try? c.exec("ROLLBACK")
                throw error
            }
        } else {
            let (events, marker) = try tables(c)
            guard events else {
                throw StoreError(
                    "'\(c.name)' is not a Sluice event store: it has no 'events' table (a 'store' output creates it)")
            }
            try checkLayout(c, marker: marker)
            if listen { try c.exec("LISTEN \(channel)") }
        }
        return PostgresEventStore(connection: c, listening: listen)
    }

    /// Whether `events` and `sluice_store` exist (in the connection's search path).
    static func tables(_ c: PostgresConnection) throws(StoreError) -> (events: Bool, marker: Bool) {
        let r = try c.exec(
            "SELECT to_regclass('events') IS NOT NULL, to_regclass('sluice_store') IS NOT NULL")
        return (r.text(0, 0) == "t", r.text(0, 1) == "t")
    }

    static func checkLayout(_ c: PostgresConnection, marker: Bool) throws(StoreError) {
        let refused = "'\(c.name)' has an 'events' table that Sluice did not make"
        guard marker else {
            throw StoreError(
                "\(refused) (no 'sluice_store' marker table); use another database or schema for the store")
        }
        let r = try c.exec("SELECT value FROM sluice_store WHERE key = 'layout'")
        let layout = r.rows > 0 ? r.text(0, 0) : nil
        guard layout == Self.layout else {
            throw StoreError(
                "\(refused): its layout is '\(layout ?? "missing")', this Sluice reads '\(Self.layout)'; use another database for the store"
            )
        }
    }

    package func append(_ batch: [NewEvent], now: Int64 = currentMillis()) throws(StoreError) -> [AppendResult] {
        guard !batch.isEmpty else { return [] }
        if !probeIDs {
            do {
                return try appendTransaction(batch, now: now, probe: false)
            } catch {
                guard connection.lastSQLState == "23505", connection.lastConstraint == "events_event_id_key" else {
                    throw error
                }
                probeIDs = true
            }
        }
        let results = try appendTransaction(batch, now: now, probe: true)
        if !results.contains(.duplicate) { probeIDs = false }
        return results
    }

    /// One append transaction; without `probe`, an event id stored before (of an event
    /// without an expected version) fails the COPY.
    func appendTransaction(_ batch: [NewEvent], now: Int64, probe: Bool) throws(StoreError) -> [AppendResult] {
        let c = connection
        let start = try c.exec(
            "BEGIN; LOCK TABLE events IN EXCLUSIVE MODE; SELECT COALESCE(MAX(position), 0) FROM events")
        do throws(StoreError) {
            var position = start.int(0, 0)
            // Another writer appended since our last batch: our versions may be stale.
            if position != cachedAt || cachedVersions.count > Self.versionCacheLimit {
                cachedVersions.removeAll(keepingCapacity: true)
            }
            var versions = cachedVersions
            cachedVersions = [:]  // (so `versions` is not copied on write)
            cachedAt = -1
            var ids: [String] = []
            var streams: [String] = []
            ids.reserveCapacity(batch.count)
            for e in batch {
                // Without the probe, an id stored before must still come out a duplicate
                // (not a conflict) when the event has an expected version.
                if probe || e.expectedVersion != nil { ids.append(e.eventID) }
                if versions[e.streamID] == nil {
                    versions[e.streamID] = 0
                    streams.append(e.streamID)
                }
            }
            var stored = Set<String>()
            if !ids.isEmpty {
                let dup = try c.exec(
                    "SELECT event_id FROM events WHERE event_id = ANY($1::text[])", [arrayLiteral(ids)])
                for i in 0..<dup.rows { stored.insert(dup.text(i, 0)) }
            }
            // One index probe per stream (the last entry of its `(stream_id, stream_version)`
            // range); a GROUP BY would read every event of every stream in the batch.
            if !streams.isEmpty {
                let v = try c.exec(
                    """
                    SELECT s, (SELECT stream_version FROM events WHERE stream_id = s ORDER BY stream_version DESC LIMIT 1)
                    FROM unnest($1::text[]) AS s
                    """, [arrayLiteral(streams)])
                for i in 0..<v.rows where !v.isNull(i, 1) { versions[v.text(i, 0)] = v.int(i, 1) }
            }

            var results: [AppendResult] = []
            results.reserveCapacity(batch.count)
            var copy: [UInt8] = []
            copy.reserveCapacity(batch.count * 256)
            var rows = 0
            for e in batch {
                if stored.contains(e.eventID) {
                    results.append(.duplicate)
                    continue
                }
                let current = versions[e.streamID] ?? 0
                if let expected = e.expectedVersion, expected != current {
                    results.append(.conflict(actual: current))
                    continue
                }
                stored.insert(e.eventID)
                position += 1
                versions[e.streamID] = current + 1
                results.append(.appended(position: position, version: current + 1))
                appendCopyRow(&copy, e, position: position, version: current + 1, now: now)
                rows += 1
            }
            if rows > 0 {
                try c.copyIn(
                    """
                    COPY events (position, stream_id, stream_version, event_id, type, schema_version, event_time, data, appended_at) FROM STDIN
                    """, copy)
            }
            try c.exec("NOTIFY \(Self.channel); COMMIT")
            cachedVersions = versions
            cachedAt = position
            return results
        } catch {
            _ = try? c.exec("ROLLBACK")
            throw error
        }
    }

    package func replay(
        _ start: ReplayStart, after: Int64, limit: Int, _ body: (any StoredEventRow) throws -> Void
    ) throws -> Int {
        let columns =
            "position, stream_id, stream_version, event_id, type, schema_version, event_time, appended_at, data"
        let r: PostgresResult
        switch start {
        case .beginning:
            r = try connection.exec(
                "SELECT \(columns) FROM events WHERE position > $1 ORDER BY position LIMIT $2",
                [String(after), String(limit)])
        case .position(let p):
            r = try connection.exec(
                "SELECT \(columns) FROM events WHERE position > $1 ORDER BY position LIMIT $2",
                [String(max(after, p - 1)), String(limit)])
        case .time(let t):
            r = try connection.exec(
                "SELECT \(columns) FROM events WHERE position > $1 AND event_time >= $3 ORDER BY position LIMIT $2",
                [String(after), String(limit), String(t)])
        case .stream(let id):
            // Within a stream, versions grow with positions (both are assigned under the
            // append lock): continuing after the last row's version walks the
            // `(stream_id, stream_version)` index instead of sorting the stream per page
            // (`position > $1` keeps it right for a position outside the stream).
            r = try connection.exec(
                """
                SELECT \(columns) FROM events WHERE stream_id = $3 AND position > $1 AND stream_version >
                    COALESCE((SELECT stream_version FROM events WHERE position = $1 AND stream_id = $3), 0)
                ORDER BY stream_version LIMIT $2
                """, [String(after), String(limit), id])
        }
        let n = r.rows
        for i in 0..<n { try body(PostgresRow(result: r, row: i)) }
        return n
    }

    /// Waits for a notification of a committed append (when listening), or polls: returns
    /// after `millis` at the latest.
    package func waitForAppends(millis: Int, isCancelled: () -> Bool) {
        guard listening else { return sleepMillis(millis, isCancelled: isCancelled) }
        if connection.drainNotifications() { return }
        var waited = 0
        while waited < millis && !isCancelled() {
            let step = min(20, millis - waited)
            var p = pollfd(fd: connection.socket, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, Int32(step)) > 0 && connection.drainNotifications() { return }
            waited += step
        }
    }

    package func streamVersion(_ stream: String) throws(StoreError) -> Int64 {
        try connection.exec("SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = $1", [stream])
            .int(0, 0)
    }

    package func lastPosition() throws(StoreError) -> Int64 {
        try connection.exec("SELECT COALESCE(MAX(position), 0) FROM events").int(0, 0)
    }

    /// A server setting as this connection sees it (`SHOW`), for tests and diagnostics.
    package func setting(_ name: String) throws(StoreError) -> String {
        try connection.exec("SELECT current_setting($1)", [name]).text(0, 0)
    }

    package func close() { connection.close() }
}

extension PostgresEventStore: EventStoreBackend {}

/// One row of a replay query.
struct PostgresRow: StoredEventRow {
    let result: PostgresResult
    let row: Int
    var position: Int64 { result.int(row, 0) }
    var streamID: String { result.text(row, 1) }
    var version: Int64 { result.int(row, 2) }
    var eventID: String { result.text(row, 3) }
    var type: String { result.text(row, 4) }
    var schemaVersion: Int64 { result.int(row, 5) }
    var eventTime: Int64 { result.int(row, 6) }
    var appendedAt: Int64 { result.int(row, 7) }
    /// The PostgreSQL layout has no mark for rows Sluice serialised: every row is validated.
    var dataIsValidJSON: Bool { false }
    func withData<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R { result.withBytes(row, 8, body) }
    func withText<R>(_ column: StoredTextColumn, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        result.withBytes(row, Int(column.rawValue), body)
    }
}

/// A PostgreSQL array literal of text values: `{"a","b\"c"}`.
func arrayLiteral(_ values: [String]) -> String {
    var out = "{"
    for (i, v) in values.enumerated() {
        if i > 0 { out += "," }
        out += "\""
        for ch in v.unicodeScalars {
            if ch == "\"" || ch == "\\" { out += "\\" }
            out.unicodeScalars.append(ch)
        }
        out += "\""
    }
    return out + "}"
}

/// One row of `COPY events (...) FROM STDIN` in COPY's text format.
func appendCopyRow(_ out: inout [UInt8], _ e: NewEvent, position: Int64, version: Int64, now: Int64) {
    appendDecimal(&out, position)
    out.append(9)
    appendCopyText(&out, e.streamID.utf8)
    out.append(9)
    appendDecimal(&out, version)
    out.append(9)
    appendCopyText(&out, e.eventID.utf8)
    out.append(9)
    appendCopyText(&out, e.type.utf8)
    out.append(9)
    appendDecimal(&out, e.schemaVersion)
    out.append(9)
    appendDecimal(&out, e.eventTime)
    out.append(9)
    appendCopyText(&out, e.data)
    out.append(9)
    appendDecimal(&out, now)
    out.append(10)
}

/// A text value with COPY's escapes: backslash, tab, newline and carriage return.
func appendCopyText<S: Sequence<UInt8>>(_ out: inout [UInt8], _ bytes: S) {
    for b in bytes {
        switch b {
        case 92: out.append(92); out.append(92)
        case 9: out.append(92); out.append(UInt8(ascii: "t"))
        case 10: out.append(92); out.append(UInt8(ascii: "n"))
        case 13: out.append(92); out.append(UInt8(ascii: "r"))
        default: out.append(b)
        }
    }
}

func appendDecimal(_ out: inout [UInt8], _ value: Int64) {
    if value < 0 { out.append(UInt8(ascii: "-")) }
    var v = value.magnitude
    var digits:
        (
            UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
            UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
        ) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var n = 0
    withUnsafeMutableBytes(of: &digits) { d in
        repeat {
            d[n] = UInt8(48 + v % 10)
            v /= 10
            n += 1
        } while v > 0
        while n > 0 {
            n -= 1
            out.append(d[n])
        }
    }
}
