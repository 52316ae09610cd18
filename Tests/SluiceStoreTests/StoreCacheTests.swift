import Foundation
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

    /// Replayed events stay raw with their metadata spliced in; one that carries a
    /// metadata field already (it was replayed and appended again) gets its own instead.
    @Test func replayedEventsGetTheirOwnMetadata() throws {
        let dir = try scratchDirectory("meta")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("orders.db").path
        let store = try SQLiteEventStore.openForAppend(path: path)
        _ = try store.append([
            NewEvent(streamID: "s", eventID: "e1", type: "t", eventTime: 5, data: Array(#"{"id":"e1"}"#.utf8)),
            NewEvent(
                streamID: "s", eventID: "e2", type: "t", eventTime: 6,
                data: Array(#"{"id":"e2","_store":{"position":99}}"#.utf8)),
            NewEvent(streamID: "s", eventID: "e3", type: "t", eventTime: 7, data: Array(#" {"id":"e3"} "#.utf8)),
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
        #expect(events.map { $0["id"] } == ["e1", "e2", "e3"])
        #expect(events.map { $0["_store"]?["position"] } == [1, 2, 3])
        #expect(events.map { $0["_store"]?["event_time"] } == [5, 6, 7])
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
