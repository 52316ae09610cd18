import SluiceCEL
import Testing

/// The evaluation cost budget (CELOptions.costLimit) and the static cost estimate.
@Suite struct CostTests {
    static func list(_ n: Int) -> CELValue { .list((0..<n).map { .int(Int64($0)) }) }

    func env(limit: Int = CELOptions.defaultCostLimit) -> CELEnvironment {
        var options = CELOptions()
        options.costLimit = limit
        return CELEnvironment(options: options)
    }

    @Test func nestedComprehensionsStopAtTheBudget() throws {
        // 60^5 = 778 million iterations, and as many list elements: minutes and
        // gigabytes without a budget.
        let l = Self.list(60)
        let building = "l.map(a, l.map(b, l.map(c, l.map(d, l.map(e, a + b + c + d + e)))))"
        #expect(try evalError(building, ["l": l])?.contains("evaluation cost exceeded the limit of 1000000") == true)
        let spinning = "l.all(a, l.all(b, l.all(c, l.all(d, l.all(e, a + b + c + d + e >= 0)))))"
        #expect(try evalError(spinning, ["l": l])?.contains("evaluation cost exceeded") == true)
        // A small list stays well within it.
        #expect(try eval(spinning, ["l": Self.list(5)]) == .bool(true))
    }

    @Test func anExceededBudgetIsNeverAbsorbed() throws {
        let l = Self.list(2_000)
        // `||` absorbs errors and `exists` absorbs an erroring predicate; not this one.
        for source in [
            "l.exists(a, l.exists(b, a + b < 0)) || x == 1",
            "l.exists(a, l.all(b, a + b >= 0) && a < 0)",
            "l.all(a, l.exists(b, b < 0) || a >= 0)",
            "l.all(a, l.all(b, b >= 0)) && x > 5",
        ] {
            let message = try evalError(source, ["l": l, "x": .int(1)])
            #expect(message?.contains("evaluation cost exceeded") == true, "\(source): \(message ?? "no error")")
        }
        // What short-circuiting skips is not evaluated, so it costs nothing.
        #expect(try eval("x == 1 || l.all(a, l.all(b, a + b >= 0))", ["l": l, "x": .int(1)]) == .bool(true))
    }

    @Test func theLimitIsASetting() throws {
        let e = env(limit: 100)
        #expect(try evalError("l.all(x, x >= 0)", ["l": Self.list(101)], env: e)?.contains("limit of 100") == true)
        #expect(try eval("l.all(x, x >= 0)", ["l": Self.list(100)], env: e) == .bool(true))
        // map and filter also count the elements they build.
        #expect(try evalError("l.map(x, x)", ["l": Self.list(60)], env: e) != nil)
        #expect(try eval("l.filter(x, x < 10)", ["l": Self.list(60)], env: e) == Self.list(10))
        let big = env(limit: 100_000_000)
        #expect(try eval("l.all(a, l.all(b, a + b >= 0))", ["l": Self.list(2_000)], env: big) == .bool(true))
    }

    @Test func readsAndStringsBuiltInsideComprehensionsCount() throws {
        let e = env(limit: 10_000)
        // `x in m` scans m on every iteration: 100 iterations, 100 elements read each.
        #expect(try evalError("l.all(x, x in m)", ["l": Self.list(100), "m": Self.list(100)], env: e) != nil)
        #expect(try eval("l.all(x, x in m)", ["l": Self.list(10), "m": Self.list(100)], env: e) == .bool(true))
        // A string built per element is counted by its size (one per ten bytes).
        let s = CELValue.string(String(repeating: "x", count: 10_000))
        #expect(try evalError("l.map(x, s + 'y')", ["l": Self.list(20), "s": s], env: e) != nil)
    }

    @Test func replaceAndJoinCountWhatTheyWouldBuildBeforeBuildingIt() throws {
        // 100,000 matches times a 100,000-byte replacement: 10 GB if built.
        let s = CELValue.string(String(repeating: "a", count: 100_000))
        #expect(try evalError("s.replace('a', s)", ["s": s])?.contains("evaluation cost exceeded") == true)
        #expect(try eval("s.replace('a', 'b').size()", ["s": s]) == .int(100_000))
        let parts = CELValue.list(Array(repeating: .string("p"), count: 100_000))
        #expect(try evalError("l.join(s)", ["l": parts, "s": s])?.contains("evaluation cost exceeded") == true)
        #expect(try eval("l.join(',').size()", ["l": parts]) == .int(199_999))
    }

    @Test func theEstimateFindsWorkThatMultiplies() throws {
        func degree(_ source: String) throws -> Int { try CELEnvironment().compile(source).costEstimate.degree }
        #expect(try degree("amount > 250.0 && country == 'US'") <= 1)
        #expect(try degree("items.all(i, i.price < max_price)") == 1)
        #expect(try degree("items.map(i, prefix + i.id)") == 1)
        #expect(try degree("orders.all(o, o.items.all(i, i.qty > 0))") == 1)
        #expect(try degree("[1, 2, 3].all(x, l.exists(y, y == x))") == 1)
        #expect(try degree("l.all(a, l.all(b, a != b))") == 2)
        #expect(try degree("l.filter(x, x in m)") == 2)
        #expect(try degree("s.replace('a', t)") == 2)
        #expect(try degree("l.map(a, l.map(b, l.map(c, l.map(d, l.map(e, a + b + c + d + e)))))") == 5)
        #expect(try degree("l.map(x, l.map(y, y)) + l") == 2)
        let e = try CELEnvironment().compile("size(x) > 0 && l.all(a, l.exists(b, a == b))").costEstimate
        #expect(e.reason?.contains("'all' over event data") == true)
        #expect(e.offset == 16)
    }
}
