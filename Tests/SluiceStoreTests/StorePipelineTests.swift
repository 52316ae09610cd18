import Foundation
import SluiceConnectors
import SluiceCore
import SluiceJSON
import SluicePipeline
import SluiceStore
import SluiceTooling
import Testing

func compilePipeline(_ yaml: String, in dir: URL) throws -> Pipeline {
    try Pipeline.compile(yaml: yaml, file: "p.yaml", baseDirectory: dir.path)
}

func compileErrors(_ yaml: String) -> [String] {
    do {
        _ = try Pipeline.compile(yaml: yaml, file: "p.yaml", baseDirectory: "/nonexistent")
        return []
    } catch {
        return error.items.map(\.description)
    }
}

/// Runs `pipeline` with `events` on its input `in` and collects output `out` (if any).
func run(_ pipeline: Pipeline, events: [JSON] = [], input: String = "in", collect names: [String] = []) throws -> (
    Execution.Outcome, [String: [JSON]]
) {
    var options = RunOptions()
    if pipeline.inputNames.contains(input) {
        options.sources[input] = MemorySource(name: input, items: events.map { .event($0) })
    }
    var sinks: [String: CollectingSink] = [:]
    for n in names {
        let s = CollectingSink(name: n)
        sinks[n] = s
        options.sinks[n] = s
    }
    let r = try pipeline.start(options)
    let outcome = r.wait()
    return (outcome, sinks.mapValues { $0.events.map(\.value) })
}

func order(_ id: String, _ order: String, _ type: String, amount: Int = 10, expected: Int? = nil) -> JSON {
    var o = JSONObject()
    o["id"] = .string(id)
    o["order_id"] = .string(order)
    o["type"] = .string(type)
    o["amount"] = .int(Int64(amount))
    if let expected { o["expected"] = .int(Int64(expected)) }
    return .object(o)
}

@Suite struct StorePipelineTests {
    static let appendYAML = """
        inputs: { in: { stdin: {} } }
        streams: { main: { from: in } }
        outputs:
          log:
            from: [main]
            store: { sqlite: orders.db, stream: order_id, id: id, type: type }
        """

    @Test func theStoreOutputAppendsAndIsIdempotent() throws {
        let dir = try scratchDirectory("out")
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = try compilePipeline(Self.appendYAML, in: dir)
        let events = [order("e1", "o1", "placed"), order("e2", "o2", "placed"), order("e3", "o1", "paid")]
        let (outcome, _) = try run(p, events: events)
        #expect(outcome == .completed)
        // The same events again: stored once.
        let (again, _) = try run(p, events: events + [order("e4", "o1", "shipped")])
        #expect(again == .completed)
        let stored = try SQLiteEventStore.openForReading(path: dir.appendingPathComponent("orders.db").path).readAll()
        #expect(stored.map(\.eventID) == ["e1", "e2", "e3", "e4"])
        #expect(stored.map(\.streamID) == ["o1", "o2", "o1", "o1"])
        #expect(stored.map(\.version) == [1, 1, 2, 3])
        #expect(stored.map(\.type) == ["placed", "placed", "paid", "shipped"])
        #expect(try JSONParser.parse(stored[0].data) == events[0])
    }

