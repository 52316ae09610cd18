import CSQLite

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An event to append.
package struct NewEvent: Sendable {
    package var streamID: String
    package var eventID: String
    package var type: String
    package var schemaVersion: Int64
    /// Epoch milliseconds.
    package var eventTime: Int64
    /// The event as JSON text.
    package var data: [UInt8]
    /// Whether `data` is the text of an event written by Sluice's own serializer
    /// (`Event.write(into:)`), hence valid JSON: the store marks the row (`data_valid`) and
    /// a replay skips validating it. False for bytes from anywhere else.
    package var serialized: Bool
    /// When set, the stream must be at exactly this version before the append
    /// (0: the stream must not exist yet).
    package var expectedVersion: Int64?

    package init(
        streamID: String, eventID: String, type: String, schemaVersion: Int64 = 1, eventTime: Int64, data: [UInt8],
        expectedVersion: Int64? = nil, serialized: Bool = false
    ) {
        self.streamID = streamID
        self.eventID = eventID
        self.type = type
        self.schemaVersion = schemaVersion
        self.eventTime = eventTime
        self.data = data
        self.expectedVersion = expectedVersion
        self.serialized = serialized
    }
}

/// What became of one appended event.
package enum AppendResult: Sendable, Equatable {
    /// Stored at this global position, as this version of its stream.
    case appended(position: Int64, version: Int64)
    /// An event with the same id is already stored; nothing was written.
    case duplicate
    /// `expectedVersion` did not match; the stream is at `actual`. Nothing was written.
    case conflict(actual: Int64)
}

/// An event read back from the store.
package struct StoredEvent: Sendable, Equatable {
    package var position: Int64
    package var streamID: String
    package var version: Int64
    package var eventID: String
    package var type: String
    package var schemaVersion: Int64
    package var eventTime: Int64
    package var appendedAt: Int64
    /// The event's JSON text.
    package var data: String
}

/// Where a replay starts.
package enum ReplayStart: Sendable, Equatable {
    case beginning
    /// The first global position to read.
    case position(Int64)
    /// Events whose event time is at or after this (epoch ms), in global order.
    case time(Int64)
    /// One stream's events, from its first version.
    case stream(String)
}

