import Foundation
import SluiceConnectors
import SluiceCore
import SluiceJSON
import SluicePipeline
import SluiceStore
import SluiceTooling
import Testing

/// The rows of projection `table` in `db`, by key, each as `{column: value}`, with the
/// projection's position.
func projectionRows(_ db: String, _ table: String) throws -> (position: Int64, rows: [String: JSON]) {
    let reader = SQLiteProjectionReader(path: db, name: table)
    defer { reader.close() }
    guard let (_, shape) = try reader.state() else { return (0, [:]) }
    var rows: [String: JSON] = [:]
    let position = try reader.readAll { key, values in
        var o = JSONObject()
        for (c, v) in zip(shape.columns, values) { o[c.name] = v }
        rows[key] = .object(o)
    }
    return (position ?? 0, rows)
}

/// Appends `events` (`{id, order_id, type, ...}`) to the store at `db`.
func appendOrders(_ db: String, _ events: [JSON]) throws {
    let store = try SQLiteEventStore.openForAppend(path: db)
    defer { store.close() }
    let batch = events.map { e -> NewEvent in
        var text: [UInt8] = []
        JSONWriter.write(e, into: &text)
        return NewEvent(
            streamID: e["order_id"]?.stringValue ?? "?", eventID: e["id"]?.stringValue ?? "?",
            type: e["type"]?.stringValue ?? "?", eventTime: 1000, data: text)
    }
    _ = try store.append(batch)
}

@Suite struct ProjectionTests {
    static let summaryYAML = """
        inputs: { history: { store: { sqlite: orders.db } } }
        outputs:
          summary:
            from: [history]
            project:
              sqlite: orders.db
              table: order_summary
              key: order_id
              key_column: order_id
              columns:
                customer: string
                total: double
                paid: double
                payments: int
                status: { type: string, initial: "new" }
              on:
                - when: type == "placed"
                  set: { customer: customer, total: amount, status: '"open"' }
                - when: type == "paid"
                  set:
                    paid: row.paid + double(amount)
                    payments: row.payments + 1
                    status: 'row.paid + double(amount) >= row.total ? "paid" : row.status'
                - when: type == "cancelled"
                  delete: true
          bad: { from: [summary.rejected], stdout: {} }
        """

    @Test func insertUpdateAndDelete() throws {
        let dir = try scratchDirectory("proj")
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("orders.db").path
        try appendOrders(
            db,
            [
                ["id": "e1", "order_id": "o1", "type": "placed", "customer": "ann", "amount": 30],
                ["id": "e2", "order_id": "o2", "type": "placed", "customer": "bob", "amount": 10.5],
                ["id": "e3", "order_id": "o1", "type": "paid", "amount": 10],
                ["id": "e4", "order_id": "o3", "type": "placed", "customer": "cy", "amount": 1],
                ["id": "e5", "order_id": "o1", "type": "paid", "amount": 20],
                ["id": "e6", "order_id": "o3", "type": "cancelled"],
                ["id": "e7", "order_id": "o2", "type": "shipped"],
            ])
        let p = try compilePipeline(Self.summaryYAML, in: dir)
        let (outcome, out) = try run(p, collect: ["bad"])
        #expect(outcome == .completed)
        #expect(out["bad"] == [])
        let (position, rows) = try projectionRows(db, "order_summary")
        #expect(position == 7)
        #expect(
            rows == [
                "o1": ["customer": "ann", "total": 30.0, "paid": 30.0, "payments": 2, "status": "paid"],
                "o2": ["customer": "bob", "total": 10.5, "paid": 0.0, "payments": 0, "status": "open"],
            ])

