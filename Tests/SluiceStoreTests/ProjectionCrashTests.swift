import Foundation
import SluiceJSON
import SluiceStore
import Testing

/// `kill -9` in the middle of a projection run, with the real binary: after a restart the
/// rows equal a fold of the store computed here (nothing applied twice, nothing missed),
/// and `sluice project rebuild` makes the same rows again.
@Suite struct ProjectionCrashTests {
    @Test func killDashNineThenRestartGivesExactlyTheFold() throws {
        let dir = try scratchDirectory("projcrash")
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("orders.db").path
        let total = 150_000
        // Deterministic amounts; every 7th order is cancelled once (its row deleted, then
        // made again by later events).
        var events: [JSON] = []
        events.reserveCapacity(total)
        for i in 1...total {
            let order = "o\(i % 1013)"
            if i % 7919 == 0 {
                events.append(["id": .string("e\(i)"), "order_id": .string(order), "type": "cancelled"])
            } else {
                events.append(
                    ["id": .string("e\(i)"), "order_id": .string(order), "type": "paid", "amount": .int(Int64(i % 97))])
            }
        }
        for chunk in stride(from: 0, to: total, by: 10_000) {
            try appendOrders(db, Array(events[chunk..<min(total, chunk + 10_000)]))
        }
        let pipeline = dir.appendingPathComponent("p.yaml")
        try Data(
            """
            inputs: { history: { store: { sqlite: orders.db } } }
            outputs:
              totals:
                from: [history]
                project:
                  sqlite: orders.db
                  table: order_totals
                  key: order_id
                  columns: { total: int, count: int, last: string }
                  on:
                    - when: type == "cancelled"
                      delete: true
                    - set: { total: row.total + amount, count: row.count + 1, last: id }
            """.utf8
        ).write(to: pipeline)

        func launch(_ args: [String]) throws -> Process {
            let p = Process()
            p.executableURL = CrashTests.binary
            p.arguments = args
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            return p
        }
        func position() -> Int64 { (try? projectionRows(db, "order_totals").position) ?? 0 }

        let first = try launch(["run", pipeline.path])
        var waited = 0
        while position() == 0 && waited < 5000 && first.isRunning {
            usleep(2_000)
            waited += 2
        }
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let cut = position()
        #expect(cut > 0)

        // What was committed is exactly the fold of the events up to the stored position.
        func fold(upTo n: Int) -> [String: JSON] {
            var rows: [String: (Int64, Int64, String)] = [:]
            for e in events.prefix(n) {
                let key = e["order_id"]?.stringValue ?? ""
                if e["type"] == "cancelled" {
                    rows[key] = nil
                    continue
                }
                let r = rows[key] ?? (0, 0, "")
                guard case .int(let amount)? = e["amount"] else { continue }
                rows[key] = (r.0 + amount, r.1 + 1, e["id"]?.stringValue ?? "")
            }
            return rows.mapValues { ["total": .int($0.0), "count": .int($0.1), "last": .string($0.2)] }
        }
        #expect(try projectionRows(db, "order_totals").rows == fold(upTo: Int(cut)))

        // Restarted: it goes on from the stored position to the end.
        let second = try launch(["run", pipeline.path])
        second.waitUntilExit()
        #expect(second.terminationStatus == 0)
        let live = try projectionRows(db, "order_totals")
        #expect(live.position == Int64(total))
        let expected = fold(upTo: total)
        #expect(live.rows == expected)

        // Rebuilt from the store: the same rows.
        let rebuild = try launch(["project", "rebuild", pipeline.path, "--projection", "order_totals"])
        rebuild.waitUntilExit()
        #expect(rebuild.terminationStatus == 0)
        let rebuilt = try projectionRows(db, "order_totals")
        #expect(rebuilt.position == Int64(total))
        #expect(rebuilt.rows == live.rows)
    }
}
