import Foundation
import SluiceConnectors
import SluiceCore
import SluiceJSON
import SluicePipeline
import SluiceStore
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `tables:` naming a projection: `lookup()` reads the read model, and sees the
/// projection's changes once its refresh interval has passed.
@Suite struct ProjectionLookupTests {
    static let projectYAML = """
        inputs: { history: { store: { sqlite: orders.db } } }
        outputs:
          totals:
            from: [history]
            project:
              sqlite: orders.db
              table: customer_totals
              key: customer
              key_column: customer
              columns: { spent: int, orders: int }
              on: [ { when: type == "placed", set: { spent: row.spent + amount, orders: row.orders + 1 } } ]
        """

    static let enrichYAML = """
        tables:
          totals: { projection: customer_totals, sqlite: orders.db, refresh: 20ms }
        inputs: { in: { stdin: {} } }
        streams:
          main:
            from: in
            steps:
              - enrich: { set: { spent: 'lookup(totals, customer) == null ? 0 : lookup(totals, customer).spent' } }
        outputs: { out: { from: [main], stdout: {} } }
        """

    @Test func lookupReadsTheReadModelAndFollowsItsChanges() throws {
        let dir = try scratchDirectory("lookup")
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("orders.db").path
        let project = try compilePipeline(Self.projectYAML, in: dir)
        try appendOrders(
            db,
            [
                ["id": "e1", "order_id": "o1", "type": "placed", "customer": "ann", "amount": 30],
                ["id": "e2", "order_id": "o2", "type": "placed", "customer": "ann", "amount": 12],
                ["id": "e3", "order_id": "o3", "type": "placed", "customer": "bob", "amount": 5],
            ])
        #expect(try run(project).0 == .completed)

        let enrich = try compilePipeline(Self.enrichYAML, in: dir)
        let table = ProjectionLookupTable(path: db, projection: "customer_totals", refreshMillis: 20)
        let row = try table.current.toJSON()
        #expect(row["ann"] == ["customer": "ann", "spent": 42, "orders": 2])
        #expect(row["bob"] == ["customer": "bob", "spent": 5, "orders": 1])
        #expect(table.loads == 1)
        let (_, out) = try run(enrich, events: [["customer": "ann"], ["customer": "cy"]], collect: ["out"])
        #expect(out["out"] == [["customer": "ann", "spent": 42], ["customer": "cy", "spent": 0]])

        // The projection moves on; within the refresh interval the table is read again.
        let slow = ProjectionLookupTable(path: db, projection: "customer_totals", refreshMillis: 3_600_000)
        #expect(try slow.current.toJSON() == row)
        try appendOrders(db, [["id": "e4", "order_id": "o4", "type": "placed", "customer": "cy", "amount": 7]])
        #expect(try run(project).0 == .completed)
        // A table whose interval has not passed is not checked: stale by at most `refresh`.
        #expect(try slow.current.toJSON() == row)
        usleep(30_000)
        let (_, later) = try run(enrich, events: [["customer": "cy"]], collect: ["out"])
        #expect(later["out"] == [["customer": "cy", "spent": 7]])
        usleep(30_000)
        #expect(try table.current.toJSON()["cy"] == ["customer": "cy", "spent": 7, "orders": 1])
        #expect(table.loads == 2)
        // Nothing changed: checked again, not read again.
        usleep(30_000)
        _ = table.current
        #expect(table.loads == 2)
    }

    @Test func aMissingProjectionReadsAsAnEmptyTable() throws {
        let dir = try scratchDirectory("lookupmissing")
        defer { try? FileManager.default.removeItem(at: dir) }
        let enrich = try compilePipeline(Self.enrichYAML, in: dir)
        let (outcome, out) = try run(enrich, events: [["customer": "ann"]], collect: ["out"])
        #expect(outcome == .completed)
        #expect(out["out"] == [["customer": "ann", "spent": 0]])
    }
}