    /// Rows the store output wrote are marked valid JSON and not validated on replay; a row
    /// written by anything else, or whose data was changed afterwards, is validated and
    /// goes to `malformed` when it is not JSON.
    @Test func onlyRowsTheStoreOutputWroteSkipValidation() throws {
        let dir = try scratchDirectory("valid")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("orders.db").path
        let p = try compilePipeline(Self.appendYAML, in: dir)
        let (outcome, _) = try run(p, events: [order("e1", "o1", "placed"), order("e2", "o2", "placed")])
        #expect(outcome == .completed)
        #expect(try querySQLite(path, "SELECT group_concat(data_valid, ',') FROM events") == ["1,1"])
        try runSQLite(
            path,
            """
            INSERT INTO events (stream_id, stream_version, event_id, type, schema_version, event_time, data, appended_at)
            VALUES ('o3', 1, 'e3', 'placed', 1, 5, '{"id":"e3",}', 5), ('o3', 2, 'e4', 'placed', 1, 5, '{"id":"e4"}', 5);
            UPDATE events SET data = '{"id":"e2"' WHERE event_id = 'e2';
            """)
        #expect(
            try querySQLite(
                path, "SELECT group_concat(data_valid, ',') FROM (SELECT data_valid FROM events ORDER BY position)")
                == ["1,0,0,0"])
        let replay = try compilePipeline(
            """
            inputs: { history: { store: { sqlite: orders.db } } }
            outputs:
              out: { from: [history], stdout: {} }
              bad: { from: [history.malformed], stdout: {} }
            """, in: dir)
        let (again, out) = try run(replay, collect: ["out", "bad"])
        #expect(again == .completed)
        #expect(out["out"]?.map { $0["id"] } == ["e1", "e4"])
        #expect(out["bad"]?.map { $0["raw"] } == [#"{"id":"e2""#, #"{"id":"e3",}"#])
        #expect(
            out["bad"]?.allSatisfy { $0["error"]?["message"]?.stringValue?.contains("not valid JSON") == true } == true)
    }

    @Test func aVersionConflictGoesToRejectedWithTheActualVersion() throws {
        let dir = try scratchDirectory("conflict")
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = try versionedStorePipeline(rejectedTo: "conflicts", in: dir)
        let (outcome, out) = try run(
            p,
            events: [
                order("e1", "o1", "placed", expected: 0), order("e2", "o1", "paid", expected: 0),
                order("e3", "o1", "paid", expected: 1), order("e4", "o2", "placed", expected: 3),
            ], collect: ["conflicts"])
        #expect(outcome == .completed)
        let rejected = out["conflicts"] ?? []
        #expect(rejected.count == 2)
        #expect(rejected.first?["error"]?["actual_version"] == .int(1))
        #expect(rejected.first?["error"]?["expected_version"] == .int(0))
        #expect(rejected.first?["error"]?["stream"] == .string("o1"))
        #expect(rejected.first?["event"]?["id"] == .string("e2"))
        #expect(rejected.last?["error"]?["actual_version"] == .int(0))
        let stored = try SQLiteEventStore.openForReading(path: dir.appendingPathComponent("orders.db").path).readAll()
        #expect(stored.map(\.eventID) == ["e1", "e3"])
    }

    /// Batches of 512 are appended while the next is prepared: their rejected events
    /// (expression failures, then version conflicts, in each batch) still come out in
    /// input order, each once, and the store holds what appending one by one would have.
    @Test func overlappedBatchesRejectInInputOrder() throws {
        let dir = try scratchDirectory("overlap")
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = try versionedStorePipeline(rejectedTo: "rejected", in: dir)
        var events: [JSON] = []
        var versions: [String: Int] = [:]
        var wantFailed: [String] = []
        var wantConflicts: [String] = []
        var wantStored: [String] = []
        for i in 0..<2000 {
            let id = "e\(i)"
            let stream = "o\(i % 50)"
            let v = versions[stream] ?? 0
            if i % 97 == 5 {
                events.append(["id": .string(id), "type": "placed", "expected": .int(Int64(v))])  // no order_id
                wantFailed.append(id)
            } else if i % 101 == 7 {
                events.append(order(id, stream, "placed", expected: v + 1))
                wantConflicts.append(id)
            } else {
                events.append(order(id, stream, "placed", expected: v))
                versions[stream] = v + 1
                wantStored.append(id)
            }
        }
        let (outcome, out) = try run(p, events: events, collect: ["rejected"])
        #expect(outcome == .completed)
        var failed: [String] = []
        var conflicts: [String] = []
        for r in out["rejected"] ?? [] {
            guard case .string(let id)? = r["event"]?["id"] else { continue }
            if r["error"]?["actual_version"] != nil { conflicts.append(id) } else { failed.append(id) }
        }
        #expect(failed == wantFailed)
        #expect(conflicts == wantConflicts)
        #expect((out["rejected"] ?? []).count == wantFailed.count + wantConflicts.count)
        let stored = try SQLiteEventStore.openForReading(path: dir.appendingPathComponent("orders.db").path).readAll()
        #expect(stored.map(\.eventID) == wantStored)
    }

    @Test func eventsWhoseExpressionsFailAreRejectedNotStored() throws {
        let dir = try scratchDirectory("bad")
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = try compilePipeline(Self.appendYAML, in: dir)
        var options = RunOptions()
        options.sources["in"] = MemorySource(
            name: "in",
            items: [
                .event(order("e1", "o1", "placed")), .event(["id": "e2", "type": "placed"]),
                .event(["id": "e3", "order_id": "o1", "type": 5]),
            ])
        let r = try p.start(options)
        #expect(r.wait() == .completed)
        #expect(r.deadLetters.map(\.name) == ["log.rejected"])
        #expect(r.deadLetters.map(\.count) == [2])
        #expect(r.deadLetterSummary.joined().contains("order_id"))
        let stored = try SQLiteEventStore.openForReading(path: dir.appendingPathComponent("orders.db").path).readAll()
        #expect(stored.map(\.eventID) == ["e1"])
    }

    @Test func theStoreInputReplaysFromEachStart() throws {
        let dir = try scratchDirectory("in")
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = try compilePipeline(Self.appendYAML, in: dir)
        _ = try run(p, events: [order("e1", "o1", "placed"), order("e2", "o2", "placed"), order("e3", "o1", "paid")])
        func replay(_ from: String) throws -> [JSON] {
            let q = try compilePipeline(
                """
                inputs: { history: { store: { sqlite: orders.db, from: \(from) } } }
                outputs: { out: { from: [history], stdout: {} } }
                """, in: dir)
            let (outcome, out) = try run(q, input: "none", collect: ["out"])
            #expect(outcome == .completed)
            return out["out"] ?? []
        }
        let all = try replay("beginning")
        #expect(all.map { $0["id"] } == ["e1", "e2", "e3"])
        #expect(all[2]["_store"]?["position"] == .int(3))
        #expect(all[2]["_store"]?["stream"] == .string("o1"))
        #expect(all[2]["_store"]?["version"] == .int(2))
        #expect(all[2]["_store"]?["type"] == .string("paid"))
        #expect(all[2]["amount"] == .int(10))
        #expect(try replay("2").map { $0["id"] } == ["e2", "e3"])
        #expect(try replay("{stream: o1}").map { $0["id"] } == ["e1", "e3"])
        #expect(try replay("'2000-01-01T00:00:00Z'").count == 3)
        #expect(try replay("'2999-01-01T00:00:00Z'").isEmpty)
    }

    @Test func followModePicksUpAppendsFromAnotherConnection() throws {
        let dir = try scratchDirectory("follow")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("orders.db").path
        let writer = try SQLiteEventStore.openForAppend(path: path)
        _ = try writer.append([newEvent("o1", "a")])
        let q = try compilePipeline(
            """
            inputs: { history: { store: { sqlite: orders.db, follow: true, poll: 10ms } } }
            outputs: { out: { from: [history], stdout: {} } }
            """, in: dir)
        var options = RunOptions()
        let sink = CollectingSink(name: "out")
        options.sinks["out"] = sink
        let r = try q.start(options)
        func waitFor(_ n: Int) -> Bool {
            for _ in 0..<500 {
                if sink.events.count >= n { return true }
                usleep(10_000)
            }
            return false
        }
        #expect(waitFor(1))
        // A second writer: another process (python's sqlite3), then this connection again.
        try runSQLite(
            path,
            """
            INSERT INTO events (stream_id, stream_version, event_id, type, schema_version, event_time, data, appended_at)
            VALUES ('o2', 1, 'b', 'placed', 1, 5, '{"id":"b"}', 5);
            """)
        _ = try writer.append([newEvent("o1", "c")])
        #expect(waitFor(3))
        r.execution.cancel()
        _ = r.wait()
        #expect(sink.events.map { $0.value["id"] } == ["a", "b", "c"])
    }

    @Test func storeConfigMistakesAreDiagnostics() {
        #expect(
            compileErrors(
                """
                inputs: { in: { stdin: {} } }
                outputs:
                  log: { from: [in], store: { sqlite: a.db, stream: order_id } }
                """
            ).contains { $0.contains("'id'") })
        #expect(
            compileErrors(
                """
                inputs: { h: { store: { sqlite: a.db, from: yesterday } } }
                outputs: { out: { from: [h], stdout: {} } }
                """
            ).contains { $0.contains("cannot read 'yesterday'") })
        #expect(
            compileErrors(
                """
                inputs: { in: { stdin: {} } }
                outputs:
                  log: { from: [in], store: { sqlite: a.db, stream: s, id: id, type: type } }
                  out: { from: [log], stdout: {} }
                """
            ).contains { $0.contains("can only be read as 'log.rejected'") })
        #expect(
            compileErrors(
                """
                inputs: { in: { stdin: {} } }
                streams: { main: { from: [in, log.rejected] } }
                outputs:
                  log: { from: [main], store: { sqlite: a.db, stream: s, id: id, type: type } }
                """
            ).contains { $0.contains("a cycle") })
    }

    @Test func aForeignStoreFailsTheStartWithAClearMessage() throws {
        let dir = try scratchDirectory("foreign-run")
        defer { try? FileManager.default.removeItem(at: dir) }
        try runSQLite(dir.appendingPathComponent("orders.db").path, "CREATE TABLE events (x INTEGER);")
        let p = try compilePipeline(Self.appendYAML, in: dir)
        #expect {
            _ = try p.start(RunOptions())
        } throws: { e in
            "\(e)".contains("output 'log'") && "\(e)".contains("Sluice did not make")
        }
    }

    @Test func aStoreOutputCannotBeRedirectedToAFile() throws {
        let dir = try scratchDirectory("bind")
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = try compilePipeline(Self.appendYAML, in: dir)
        var options = RunOptions()
        options.outputs["log"] = "out.jsonl"
        #expect {
            _ = try p.start(options)
        } throws: { e in
            (e as? RunError)?.isUsage == true && "\(e)".contains("cannot be bound to 'out.jsonl'")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("orders.db").path))
    }

    @Test func inMemoryCollectBindsTheStoreOutputWithoutADatabase() throws {
        // `sluice test` collects what a store output would append; no file is made.
        let p = try compilePipeline(Self.appendYAML, in: URL(fileURLWithPath: "/nonexistent-dir"))
        let (out, outcome) = try p.collect(["in": [.event(order("e1", "o1", "placed"))]])
        #expect(outcome == .completed)
        #expect(out["log"]?.map { $0.value["id"] } == ["e1"])
    }
}

/// stdin into `orders.db`, streams by `order_id`, with `expected` as each event's expected
/// version; the store's rejected events go to stdout under the output `rejectedTo`.
func versionedStorePipeline(rejectedTo name: String, in dir: URL) throws -> Pipeline {
    try compilePipeline(
        """
        inputs: { in: { stdin: {} } }
        streams: { main: { from: in } }
        outputs:
          log:
            from: [main]
            store: { sqlite: orders.db, stream: order_id, id: id, type: type, expected_version: expected }
          \(name): { from: [log.rejected], stdout: {} }
        """, in: dir)
}
