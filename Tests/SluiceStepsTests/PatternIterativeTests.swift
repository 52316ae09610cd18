import SluiceCore
import SluiceJSON
import Testing

/// `where` conditions that read earlier captures (Flink's IterativeCondition), and `emit`.
@Suite struct PatternIterativeTests {
    @Test func specExample() throws {
        let (h, _) = try PatternTest.step(
            """
            key: user
            within: 10s
            sequence:
              - name: login
                where: kind == "login"
              - name: buys
                where: kind == "purchase" && amount > login.amount
                times: { min: 2, max: 3 }
            emit:
              user: login.user
              n: size(buys)
              total: buys.map(b, b.amount).sum()
            """)
        let events: [JSON] = [
            ["kind": "login", "user": "u1", "amount": 10],
            ["kind": "purchase", "user": "u1", "amount": 5],
            ["kind": "purchase", "user": "u1", "amount": 20],
            ["kind": "purchase", "user": "u1", "amount": 30],
        ]
        for (i, e) in events.enumerated() { h.send(e, time: Int64(1000 * (i + 1))) }
        h.advance(to: Int64.max)
        #expect(h.take() == [["user": "u1", "n": 2, "total": 50]])
    }

    @Test func conditionOverTheLoopsOwnEvents() throws {
        // Flink's docs: accept "foo" events while the sum of prices stays below 5.
        let (h, _) = try PatternTest.step(
            """
            skip: none
            within: 1h
            sequence:
              - name: start
                where: kind == "s"
              - name: middle
                where: 'kind == "foo" && (size(middle) == 0 ? price : middle.map(x, x.price).sum() + price) < 5.0'
                times: { min: 1 }
              - name: end
                where: kind == "e"
            """)
        let events: [JSON] = [
            ["kind": "s", "id": "s"], ["kind": "foo", "id": "f1", "price": 1.0],
            ["kind": "foo", "id": "f2", "price": 2.0],
            ["kind": "foo", "id": "f3", "price": 3.0], ["kind": "e", "id": "e"],
        ]
        for (i, e) in events.enumerated() { h.send(e, time: Int64(i)) }
        #expect(Set(PatternTest.finish(h)) == ["{s f1 e}", "{s f1 f2 e}"])
    }

    @Test func emitAsOneExpression() throws {
        let (h, _) = try PatternTest.step(
            """
            sequence:
              - name: a
                where: kind == "a"
              - name: b
                where: kind == "b"
            emit: '{"pair": [a.id, b.id], "last": id}'
            """)
        PatternTest.send(h, "a1 b1")
        h.advance(to: Int64.max)
        #expect(h.take() == [["pair": ["a1", "b1"], "last": "b1"]])
    }

    @Test func missingFieldsDoNotMatchAndAreCounted() throws {
        let (h, s) = try PatternTest.step(
            """
            sequence:
              - name: big
                where: amount > 100
            """)
        h.send(["amount": 500, "id": "x"], time: 1)
        h.send(["id": "no-amount"], time: 2)
        h.send(["amount": "text", "id": "bad-type"], time: 3)
        h.send(["amount": 200, "id": "y"], time: 4)
        #expect(PatternTest.finish(h) == ["{x}", "{y}"])
        #expect(s.conditionErrors == 2)
        #expect(h.sides[SidePort.rejected] == nil)
    }

    @Test func emitErrorRejectsTheMatch() throws {
        let (h, _) = try PatternTest.step(
            """
            sequence:
              - name: a
                where: kind == "a"
            emit: { v: a.missing + 1 }
            """)
        PatternTest.send(h, "a")
        h.advance(to: Int64.max)
        #expect(h.take() == [])
        let r = h.sides[SidePort.rejected]?.first?.value
        #expect(r?["error"]?["step"] == "pattern")
        #expect(r?["event"]?["a"]?["id"] == "a")
    }
}
