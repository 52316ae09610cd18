import Foundation
import SluiceJSON
import SluiceStore
import Testing

/// The stream versions an appending connection remembers between batches are dropped as
/// soon as another connection has appended: versions are never assigned twice.
@Suite struct StoreCacheTests {
    @Test func twoConnectionsTakingTurnsOnOneStream() throws {
        let dir = try scratchDirectory("cache")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("s.db").path
        let a = try SQLiteEventStore.openForAppend(path: path)
        let b = try SQLiteEventStore.openForAppend(path: path)
        defer {
            a.close()
            b.close()
        }
        #expect(
            try a.append([newEvent("s", "e1"), newEvent("t", "e2")]) == [
                .appended(position: 1, version: 1), .appended(position: 2, version: 1),
            ])
        #expect(try b.append([newEvent("s", "e3")]) == [.appended(position: 3, version: 2)])
        #expect(
            try a.append([newEvent("s", "e4"), newEvent("t", "e5")]) == [
                .appended(position: 4, version: 3), .appended(position: 5, version: 2),
            ])
        // b appends behind a's back; a must not trust what it knew of "s".
        #expect(try b.append([newEvent("s", "e6", expected: 3)]) == [.appended(position: 6, version: 4)])
        #expect(try a.append([newEvent("s", "e7", expected: 3)]) == [.conflict(actual: 4)])
        #expect(try a.append([newEvent("s", "e8", expected: 4)]) == [.appended(position: 7, version: 5)])
        let all = try SQLiteEventStore.openForReading(path: path).readAll()
        #expect(all.filter { $0.streamID == "s" }.map(\.version) == [1, 2, 3, 4, 5])
    }

    /// Another program that inserts rows into `events` directly (not through Sluice) is
    /// caught up with: the next append counts its events' stream versions.
    @Test func eventsWrittenByAnotherProgramCountInStreamVersions() throws {
        let dir = try scratchDirectory("outside")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("s.db").path
        let a = try SQLiteEventStore.openForAppend(path: path)
        defer { a.close() }
        #expect(try a.append([newEvent("s", "e1")]) == [.appended(position: 1, version: 1)])
        try runSQLite(
            path,
            """
            INSERT INTO events (stream_id, stream_version, event_id, type, schema_version, event_time, data, appended_at)
            VALUES ('s', 2, 'x1', 'placed', 1, 5, '{}', 5), ('s', 3, 'x2', 'placed', 1, 5, '{}', 5);
            """)
        #expect(try SQLiteEventStore.openForReading(path: path).streamVersion("s") == 3)
        #expect(try a.append([newEvent("s", "e2", expected: 3)]) == [.appended(position: 4, version: 4)])
        #expect(try a.streamVersion("s") == 4)
        // A fresh connection reads the versions back from the store.
        let b = try SQLiteEventStore.openForAppend(path: path)
        defer { b.close() }
        #expect(
            try b.append([newEvent("s", "e3"), newEvent("t", "e4")]) == [
                .appended(position: 5, version: 5), .appended(position: 6, version: 1),
            ])
    }

    /// Stream reads search the stream index segment by segment: a stream spread over
    /// several segments reads back whole, in order, from any position, page by page.
    @Test func streamReadsCrossIndexSegments() throws {
        let dir = try scratchDirectory("segments")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("s.db").path
        let w = try SQLiteEventStore.openForAppend(path: path)
        defer { w.close() }
        let total = Int(SQLiteEventStore.segment) * 2 + 500
        var batch: [NewEvent] = []
        for i in 1...total {
            // "rare" appears in the first and third segments only.
            let stream = i == 5 || i == total - 2 ? "rare" : (i % 3 == 0 ? "b" : "a")
            batch.append(newEvent(stream, "e\(i)"))
            if batch.count == 1000 || i == total {
                _ = try w.append(batch)
                batch.removeAll()
            }
        }
        let r = try SQLiteEventStore.openForReading(path: path)
        defer { r.close() }
        let b = try r.readAll(.stream("b"))
        #expect(b.count == total / 3)
        #expect(b.map(\.version).elementsEqual(1...Int64(total / 3)))
        #expect(b.map(\.position) == b.map(\.position).sorted())
        #expect(try r.readAll(.stream("rare")).map(\.position) == [5, Int64(total - 2)])
        var after: [Int64] = []
        _ = try r.read(.stream("rare"), after: 6, limit: 10) { after.append($0.position) }
        #expect(after == [Int64(total - 2)])
        #expect(try r.streamVersion("b") == Int64(total / 3))
    }

    /// A store made by an older Sluice (with `UNIQUE (stream_id, stream_version)` and no
    /// `sluice_streams`) is read as it is, and migrated by the first output that opens it.
    @Test func aStoreOfTheEarlierLayoutIsReadAndMigrated() throws {
        let dir = try scratchDirectory("migrate")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("old.db").path
        try runSQLite(
            path,
            """
            CREATE TABLE sluice_store (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE events (
                position INTEGER PRIMARY KEY, stream_id TEXT NOT NULL, stream_version INTEGER NOT NULL,
                event_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, schema_version INTEGER NOT NULL,
                event_time INTEGER NOT NULL, data TEXT NOT NULL, appended_at INTEGER NOT NULL,
                UNIQUE (stream_id, stream_version));
            CREATE INDEX events_event_time ON events (event_time);
            INSERT INTO sluice_store (key, value) VALUES ('layout', 'sluice-events-1');
            INSERT INTO events (stream_id, stream_version, event_id, type, schema_version, event_time, data, appended_at)
            VALUES ('o1', 1, 'a', 'placed', 1, 10, '{"id":"a"}', 10), ('o2', 1, 'b', 'placed', 1, 20, '{"id":"b"}', 20),
                   ('o1', 2, 'c', 'paid', 1, 30, '{"id":"c"}', 30);
            """)
        let before = try SQLiteEventStore.openForReading(path: path)
        #expect(try before.readAll(.stream("o1")).map(\.eventID) == ["a", "c"])
        #expect(try before.streamVersion("o1") == 2)
        before.close()
        let w = try SQLiteEventStore.openForAppend(path: path)
        defer { w.close() }
        #expect(
            try w.append([newEvent("o1", "d"), newEvent("o2", "e", expected: 1), newEvent("o1", "a")]) == [
                .appended(position: 4, version: 3), .appended(position: 5, version: 2), .duplicate,
            ])
        let after = try SQLiteEventStore.openForReading(path: path)
        defer { after.close() }
        #expect(try after.readAll(.stream("o1")).map(\.version) == [1, 2, 3])
        #expect(try after.readAll(.time(20)).map(\.eventID) == ["b", "c", "d", "e"])
        #expect(try after.readAll().map(\.data).first == #"{"id":"a"}"#)
        // The file now has this Sluice's layout: the old unique index is gone.
        #expect(
            try querySQLite(
                path,
                """
                SELECT value FROM sluice_store WHERE key = 'layout';
                SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' ORDER BY name);
                """) == ["sluice-events-3", "events_event_time,events_stream,sqlite_autoindex_events_1"])
        // The migrated rows are not marked as written by Sluice's serializer; the new one is
        // not either (appended through the API with bytes of its own).
        #expect(try querySQLite(path, "SELECT group_concat(data_valid, ',') FROM events") == ["0,0,0,0,0"])
    }

    /// A store of layout 2 (before `data_valid`) is read as it is, every row validated, and
    /// the first output that opens it adds the column (0 on the old rows) and its trigger.
    @Test func aStoreOfLayout2IsReadAndMigrated() throws {
        let dir = try scratchDirectory("migrate2")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("orders.db").path
        try runSQLite(
            path,
            """
            CREATE TABLE sluice_store (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE events (
                position INTEGER PRIMARY KEY, stream_id TEXT NOT NULL, stream_version INTEGER NOT NULL,
                event_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, schema_version INTEGER NOT NULL,
                event_time INTEGER NOT NULL, data TEXT NOT NULL, appended_at INTEGER NOT NULL);
            CREATE TABLE sluice_streams (stream_id TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID;
            CREATE INDEX events_stream ON events (position / 8192, stream_id);
            CREATE INDEX events_event_time ON events (event_time);
            INSERT INTO sluice_store (key, value) VALUES ('layout', 'sluice-events-2'), ('streams_at', 2);
            INSERT INTO events (stream_id, stream_version, event_id, type, schema_version, event_time, data, appended_at)
            VALUES ('o1', 1, 'a', 'placed', 1, 10, '{"id":"a"}', 10), ('o1', 2, 'b', 'placed', 1, 20, '{"id":', 20);
            INSERT INTO sluice_streams (stream_id, version) VALUES ('o1', 2);
            """)
        let replay = try compilePipeline(
            """
            inputs: { history: { store: { sqlite: orders.db } } }
            outputs:
              out: { from: [history], stdout: {} }
              bad: { from: [history.malformed], stdout: {} }
            """, in: dir)
        var (outcome, out) = try run(replay, collect: ["out", "bad"])
        #expect(outcome == .completed)
        #expect(out["out"]?.map { $0["id"] } == ["a"])
        #expect(out["bad"]?.map { $0["raw"] } == [#"{"id":"#])
        let append = try compilePipeline(StorePipelineTests.appendYAML, in: dir)
        (outcome, _) = try run(append, events: [order("c", "o1", "paid")])
        #expect(outcome == .completed)
        #expect(
            try querySQLite(
                path,
                """
                SELECT value FROM sluice_store WHERE key = 'layout';
                SELECT group_concat(data_valid, ',') FROM (SELECT data_valid FROM events ORDER BY position);
                SELECT name FROM sqlite_master WHERE type = 'trigger';
                SELECT version FROM sluice_streams WHERE stream_id = 'o1';
                """) == ["sluice-events-3", "0,0,1", "events_data_changed", "3"])
        (outcome, out) = try run(replay, collect: ["out", "bad"])
        #expect(outcome == .completed)
        #expect(out["out"]?.map { $0["id"] } == ["a", "c"])
        #expect(out["bad"]?.map { $0["raw"] } == [#"{"id":"#])
    }

    /// Replayed events stay raw with their metadata spliced in; one that carries a
    /// metadata field already (it was replayed and appended again) gets its own instead.
    @Test func replayedEventsGetTheirOwnMetadata() throws {
        let dir = try scratchDirectory("meta")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("orders.db").path
        let longType = String(repeating: "t", count: 120)
        let store = try SQLiteEventStore.openForAppend(path: path)
        _ = try store.append([
            NewEvent(streamID: "s", eventID: "e1", type: "t", eventTime: 5, data: Array(#"{"id":"e1"}"#.utf8)),
            NewEvent(
                streamID: "s", eventID: "e2", type: "t", eventTime: 6,
                data: Array(#"{"id":"e2","_store":{"position":99}}"#.utf8)),
            NewEvent(streamID: "s", eventID: "e3", type: "t", eventTime: 7, data: Array(#" {"id":"e3"} "#.utf8)),
            // The key spelled with an escape, and the key's text inside a value only.
            NewEvent(
                streamID: "s", eventID: "e4", type: "t", eventTime: 8,
                data: Array(#"{"id":"e4","\u005fstore":{"position":99}}"#.utf8)),
            NewEvent(
                streamID: "s", eventID: "e5", type: "t", eventTime: 9,
                data: Array(#"{"id":"e5","note":"\"_store\""}"#.utf8)),
            // Metadata texts that need escapes, or are not ASCII, or are long.
            NewEvent(
                streamID: "q\"s\\", eventID: "é6", type: longType, eventTime: 10,
                data: Array(#"{"id":"e6"}"#.utf8)),
        ])
        store.close()
        let p = try compilePipeline(
            """
            inputs: { history: { store: { sqlite: orders.db } } }
            outputs: { out: { from: [history], stdout: {} } }
            """, in: dir)
        let (outcome, out) = try run(p, collect: ["out"])
        #expect(outcome == .completed)
        let events = out["out"] ?? []
        #expect(events.map { $0["id"] } == ["e1", "e2", "e3", "e4", "e5", "e6"])
        #expect(events.map { $0["_store"]?["position"] } == [1, 2, 3, 4, 5, 6])
        #expect(events.map { $0["_store"]?["event_time"] } == [5, 6, 7, 8, 9, 10])
        #expect(events.map { $0["_store"]?["stream"] } == ["s", "s", "s", "s", "s", "q\"s\\"])
        #expect(events.last?["_store"]?["id"] == "é6")
        #expect(events.last?["_store"]?["type"] == .string(longType))
        #expect(events.first?["_store"]?["type"] == "t")
    }

    /// The metadata's integers are written right whatever their size and sign (a row
    /// written by another program may hold any).
    @Test func metadataIntegersOfEverySizeAndSign() throws {
        let dir = try scratchDirectory("ints")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("orders.db").path
        let store = try SQLiteEventStore.openForAppend(path: path)
        store.close()
        let values: [Int64] = [
            0, 1, 9, 10, 99, 100, 999, 1000, 1_796_647_472_139, 9_999_999_999_999, 10_000_000_000_000,
            999_999_999_999_999_999, 1_000_000_000_000_000_000, Int64.max, -1, -10, -99, -100, Int64.min,
        ]
        var sql = ""
        for (i, v) in values.enumerated() {
            sql += """
                INSERT INTO events (stream_id, stream_version, event_id, type, schema_version, event_time, data, appended_at)
                VALUES ('s', \(v), 'e\(i)', 't', \(v), \(v), '{}', \(v));

                """
        }
        try runSQLite(path, sql)
        let p = try compilePipeline(
            """
            inputs: { history: { store: { sqlite: orders.db } } }
            outputs: { out: { from: [history], stdout: {} } }
            """, in: dir)
        let (outcome, out) = try run(p, collect: ["out"])
        #expect(outcome == .completed)
        let events = out["out"] ?? []
        #expect(events.count == values.count)
        for (e, v) in zip(events, values) {
            for key in ["version", "schema_version", "event_time", "appended_at"] {
                #expect(e["_store"]?[key] == .int(v), "\(key) of \(v)")
            }
        }
        #expect(events.map { $0["_store"]?["position"] } == (1...values.count).map { .int(Int64($0)) })
    }

    /// Stored data that is not a JSON object goes to `INPUT.malformed` with its position.
    @Test func storedDataThatIsNotAnObjectIsMalformed() throws {
        let dir = try scratchDirectory("malformed")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("orders.db").path
        let store = try SQLiteEventStore.openForAppend(path: path)
        _ = try store.append([
            NewEvent(streamID: "s", eventID: "e1", type: "t", eventTime: 5, data: Array("5".utf8)),
            NewEvent(streamID: "s", eventID: "e2", type: "t", eventTime: 6, data: Array("{nope".utf8)),
            NewEvent(streamID: "s", eventID: "e3", type: "t", eventTime: 7, data: Array(#"{"id":"e3"}"#.utf8)),
        ])
        store.close()
        let p = try compilePipeline(
            """
            inputs: { history: { store: { sqlite: orders.db } } }
            outputs:
              out: { from: [history], stdout: {} }
              bad: { from: [history.malformed], stdout: {} }
            """, in: dir)
        let (outcome, out) = try run(p, collect: ["out", "bad"])
        #expect(outcome == .completed)
        #expect(out["out"]?.map { $0["id"] } == ["e3"])
        let bad = out["bad"] ?? []
        #expect(bad.map { $0["raw"] } == ["5", "{nope"])
        #expect(bad.first?["error"]?["message"] == "position 1: stored data is a JSON int, not an object")
        #expect(
            bad.last?["error"]?["message"]?.stringValue?.hasPrefix("position 2: stored data is not valid JSON") == true)
    }
}

/// The first column of the first row of each `;`-separated query, read by another
/// program (python's sqlite3).
func querySQLite(_ path: String, _ sql: String) throws -> [String] {
    let p = Process()
    let pipe = Pipe()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [
        "python3", "-c",
        "import sqlite3,sys; c=sqlite3.connect(sys.argv[1])\nfor q in sys.argv[2].split(';'):\n  if q.strip(): print(c.execute(q).fetchone()[0])",
        path, sql,
    ]
    p.standardOutput = pipe
    try p.run()
    let out = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    if p.terminationStatus != 0 { throw StoreError("python3 sqlite3 failed on \(path)") }
    return String(decoding: out, as: UTF8.self).split(separator: "\n").map(String.init)
}
