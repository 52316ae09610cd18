import SluiceCore
import SluiceJSON
import SluicePipeline
import Testing

/// `limits: {cel_cost: N}` and the check's warning for expressions whose cost multiplies.
@Suite struct CostLimitTests {
    static func event(_ id: Int, _ n: Int) -> JSON {
        ["id": .int(Int64(id)), "l": .array((0..<n).map { .int(Int64($0)) })]
    }

    @Test func anEventOverTheBudgetIsRejectedAndTheBatchGoesOn() throws {
        let p = try compile(
            """
            limits: { cel_cost: 10000 }
            steps:
              - filter: "l.all(a, l.all(b, a + b >= 0))"
            """)
        let input = [Self.event(1, 10), Self.event(2, 200), Self.event(3, 50)]
        let (out, outcome) = try p.collect(["in": events(input)])
        #expect(outcome == .completed)
        #expect(out["out"]?.map { $0.value["id"] } == [1, 3])
        let rejected = out["main.rejected"] ?? []
        #expect(rejected.count == 1)
        #expect(rejected.first?.value["event"]?["id"] == 2)
        #expect(
            rejected.first?.value["error"]?["message"]?.stringValue?.contains(
                "evaluation cost exceeded the limit of 10000") == true)
    }

    @Test func theDefaultBudgetAllowsOrdinaryWork() throws {
        let p = try compile(
            """
            steps:
              - filter: "l.all(a, l.all(b, a + b >= 0))"
            """)
        let (out, _) = try p.collect(["in": events([Self.event(1, 600), Self.event(2, 1100)])])
        #expect(out["out"]?.map { $0.value["id"] } == [1])
        #expect(out["main.rejected"]?.count == 1)
    }

    @Test func checkWarnsWhereTheCostMultiplies() {
        let warned = diagnostics(
            """
            steps:
              - filter: "size(tags) > 0 && items.all(i, items.exists(j, j.sku == i.sku))"
            """)
        #expect(warned.count == 1, "\(warned)")
        // At the outer comprehension ('.all' of items).
        #expect(
            warned.first?.contains(
                "p.yaml:2:37: warning: this expression's cost grows quadratically with the event's size") == true)
        #expect(warned.first?.contains("limits: cel_cost") == true)
        let linear = diagnostics(
            """
            steps:
              - filter: "items.all(i, i.price < max_price) && orders.all(o, o.lines.all(l, l.qty > 0))"
              - enrich: { set: { names: "items.map(i, prefix + i.name)" } }
            """)
        #expect(linear.isEmpty, "\(linear)")
    }

    @Test func aMapWhoseKeysCollideInJSONRejectsTheEvent() throws {
        let p = try compile("steps:\n  - enrich: { set: { m: \"x == 1 ? {1: 'a', '1': 'b'} : {1: 'a'}\" } }\n")
        let (out, _) = try p.collect(["in": events([["x": 1], ["x": 2]])])
        #expect(out["out"]?.map(\.value) == [["x": 2, "m": ["1": "a"]]])
        #expect(
            out["main.rejected"]?.first?.value["error"]?["message"]?.stringValue?.contains("map keys collide") == true)
    }

    @Test func theLimitIsChecked() {
        #expect(
            diagnostics("limits: { cel_cost: 0 }\nsteps: []\n").contains {
                $0.contains("cel_cost") && $0.contains("error")
            })
        #expect(diagnostics("limits: { cel_costs: 5 }\nsteps: []\n").contains { $0.contains("cel_costs") })
    }
}
