import Foundation
import SluiceStore
import SluiceTestSupport
import Testing

/// A fresh folder under the system temp dir, removed by the caller.
func scratchDirectory(_ tag: String) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-store-\(tag)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

func newEvent(_ stream: String, _ id: String, type: String = "placed", time: Int64 = 1000, expected: Int64? = nil)
    -> NewEvent
{
    NewEvent(
        streamID: stream, eventID: id, type: type, schemaVersion: 1, eventTime: time,
        data: Array(#"{"id":"\#(id)","order_id":"\#(stream)"}"#.utf8), expectedVersion: expected)
}

@Suite struct SQLiteEventStoreTests {
    @Test func appendsAssignPositionsAndStreamVersions() throws {
        let dir = try scratchDirectory("append")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try SQLiteEventStore.openForAppend(path: dir.appendingPathComponent("s.db").path)
        let r = try store.append([newEvent("o1", "a"), newEvent("o2", "b"), newEvent("o1", "c")])
        #expect(
            r == [
                .appended(position: 1, version: 1), .appended(position: 2, version: 1),
                .appended(position: 3, version: 2),
            ])
        let r2 = try store.append([newEvent("o1", "d")])
        #expect(r2 == [.appended(position: 4, version: 3)])
        let all = try store.readAll()
        #expect(all.map(\.eventID) == ["a", "b", "c", "d"])
        #expect(all.map(\.version) == [1, 1, 2, 3])
        #expect(all[0].data == #"{"id":"a","order_id":"o1"}"#)
        #expect(try store.streamVersion("o1") == 3)
        #expect(try store.streamVersion("nope") == 0)
        #expect(try store.lastPosition() == 4)
    }

    @Test func reAppendingAnEventIdStoresItOnce() throws {
        let dir = try scratchDirectory("dup")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("s.db").path
        let store = try SQLiteEventStore.openForAppend(path: path)
        _ = try store.append([newEvent("o1", "a"), newEvent("o1", "b")])
        // Again, in a later batch, within one batch, and with an expected version.
        let r = try store.append([
            newEvent("o1", "a"), newEvent("o1", "c"), newEvent("o1", "c"), newEvent("o1", "b", expected: 0),
        ])
        #expect(r == [.duplicate, .appended(position: 3, version: 3), .duplicate, .duplicate])
        // A second connection (as a restarted run would open) sees the same.
        let again = try SQLiteEventStore.openForAppend(path: path)
        #expect(try again.append([newEvent("o1", "a")]) == [.duplicate])
        #expect(try again.readAll().map(\.eventID) == ["a", "b", "c"])
    }

    @Test func expectedVersionConflictsWriteNothing() throws {
        let dir = try scratchDirectory("conflict")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try SQLiteEventStore.openForAppend(path: dir.appendingPathComponent("s.db").path)
        let r = try store.append([
            newEvent("o1", "a", expected: 0),  // new stream: fine
            newEvent("o1", "b", expected: 0),  // the stream is at 1 now
            newEvent("o1", "c", expected: 1),  // fine
            newEvent("o2", "d", expected: 5),  // o2 does not exist
        ])
        #expect(
            r == [
                .appended(position: 1, version: 1), .conflict(actual: 1), .appended(position: 2, version: 2),
                .conflict(actual: 0),
            ])
        #expect(try store.readAll().map(\.eventID) == ["a", "c"])
    }

    @Test func replayStartsAtEachKindOfStart() throws {
        let dir = try scratchDirectory("replay")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("s.db").path
        let store = try SQLiteEventStore.openForAppend(path: path)
        _ = try store.append([
            newEvent("o1", "a", time: 100), newEvent("o2", "b", time: 300), newEvent("o1", "c", time: 200),
            newEvent("o3", "d", time: 400),
        ])
        let reader = try SQLiteEventStore.openForReading(path: path)
        #expect(try reader.readAll(.beginning).map(\.eventID) == ["a", "b", "c", "d"])
        #expect(try reader.readAll(.position(3)).map(\.eventID) == ["c", "d"])
        #expect(try reader.readAll(.time(200)).map(\.eventID) == ["b", "c", "d"])
        #expect(try reader.readAll(.stream("o1")).map(\.eventID) == ["a", "c"])
        #expect(try reader.readAll(.stream("none")).isEmpty)
        // Paged reads keep global order.
        var seen: [Int64] = []
        var last: Int64 = 0
        while try reader.read(
            .beginning, after: last, limit: 1,
            {
                seen.append($0.position); last = $0.position
            }) > 0
        {}
        #expect(seen == [1, 2, 3, 4])
    }

    @Test func aFileWhoseTablesSomethingElseMadeIsRefused() throws {
        let dir = try scratchDirectory("foreign")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("other.db").path
        try runSQLite(path, "CREATE TABLE events (id INTEGER PRIMARY KEY, payload TEXT);")
        #expect {
            _ = try SQLiteEventStore.openForAppend(path: path)
        } throws: { e in
            "\(e)".contains("has an 'events' table that Sluice did not make")
        }
        #expect {
            _ = try SQLiteEventStore.openForReading(path: path)
        } throws: { e in
            "\(e)".contains("Sluice did not make")
        }
        // A file that is not SQLite at all.
        let text = dir.appendingPathComponent("notes.db")
        try Data("hello, this is not a database at all; ".utf8).write(to: text)
        #expect {
            _ = try SQLiteEventStore.openForAppend(path: text.path)
        } throws: { e in
            "\(e)".contains("not a database")
        }
    }

    @Test func missingAndReadOnlyFilesFailClearly() throws {
        let dir = try scratchDirectory("ro")
        defer {
            try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.path)
            try? FileManager.default.removeItem(at: dir)
        }
        #expect {
            _ = try SQLiteEventStore.openForReading(path: dir.appendingPathComponent("missing.db").path)
        } throws: { e in
            "\(e)".contains("no event store at") && "\(e)".contains("missing.db")
        }
        let path = dir.appendingPathComponent("s.db").path
        let store = try SQLiteEventStore.openForAppend(path: path)
        _ = try store.append([newEvent("o1", "a")])
        store.close()
        if getuid() == 0 { return }  // root writes read-only files anyway
        try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: path)
        #expect {
            _ = try SQLiteEventStore.openForAppend(path: path)
        } throws: { e in
            "\(e)".contains("read-only") || "\(e)".contains("readonly")
        }
    }

    @Test func aFailedBatchLeavesNothingBehind() throws {
        let dir = try scratchDirectory("atomic")
        defer { try? FileManager.default.removeItem(at: dir) }
        // The trigger fails the third insert of the next batch: the whole batch goes.
        let store = try storeFailingOnBoom(in: dir)
        #expect(throws: StoreError.self) {
            _ = try store.append([newEvent("o1", "b"), newEvent("o2", "c"), newEvent("o1", "boom")])
        }
        #expect(try store.readAll().map(\.eventID) == ["a"])
        #expect(try store.append([newEvent("o1", "b")]) == [.appended(position: 2, version: 2)])
    }
}