/// An event store in one SQLite file (docs/event-sourcing.md, "Table layout").
///
/// The store owns one connection and is used by one thread at a time. The first writer
/// creates the tables; a file whose `events` table Sluice did not make is refused.
///
/// `@unchecked Sendable` only so that a run can open the store before it starts (to
/// report a bad file as a usage error) and hand it to the stage that appends to it: the
/// opening thread does not touch it afterwards, and that stage's thread alone uses it
/// from then on (a reader opens a store of its own), so its connection is never used by
/// two threads at once.
package final class SQLiteEventStore: @unchecked Sendable {
    /// The marker row in `sluice_store` that says which layout the tables have.
    package static let layout = "sluice-events-3"
    /// The layout of stores made before the `data_valid` column (migrated by the first
    /// `store` output that opens one; readable as it is, every row validated).
    package static let layout2 = "sluice-events-2"
    /// The layout of stores made before the `sluice_streams` table (migrated by the first
    /// `store` output that opens one; readable as it is).
    package static let layoutBefore = "sluice-events-1"
    /// Events per segment of `events_stream`, the stream index: its key starts with
    /// `position / segment`, so appends touch only the newest segment's pages.
    package static let segment: Int64 = 8192

    /// The `events` table, its indexes and the `sluice_streams` table of ``layout``.
    static let eventsSchema = """
        CREATE TABLE events (
            position INTEGER PRIMARY KEY,
            stream_id TEXT NOT NULL,
            stream_version INTEGER NOT NULL,
            event_id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            schema_version INTEGER NOT NULL,
            event_time INTEGER NOT NULL,
            data TEXT NOT NULL,
            appended_at INTEGER NOT NULL,
            data_valid INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE sluice_streams (stream_id TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID;
        """
    static let indexes = """
        CREATE INDEX events_stream ON events (position / \(segment), stream_id);
        CREATE INDEX events_event_time ON events (event_time);
        \(dataTrigger)
        """

    /// `data_valid` is 1 only on rows whose `data` a `store` output wrote with Sluice's
    /// serializer; a statement that changes `data` afterwards clears it, so the row is
    /// validated again on replay. (A row inserted by anything else has the default, 0.)
    static let dataTrigger = """
        CREATE TRIGGER events_data_changed AFTER UPDATE OF data ON events WHEN new.data_valid != 0
        BEGIN UPDATE events SET data_valid = 0 WHERE position = new.position; END;
        """

    package static let schema = """
        CREATE TABLE sluice_store (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        \(eventsSchema)
        \(indexes)
        INSERT INTO sluice_store (key, value) VALUES ('layout', '\(layout)'), ('streams_at', 0);
        """

    /// Brings a store of ``layout2`` to ``layout`` in the caller's transaction: the
    /// `data_valid` column (0 on every existing row: who wrote them is not known, so they
    /// are validated on replay as before) and the trigger that clears it.
    static let migration2 = """
        ALTER TABLE events ADD COLUMN data_valid INTEGER NOT NULL DEFAULT 0;
        \(dataTrigger)
        UPDATE sluice_store SET value = '\(layout)' WHERE key = 'layout';
        """

    /// Brings a store of ``layoutBefore`` to ``layout`` in the caller's transaction: the
    /// `events` table copied without its `UNIQUE (stream_id, stream_version)` index, the
    /// segmented stream index and the `sluice_streams` table filled from the events.
    static let migration = """
        ALTER TABLE events RENAME TO sluice_events_before;
        DROP INDEX events_event_time;
        \(eventsSchema)
        INSERT INTO events (position, stream_id, stream_version, event_id, type, schema_version, event_time, data,
            appended_at) SELECT position, stream_id, stream_version, event_id, type, schema_version, event_time, data,
            appended_at FROM sluice_events_before ORDER BY position;
        DROP TABLE sluice_events_before;
        \(indexes)
        INSERT INTO sluice_streams (stream_id, version) SELECT stream_id, MAX(stream_version) FROM events GROUP BY stream_id;
        INSERT INTO sluice_store (key, value) VALUES ('streams_at', (SELECT COALESCE(MAX(position), 0) FROM events));
        UPDATE sluice_store SET value = '\(layout)' WHERE key = 'layout';
        """

    let connection: SQLiteConnection
    /// The file's layout: ``layout``, or ``layout2`` or ``layoutBefore`` for a store opened
    /// for reading that no output has migrated yet.
    let fileLayout: String
    package var path: String { connection.path }
    /// Stream versions as of global position `knownAt` (see ``append(_:now:)``).
    var knownVersions: [String: Int64] = [:]
    var knownAt: Int64 = -1
    /// The position up to which `sluice_streams` holds this connection's appends (its
    /// `streams_at`). The versions of later appends are in ``knownVersions`` only, until
    /// the batch that reaches ``recordEvery`` events past it, or ``flush()``, writes them
    /// (all of ``knownVersions``: writing a version it already holds changes nothing);
    /// until then, another connection counts them in from `events` (`catchUpStreams`), as
    /// it does events other programs inserted. Writing every batch's streams (some 500
    /// upserts per batch of 720 events over 1,000 streams) took 15% of an append's
    /// instructions.
    var recordedAt: Int64 = 0
    /// Events appended between writes of `sluice_streams` (at most, plus one batch).
    package static let recordEvery: Int64 = 65_536

    /// Opens the store at `path` for appending, creating the file and its tables when
    /// they are missing, and migrating a store of ``layoutBefore``.
    package static func openForAppend(path: String) throws(StoreError) -> SQLiteEventStore {
        let c = try SQLiteConnection(path: path, readOnly: false, create: true)
        // WAL: readers never block the writer, and a commit is one append to the log.
        // temp_store=MEMORY: a multi-row INSERT keeps the pages it changes in a statement
        // journal (to undo itself when an event id is taken), in memory rather than a
        // temporary file past 64 KiB.
        try c.exec(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=8192; PRAGMA temp_store=MEMORY;"
        )
        try c.exec("BEGIN IMMEDIATE")
        do throws(StoreError) {
            if try tableExists(c, "events") {
                switch try checkLayout(c) {
                case layoutBefore: try c.exec(migration)
                case layout2: try c.exec(migration2)
                default: break
                }
            } else {
                if try tableExists(c, "sluice_store") {
                    throw StoreError(
                        "'\(path)' has a table 'sluice_store' but no 'events' table: it is not a Sluice event store")
                }
                try c.exec(schema)
            }
            try c.exec("COMMIT")
        } catch {
            try? c.exec("ROLLBACK")
            throw error
        }
        return SQLiteEventStore(connection: c, layout: layout)
    }

    /// Opens an existing store at `path` for reading.
    package static func openForReading(path: String) throws(StoreError) -> SQLiteEventStore {
        if access(path, F_OK) != 0 {
            throw StoreError("no event store at '\(path)': the file does not exist (a 'store' output creates it)")
        }
        let c = try SQLiteConnection(path: path, readOnly: true, create: false)
        guard try tableExists(c, "events") else {
            throw StoreError("'\(path)' is not a Sluice event store: it has no 'events' table")
        }
        return SQLiteEventStore(connection: c, layout: try checkLayout(c))
    }

    init(connection: SQLiteConnection, layout: String) {
        self.connection = connection
        self.fileLayout = layout
    }

    static func tableExists(_ c: SQLiteConnection, _ name: String) throws(StoreError) -> Bool {
        let s = try c.statement("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1")
        s.bind(1, name)
        let found = try s.step()
        s.reset()
        return found
    }

    /// The store's layout, ``layout``, ``layout2`` or ``layoutBefore``; any other is refused.
    static func checkLayout(_ c: SQLiteConnection) throws(StoreError) -> String {
        let refused = "'\(c.path)' has an 'events' table that Sluice did not make"
        guard try tableExists(c, "sluice_store") else {
            throw StoreError("\(refused) (no 'sluice_store' marker table); use another file for the store")
        }
        let s = try c.statement("SELECT value FROM sluice_store WHERE key = 'layout'")
        let layout = try s.step() ? s.text(0) : nil
        s.reset()
        guard let layout, layout == Self.layout || layout == Self.layout2 || layout == Self.layoutBefore else {
            throw StoreError(
                "\(refused): its layout is '\(layout ?? "missing")', this Sluice reads '\(Self.layout)'; use another file for the store"
            )
        }
        return layout
    }

    /// Appends `batch` in one transaction: all of it is stored or (on an error) none of it.
    /// Duplicates (by event id) and version conflicts write nothing for that event and
    /// are reported in its result; the other events are appended.
    ///
    /// Runs of events without `expected_version` go in with one multi-row `INSERT` per
    /// ``rowsPerInsert`` events (see ``insertRun(_:_:now:_:)``); an event with one, and
    /// every event of a run that met a stored event id, goes in alone.
    package func append(_ batch: [NewEvent], now: Int64 = currentMillis()) throws(StoreError) -> [AppendResult] {
        guard !batch.isEmpty else { return [] }
        let c = connection
        try c.exec("BEGIN IMMEDIATE")
        do throws(StoreError) {
            // The stream versions this connection knew after its last commit hold while no
            // one else has appended since (the last position is still its own).
            let top = try lastPosition()
            if top != knownAt || knownVersions.count > 100_000 {
                // The catch-up counts in every event after `streams_at`, this
                // connection's unrecorded ones too.
                knownVersions.removeAll()
                recordedAt = try catchUpStreams(to: top)
            }
            var state = AppendState(versions: knownVersions, top: top)
            knownVersions = [:]
            state.results.reserveCapacity(batch.count)
            var i = 0
            // Until a run meets a stored event id: after that, the rest of the batch goes
            // event by event (a re-run of stored input would otherwise fail every run).
            var runs = true
            while i < batch.count {
                var end = i
                if runs {
                    while end < batch.count && end - i < Self.rowsPerInsert && batch[end].expectedVersion == nil {
                        end += 1
                    }
                }
                if end - i >= 2 {
                    if try insertRun(batch, i..<end, now: now, &state) {
                        i = end
                        continue
                    }
                    runs = false
                    for k in i..<end { try appendOne(batch[k], now: now, &state) }
                    i = end
                    continue
                }
                try appendOne(batch[i], now: now, &state)
                i += 1
            }
            let record = state.top - recordedAt >= Self.recordEvery
            if record { try recordStreams(state.versions, at: state.top) }
            try c.exec("COMMIT")
            knownVersions = state.versions
            knownAt = state.top
            if record { recordedAt = state.top }
            return state.results
        } catch {
            try? c.exec("ROLLBACK")
            knownVersions.removeAll()
            knownAt = -1
            throw error
        }
    }

    /// What an append has done so far in its transaction.
    struct AppendState {
        /// Each stream's version as of this point of the batch (those looked up so far).
        var versions: [String: Int64]
        /// The last position assigned.
        var top: Int64
        var results: [AppendResult] = []
    }

    /// The stream's version at this point of the append.
    func currentVersion(_ stream: String, _ state: inout AppendState) throws(StoreError) -> Int64 {
        if let v = state.versions[stream] { return v }
        return try recordedVersion(stream)
    }

    /// Appends one event with the one-row statement, which skips a stored event id.
    func appendOne(_ e: NewEvent, now: Int64, _ state: inout AppendState) throws(StoreError) {
        let c = connection
        if e.expectedVersion != nil {
            let exists = try c.statement("SELECT 1 FROM events WHERE event_id = ?1")
            exists.bind(1, e.eventID)
            let dup = try exists.step()
            exists.reset()
            if dup {
                state.results.append(.duplicate)
                return
            }
        }
        let current = try currentVersion(e.streamID, &state)
        if let expected = e.expectedVersion, expected != current {
            state.versions[e.streamID] = current
            state.results.append(.conflict(actual: current))
            return
        }
        let insert = try c.statement(
            """
            INSERT INTO events (
                stream_id, stream_version, event_id, type, schema_version, event_time, data, appended_at, data_valid)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (event_id) DO NOTHING
            """)
        insert.bind(1, e.streamID)
        insert.bind(2, current + 1)
        insert.bind(3, e.eventID)
        insert.bind(4, e.type)
        insert.bind(5, e.schemaVersion)
        insert.bind(6, e.eventTime)
        insert.bind(7, bytes: e.data)
        insert.bind(8, now)
        insert.bind(9, e.serialized ? 1 : 0)
        try insert.run()
        if c.changes == 0 {
            state.versions[e.streamID] = current
            state.results.append(.duplicate)
        } else {
            state.versions[e.streamID] = current + 1
            state.top = c.lastInsertRowID
            state.results.append(.appended(position: state.top, version: current + 1))
        }
    }

    /// Events per multi-row `INSERT`. Each statement step opens its cursors (the table and
    /// its three indexes) and runs the statement's set-up once for all of its rows; in a C
    /// program inserting 100,000 events, 64 rows a statement took 4% fewer instructions than
    /// 32 (and 32 about 17% fewer than one).
    static let rowsPerInsert = 64

    /// The multi-row `INSERT` for each row count, made on first use.
    var runInserts: [Statement?] = Array(repeating: nil, count: rowsPerInsert + 1)
    /// The text of the rows a multi-row `INSERT` is inserting, bound without a copy.
    var runText: [UInt8] = []
    /// Where each row's texts start in ``runText``, and each row's version before it.
    var runOffsets: [Int] = []
    var runVersions: [Int64] = []

    /// `INSERT INTO events ... VALUES (...), (...), ...` for `rows` rows: `?1` is
    /// `appended_at`, the same for all; row `k` has parameters `?(2+8k)` to `?(9+8k)`.
    /// No `ON CONFLICT` clause: a stored event id fails the whole statement, which SQLite
    /// then undoes (the transaction stays open).
    static func runInsertSQL(rows: Int) -> String {
        var sql = """
            INSERT INTO events (
                stream_id, stream_version, event_id, type, schema_version, event_time, data, appended_at, data_valid)
            VALUES
            """
        for k in 0..<rows {
            let b = 2 + 8 * k
            sql +=
                "\(k == 0 ? " " : ", ")(?\(b), ?\(b + 1), ?\(b + 2), ?\(b + 3), ?\(b + 4), ?\(b + 5), ?\(b + 6), ?1, ?\(b + 7))"
        }
        return sql
    }

    /// Inserts `batch[range]` (events without `expected_version`) with one statement.
    /// Returns false, having written nothing and left `state` as it was, when one of the
    /// event ids is stored already (or repeats within the range): the caller then appends
    /// them one by one, which skips the duplicates.
    func insertRun(_ batch: [NewEvent], _ range: Range<Int>, now: Int64, _ state: inout AppendState)
        throws(StoreError) -> Bool
    {
        let c = connection
        let rows = range.count
        let insert: Statement
        if let s = runInserts[rows] {
            insert = s
        } else {
            insert = try c.statement(Self.runInsertSQL(rows: rows))
            runInserts[rows] = insert
        }
        // The buffers, taken out of the store for the call (a class's stored arrays are
        // checked for exclusive access on every use).
        var versions = runVersions
        var offsets = runOffsets
        var text = runText
        runVersions = []
        runOffsets = []
        runText = []
        defer {
            runVersions = versions
            runOffsets = offsets
            runText = text
        }
        versions.removeAll(keepingCapacity: true)
        offsets.removeAll(keepingCapacity: true)
        text.removeAll(keepingCapacity: true)
        let rc = try batch.withUnsafeBufferPointer { (all) throws(StoreError) -> Int32 in
            let events = UnsafeBufferPointer(rebasing: all[range])
            // Versions first (a stream new to this connection costs a lookup), then the
            // texts of all rows into one buffer, so that SQLite need not copy each.
            var size = 0
            for e in events {
                if let i = state.versions.index(forKey: e.streamID) {
                    let current = state.versions.values[i]
                    versions.append(current)
                    state.versions.values[i] = current + 1
                } else {
                    let current = try recordedVersion(e.streamID)
                    versions.append(current)
                    state.versions[e.streamID] = current + 1
                }
                size += e.streamID.utf8.count + e.eventID.utf8.count + e.type.utf8.count + e.data.count
            }
            text.reserveCapacity(size)
            for e in events {
                offsets.append(text.count)
                text.append(contentsOf: e.streamID.utf8)
                offsets.append(text.count)
                text.append(contentsOf: e.eventID.utf8)
                offsets.append(text.count)
                text.append(contentsOf: e.type.utf8)
                offsets.append(text.count)
                text.append(contentsOf: e.data)
            }
            offsets.append(text.count)
            return text.withUnsafeBufferPointer { bytes -> Int32 in
                // An empty buffer has no address; every row has a stream id, so it is not empty.
                guard let base = bytes.baseAddress else { return SQLITE_MISUSE }
                insert.bind(1, now)
                var o = 0
                for (j, e) in events.enumerated() {
                    let p = Int32(2 + 8 * j)
                    insert.bindStatic(p, base + offsets[o], count: offsets[o + 1] - offsets[o])
                    insert.bind(p + 1, versions[j] + 1)
                    insert.bindStatic(p + 2, base + offsets[o + 1], count: offsets[o + 2] - offsets[o + 1])
                    insert.bindStatic(p + 3, base + offsets[o + 2], count: offsets[o + 3] - offsets[o + 2])
                    insert.bind(p + 4, e.schemaVersion)
                    insert.bind(p + 5, e.eventTime)
                    insert.bindStatic(p + 6, base + offsets[o + 3], count: offsets[o + 4] - offsets[o + 3])
                    insert.bind(p + 7, e.serialized ? 1 : 0)
                    o += 4
                }
                let rc = insert.runResult()
                insert.clearBindings()
                return rc
            }
        }
        if rc == SQLITE_CONSTRAINT && c.inTransaction {
            // A stored (or repeated) event id: SQLite undid the statement; undo the versions.
            for (j, k) in range.enumerated().reversed() { state.versions[batch[k].streamID] = versions[j] }
            return false
        }
        guard rc == SQLITE_DONE else { throw c.failure("cannot append") }
        // The table's rowids: each row is given the highest one plus one, in order.
        guard c.changes == rows, c.lastInsertRowID == state.top + Int64(rows) else {
            throw StoreError("store '\(c.path)': appended rows did not get consecutive positions after \(state.top)")
        }
        for j in 0..<rows {
            state.results.append(.appended(position: state.top + 1 + Int64(j), version: versions[j] + 1))
        }
        state.top += Int64(rows)
        return true
    }

    /// Writes the streams' versions to `sluice_streams`, which then holds every event up to
    /// position `at` (in the append's transaction).
    func recordStreams(_ changed: [String: Int64], at position: Int64) throws(StoreError) {
        let up = try connection.statement(
            "INSERT INTO sluice_streams (stream_id, version) VALUES (?1, ?2) ON CONFLICT (stream_id) DO UPDATE SET version = MAX(version, excluded.version)"
        )
        for (stream, version) in changed {
            up.reset()
            up.bind(1, stream)
            up.bind(2, version)
            try up.run()
        }
        let mark = try connection.statement("UPDATE sluice_store SET value = ?1 WHERE key = 'streams_at'")
        mark.bind(1, position)
        try mark.run()
    }

    /// Writes the stream versions this connection appended that `sluice_streams` does not
    /// hold yet (the store output calls it at checkpoints and at the end of its input).
    /// Skipped when another connection has appended since: its appends count them in.
    package func flush() throws(StoreError) {
        guard knownAt > recordedAt else { return }
        let c = connection
        try c.exec("BEGIN IMMEDIATE")
        do throws(StoreError) {
            if try lastPosition() == knownAt { try recordStreams(knownVersions, at: knownAt) }
            try c.exec("COMMIT")
        } catch {
            try? c.exec("ROLLBACK")
            throw error
        }
        recordedAt = knownAt
    }

    /// Folds events appended after `streams_at` (by another connection, another process,
    /// `sqlite3` in a shell) into `sluice_streams`, so that versions are counted from every
    /// stored event (in the append's transaction). Returns the new `streams_at`.
    func catchUpStreams(to top: Int64) throws(StoreError) -> Int64 {
        let recorded = try streamsAt()
        guard top > recorded else { return recorded }
        let s = try connection.statement(
            "SELECT stream_id, MAX(stream_version) FROM events WHERE position > ?1 GROUP BY stream_id")
        s.bind(1, recorded)
        var found: [String: Int64] = [:]
        while try s.step() { found[s.text(0)] = s.int(1) }
        s.reset()
        try recordStreams(found, at: top)
        return top
    }

    /// The position up to which `sluice_streams` holds the stream versions.
    func streamsAt() throws(StoreError) -> Int64 {
        let s = try connection.statement("SELECT CAST(value AS INTEGER) FROM sluice_store WHERE key = 'streams_at'")
        defer { s.reset() }
        guard try s.step() else { return 0 }
        return s.int(0)
    }

    /// The stream's version as `sluice_streams` records it (0 when it has none).
    func recordedVersion(_ stream: String) throws(StoreError) -> Int64 {
        let s = try connection.statement("SELECT version FROM sluice_streams WHERE stream_id = ?1")
        s.bind(1, stream)
        defer { s.reset() }
        guard try s.step() else { return 0 }
        return s.int(0)
    }

    /// The stream's current version: its number of events, 0 when it has none.
    package func streamVersion(_ stream: String) throws(StoreError) -> Int64 {
        if fileLayout == Self.layoutBefore {
            let s = try connection.statement("SELECT MAX(stream_version) FROM events WHERE stream_id = ?1")
            s.bind(1, stream)
            defer { s.reset() }
            guard try s.step(), !s.isNull(0) else { return 0 }
            return s.int(0)
        }
        // `sluice_streams`, and any events appended after it was last brought up to date by
        // something other than Sluice.
        let s = try connection.statement(
            "SELECT MAX(stream_version) FROM events WHERE position > ?2 AND stream_id = ?1")
        s.bind(1, stream)
        s.bind(2, try streamsAt())
        defer { s.reset() }
        let later = try s.step() && !s.isNull(0) ? s.int(0) : 0
        return max(later, try recordedVersion(stream))
    }

    /// The highest global position (0 for an empty store).
    package func lastPosition() throws(StoreError) -> Int64 {
        let s = try connection.statement("SELECT MAX(position) FROM events")
        defer { s.reset() }
        guard try s.step(), !s.isNull(0) else { return 0 }
        return s.int(0)
    }

    /// Up to `limit` events after global position `after` that match `start`, in global
    /// order; `body` sees each in turn (its text is only valid during the call).
    package func read(
        _ start: ReplayStart, after: Int64, limit: Int, _ body: (StoredEventView) throws -> Void
    ) throws -> Int {
        // Stores of older layouts have no `data_valid`: every row is validated.
        let columns =
            "position, stream_id, stream_version, event_id, type, schema_version, event_time, appended_at, data, "
            + (fileLayout == Self.layout ? "data_valid" : "0")
        let s: Statement
        switch start {
        case .beginning:
            s = try connection.statement("SELECT \(columns) FROM events WHERE position > ?1 ORDER BY position LIMIT ?2")
            s.bind(1, after)
        case .position(let p):
            s = try connection.statement("SELECT \(columns) FROM events WHERE position > ?1 ORDER BY position LIMIT ?2")
            s.bind(1, max(after, p - 1))
        case .time(let t):
            s = try connection.statement(
                "SELECT \(columns) FROM events WHERE position > ?1 AND event_time >= ?3 ORDER BY position LIMIT ?2")
            s.bind(1, after)
            s.bind(3, t)
        case .stream(let id) where fileLayout == Self.layoutBefore:
            s = try connection.statement(
                "SELECT \(columns) FROM events WHERE stream_id = ?3 AND position > ?1 ORDER BY position LIMIT ?2")
            s.bind(1, after)
            s.bind(3, id)
        case .stream(let id):
            return try readStream(id, after: after, limit: limit, columns: columns, body)
        }
        s.bind(2, Int64(limit))
        defer { s.reset() }
        var n = 0
        while try s.step() {
            try body(StoredEventView(statement: s))
            n += 1
        }
        return n
    }

    /// One stream's events after `after`: the stream index is searched segment by
    /// segment (`position / segment`), from `after`'s segment to the last one.
    func readStream(
        _ id: String, after: Int64, limit: Int, columns: String, _ body: (StoredEventView) throws -> Void
    ) throws -> Int {
        let last = try lastPosition()
        let s = try connection.statement(
            """
            SELECT \(columns) FROM events WHERE position / \(Self.segment) = ?4 AND stream_id = ?3 AND position > ?1
            ORDER BY position LIMIT ?2
            """)
        defer { s.reset() }
        var n = 0
        var segment = max(after + 1, 0) / Self.segment
        while n < limit && segment <= last / Self.segment {
            s.reset()
            s.bind(1, after)
            s.bind(2, Int64(limit - n))
            s.bind(3, id)
            s.bind(4, segment)
            while try s.step() {
                try body(StoredEventView(statement: s))
                n += 1
            }
            segment += 1
        }
        return n
    }

    /// Every event matching `start`, in global order (for tests and small stores).
    package func readAll(_ start: ReplayStart = .beginning) throws -> [StoredEvent] {
        var out: [StoredEvent] = []
        var last: Int64 = 0
        while true {
            let n = try read(start, after: last, limit: 1000) { v in
                out.append(v.event)
                last = v.position
            }
            if n == 0 { return out }
        }
    }

    package func close() { connection.close() }
}

/// A row being read: the current row of a statement.
package struct StoredEventView {
    let statement: Statement
    package var position: Int64 { statement.int(0) }
    package var streamID: String { statement.text(1) }
    package var version: Int64 { statement.int(2) }
    package var eventID: String { statement.text(3) }
    package var type: String { statement.text(4) }
    package var schemaVersion: Int64 { statement.int(5) }
    package var eventTime: Int64 { statement.int(6) }
    package var appendedAt: Int64 { statement.int(7) }
    /// Whether the store's own serializer wrote `data` (the row's `data_valid`).
    package var dataIsValidJSON: Bool { statement.int(9) == 1 }
    /// The event's JSON text, lent for the call.
    package func withData<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R { statement.withTextBytes(8, body) }
    package func withText<R>(_ column: StoredTextColumn, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        statement.withTextBytes(column.rawValue, body)
    }

    package var event: StoredEvent {
        StoredEvent(
            position: position, streamID: streamID, version: version, eventID: eventID, type: type,
            schemaVersion: schemaVersion, eventTime: eventTime, appendedAt: appendedAt, data: statement.text(8))
    }
}

/// The wall clock in epoch milliseconds.
package func currentMillis() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