        // A second run applies only what was appended since.
        try appendOrders(db, [["id": "e8", "order_id": "o2", "type": "paid", "amount": 0.5]])
        let (again, _) = try run(p, collect: ["bad"])
        #expect(again == .completed)
        let (position2, rows2) = try projectionRows(db, "order_summary")
        #expect(position2 == 8)
        #expect(rows2["o2"] == ["customer": "bob", "total": 10.5, "paid": 0.5, "payments": 1, "status": "open"])
        #expect(rows2["o1"]?["payments"] == 2)
    }

    @Test func aFailingExpressionRejectsTheEventAndChangesNothing() throws {
        let dir = try scratchDirectory("projbad")
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("orders.db").path
        try appendOrders(
            db,
            [
                ["id": "e1", "order_id": "o1", "type": "placed", "customer": "ann", "amount": 30],
                // `row.paid + amount` fails: a string amount.
                ["id": "e2", "order_id": "o1", "type": "paid", "amount": "ten"],
                // `customer` is an int: it does not fit a string column.
                ["id": "e3", "order_id": "o2", "type": "placed", "customer": 5, "amount": 1],
                ["id": "e4", "order_id": "o1", "type": "paid", "amount": 5],
            ])
        let p = try compilePipeline(Self.summaryYAML, in: dir)
        let (outcome, out) = try run(p, collect: ["bad"])
        #expect(outcome == .completed)
        let bad = out["bad"] ?? []
        #expect(bad.map { $0["event"]?["id"] } == ["e2", "e3"])
        #expect(bad.first?["error"]?["step"] == "summary")
        let m0 = bad.first?["error"]?["message"]?.stringValue ?? ""
        #expect(m0.hasPrefix("column 'paid' 'row.paid + double(amount)': "))
        #expect(bad.last?["error"]?["message"] == "column 'customer' ('customer'): a string column cannot hold int")
        let (position, rows) = try projectionRows(db, "order_summary")
        #expect(position == 4)
        // e2 changed nothing, not even the columns whose expressions did not fail.
        #expect(rows == ["o1": ["customer": "ann", "total": 30.0, "paid": 5.0, "payments": 1, "status": "open"]])
    }

    @Test func configMistakesAreDiagnosedWhereTheyAre() {
        func errors(_ project: String) -> [String] {
            compileErrors(
                """
                inputs: { history: { store: { sqlite: orders.db } } }
                outputs:
                  summary:
                    from: [history]
                    project:
                \(project.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n"))
                """)
        }
        let base = "sqlite: orders.db\ntable: t\nkey: order_id\ncolumns: {total: double}\n"
        #expect(
            errors(base + "on: [{set: {totl: amount}}]").contains {
                $0.contains("p.yaml:10:19: error: ") && $0.contains("no column 'totl'; did you mean 'total'?")
            })
        #expect(
            errors(base + "on: [{set: {total: row.totl + amount}}]").contains {
                $0.contains("'row.totl': table 't' has no column 'totl'")
            })
        #expect(
            errors(base + "on: [{when: row.total > 1, delete: true}]").contains {
                $0.contains("'when' cannot read 'row'")
            })
        #expect(
            errors(base + "on: [{set: {total: amount}, delete: true}]").contains {
                $0.contains("has both 'set' and 'delete: true'")
            })
        #expect(
            errors(base + "on: [{when: true}]").contains {
                $0.contains("needs 'set: {COLUMN: EXPR}' or 'delete: true'")
            })
        #expect(errors(base + "on: [{set: {key: amount}}]").contains { $0.contains("sets the key column 'key'") })
        #expect(
            errors("sqlite: orders.db\ntable: t\ncolumns: {total: double}\non: [{delete: true}]").contains {
                $0.contains("'key'")
            })
        #expect(
            errors("sqlite: orders.db\ntable: events\nkey: k\ncolumns: {total: double}\non: [{delete: true}]").contains
            { $0.contains("'events' is reserved") })
        #expect(
            errors("sqlite: orders.db\ntable: t\nkey: k\ncolumns: {total: decimal}\non: [{delete: true}]").contains {
                $0.contains("decimal")
            })
        #expect(
            errors("sqlite: orders.db\ntable: t\nkey: k\ncolumns: {total: double}\non: []").contains {
                $0.contains("'on' of project output 'summary' is empty")
            })
        #expect(errors(base + "on: [{set: {total: amount +}}]").contains { $0.contains("in expression") })
    }

    @Test func aTableDeclaredWithOtherColumnsIsRefusedUntilRebuilt() throws {
        let dir = try scratchDirectory("projlayout")
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("orders.db").path
        try appendOrders(db, [["id": "e1", "order_id": "o1", "type": "placed", "customer": "ann", "amount": 30]])
        _ = try run(try compilePipeline(Self.summaryYAML, in: dir), collect: ["bad"])
        let changed = try compilePipeline(
            Self.summaryYAML.replacingOccurrences(of: "payments: int", with: "payments: double"), in: dir)
        #expect {
            _ = try changed.start(RunOptions())
        } throws: { e in
            ((e as? RunError)?.message ?? "").contains(
                "was built with the columns order_id (key), customer string, total double, paid double, payments int, status string"
            )
        }
        // Rebuilt with the new columns, from the store.
        let r = try changed.rebuildProjections([])
        #expect(r.wait() == .completed)
        let (position, rows) = try projectionRows(db, "order_summary")
        #expect(position == 1)
        #expect(rows["o1"]?["payments"] == .double(0))
    }

    @Test func aTableSluiceDidNotMakeIsLeftAlone() throws {
        let dir = try scratchDirectory("projforeign")
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("orders.db").path
        try appendOrders(db, [["id": "e1", "order_id": "o1", "type": "placed", "customer": "ann", "amount": 30]])
        let p = try compilePipeline(
            Self.summaryYAML.replacingOccurrences(of: "table: order_summary", with: "table: mine"), in: dir)
        // Someone else's table named like the projection.
        let other = Process()
        other.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        other.arguments = [
            "python3", "-c",
            "import sqlite3; c = sqlite3.connect('\(db)'); c.execute('CREATE TABLE mine (x)'); c.commit()",
        ]
        try other.run()
        other.waitUntilExit()
        #expect {
            _ = try p.start(RunOptions())
        } throws: { e in
            ((e as? RunError)?.message ?? "").contains("has a table 'mine' that is not a Sluice projection")
        }
        #expect {
            _ = try p.rebuildProjections([])
        } throws: { e in
            ((e as? RunError)?.message ?? "").contains("that is not a Sluice projection")
        }
    }

    @Test func positionArrivalCountsEventsForInputsThatReplayFromTheStart() throws {
        let dir = try scratchDirectory("projarrival")
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = try compilePipeline(
            """
            inputs: { in: { stdin: {} } }
            outputs:
              counts:
                from: [in]
                project:
                  sqlite: read.db
                  table: counts
                  key: user
                  position: arrival
                  columns: { n: int }
                  on: [ { set: { n: row.n + 1 } } ]
            """, in: dir)
        let first: [JSON] = [["user": "a"], ["user": "b"], ["user": "a"]]
        #expect(try run(p, events: first).0 == .completed)
        // The same input again with more at its end: only the new events count.
        #expect(try run(p, events: first + [["user": "b"]]).0 == .completed)
        let (position, rows) = try projectionRows(dir.appendingPathComponent("read.db").path, "counts")
        #expect(position == 4)
        #expect(rows == ["a": ["n": 2], "b": ["n": 2]])
    }

    @Test func eventsOutOfPositionOrderAreRejectedNotLost() throws {
        let dir = try scratchDirectory("projorder")
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = try compilePipeline(
            """
            inputs: { in: { stdin: {} } }
            outputs:
              counts:
                from: [in]
                project:
                  sqlite: read.db
                  table: counts
                  key: user
                  position: seq
                  columns: { n: int }
                  on: [ { set: { n: row.n + 1 } } ]
              late: { from: [counts.rejected], stdout: {} }
            """, in: dir)
        let (_, out) = try run(
            p, events: [["user": "a", "seq": 1], ["user": "a", "seq": 3], ["user": "a", "seq": 2]], collect: ["late"])
        #expect(
            out["late"]?.map { $0["error"]?["message"] } == [
                "position 2 is not after 3, the last applied: a projection needs its events in position order"
            ])
        let (position, rows) = try projectionRows(dir.appendingPathComponent("read.db").path, "counts")
        #expect(position == 3)
        #expect(rows == ["a": ["n": 2]])
    }
}