extension SQLiteEventStoreTests {
    /// Appends go in as multi-row INSERTs for runs of events without an expected version
    /// and one by one otherwise (and after a run meets a stored id): random batches, with
    /// repeated and stored ids, expected versions right and wrong, and batches from a
    /// second connection in between, give what appending event by event gives (a model).
    @Test func multiRowAppendsMatchAppendingOneByOne() throws {
        let dir = try scratchDirectory("multirow")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("s.db").path
        let stores = [try SQLiteEventStore.openForAppend(path: path), try SQLiteEventStore.openForAppend(path: path)]
        var rng = SplitMix64(seed: UInt64(19))
        // The model: stored ids, each stream's version, the last position, every append.
        var stored: Set<String> = []
        var versions: [String: Int64] = [:]
        var position: Int64 = 0
        var log: [(id: String, stream: String, version: Int64)] = []
        var nextID = 0
        for round in 0..<60 {
            let size = Int(rng.next() % 150)
            var batch: [NewEvent] = []
            for _ in 0..<size {
                let stream = "s\(rng.next() % 12)"
                let id: String
                if !log.isEmpty && rng.next() % 20 == 0 {
                    id = log[Int(rng.next() % UInt64(log.count))].id  // stored before
                } else if nextID > 0 && rng.next() % 40 == 0 {
                    id = "e\(nextID - 1)"  // maybe repeated within the batch
                } else {
                    id = "e\(nextID)"
                    nextID += 1
                }
                var expected: Int64? = nil
                if rng.next() % 10 == 0 {
                    let v = versions[stream] ?? 0
                    expected = rng.next() % 2 == 0 ? v : v + 1
                }
                batch.append(newEvent(stream, id, time: Int64(round), expected: expected))
            }
            // What appending one event at a time gives.
            var want: [AppendResult] = []
            var batchVersions = versions
            var batchStored = stored
            var batchLog: [(id: String, stream: String, version: Int64)] = []
            var batchPosition = position
            for e in batch {
                let current = batchVersions[e.streamID] ?? 0
                if e.expectedVersion != nil && batchStored.contains(e.eventID) {
                    want.append(.duplicate)
                } else if let x = e.expectedVersion, x != current {
                    want.append(.conflict(actual: current))
                } else if batchStored.contains(e.eventID) {
                    want.append(.duplicate)
                } else {
                    batchPosition += 1
                    batchVersions[e.streamID] = current + 1
                    batchStored.insert(e.eventID)
                    batchLog.append((e.eventID, e.streamID, current + 1))
                    want.append(.appended(position: batchPosition, version: current + 1))
                }
            }
            let got = try stores[Int(rng.next() % 2)].append(batch, now: 5)
            #expect(got == want, "round \(round)")
            versions = batchVersions
            stored = batchStored
            position = batchPosition
            log += batchLog
        }
        let all = try stores[0].readAll()
        #expect(all.map(\.eventID) == log.map(\.id))
        #expect(all.map(\.streamID) == log.map(\.stream))
        #expect(all.map(\.version) == log.map(\.version))
        #expect(all.map(\.position) == Array(1...position))
        for (stream, v) in versions { #expect(try stores[1].streamVersion(stream) == v) }
    }

    /// `sluice_streams` takes a connection's stream versions every
    /// `SQLiteEventStore.recordEvery` events and at `flush()`; until then another
    /// connection counts them in from `events`, so no version is assigned twice.
    @Test func unrecordedStreamVersionsAreCountedInByOtherConnections() throws {
        let dir = try scratchDirectory("unrecorded")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("s.db").path
        let a = try SQLiteEventStore.openForAppend(path: path)
        _ = try a.append([newEvent("o1", "a1"), newEvent("o2", "a2"), newEvent("o1", "a3")])
        _ = try a.append([newEvent("o1", "a4")])
        // Not written yet: streams_at is still 0.
        #expect(try querySQLite(path, "SELECT value FROM sluice_store WHERE key = 'streams_at'") == ["0"])
        #expect(try a.streamVersion("o1") == 3)
        let b = try SQLiteEventStore.openForAppend(path: path)
        #expect(try b.streamVersion("o1") == 3)
        #expect(try b.append([newEvent("o1", "b1")]) == [.appended(position: 5, version: 4)])
        // A's flush after B appended is skipped (B's append counted A's events in).
        try a.flush()
        #expect(
            try a.append([newEvent("o1", "a5"), newEvent("o2", "a6")]) == [
                .appended(position: 6, version: 5), .appended(position: 7, version: 2),
            ])
        try a.flush()
        #expect(
            try querySQLite(
                path,
                """
                SELECT value FROM sluice_store WHERE key = 'streams_at';
                SELECT group_concat(stream_id || '=' || version, ',') FROM (SELECT * FROM sluice_streams ORDER BY 1);
                """) == ["7", "o1=5,o2=2"])
        // A long run writes them as it goes.
        let many = (0..<Int(SQLiteEventStore.recordEvery) + 10).map { newEvent("s\($0 % 3)", "m\($0)") }
        for start in stride(from: 0, to: many.count, by: 5000) {
            _ = try a.append(Array(many[start..<min(start + 5000, many.count)]))
        }
        let at = try querySQLite(path, "SELECT value FROM sluice_store WHERE key = 'streams_at'")
        #expect(at.first.flatMap { Int64($0) }.map { $0 >= SQLiteEventStore.recordEvery } == true)
        #expect(
            try b.append([newEvent("s0", "b2")]) == [
                .appended(position: 7 + Int64(many.count) + 1, version: Int64((many.count + 2) / 3) + 1)
            ])
    }

    /// A failure in the middle of a multi-row INSERT (here a trigger's, for the 40th event of
    /// a run) rolls the whole batch back, as one by one.
    @Test func aFailedMultiRowInsertLeavesNothingBehind() throws {
        let dir = try scratchDirectory("multirow-atomic")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try storeFailingOnBoom(in: dir)
        var batch = (0..<100).map { newEvent("o\($0 % 7)", "x\($0)") }
        batch[40] = newEvent("o1", "boom")
        #expect(throws: StoreError.self) { _ = try store.append(batch) }
        #expect(try store.readAll().map(\.eventID) == ["a"])
        #expect(try store.streamVersion("o1") == 1)
        #expect(try store.append([newEvent("o1", "b")]) == [.appended(position: 2, version: 2)])
    }
}

/// A store in `dir` holding one event, `a` of stream `o1`, whose `events` table has a
/// trigger that fails the insert of any event with id `boom` (as a full disk would).
func storeFailingOnBoom(in dir: URL) throws -> SQLiteEventStore {
    let path = dir.appendingPathComponent("s.db").path
    let store = try SQLiteEventStore.openForAppend(path: path)
    _ = try store.append([newEvent("o1", "a")])
    try runSQLite(
        path,
        """
        CREATE TRIGGER fail_boom BEFORE INSERT ON events WHEN NEW.event_id = 'boom'
        BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;
        """)
    return store
}

/// Runs SQL on `path` with the sqlite3 module of Python (a second, independent writer).
func runSQLite(_ path: String, _ sql: String) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [
        "python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()",
        path, sql,
    ]
    try p.run()
    p.waitUntilExit()
    if p.terminationStatus != 0 { throw StoreError("python3 sqlite3 failed on \(path)") }
}
