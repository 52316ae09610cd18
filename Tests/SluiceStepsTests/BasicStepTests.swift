import SluiceCore
import SluiceJSON
import Testing

@Suite struct BasicStepTests {
    func step(_ yaml: String) throws -> StepHarness {
        switch compileStep(yaml) {
        case .success(let s): return StepHarness(s)
        case .failure(let d): throw d
        }
    }

    @Test func filterKeepsMatchesAndRejectsErrors() throws {
        let h = try step(#"filter: amount > 250 && country == "US""#)
        h.send(["amount": 300, "country": "US"])
        h.send(["amount": 100, "country": "US"])
        h.send(["country": "US"])
        #expect(h.take() == [["amount": 300, "country": "US"]])
        let rejected = h.sides[SidePort.rejected] ?? []
        #expect(rejected.count == 1)
        #expect(rejected.first?.value["error"]?["step"] == "filter")
        #expect(rejected.first?.value["error"]?["message"] == "no such attribute: 'amount'")
    }

    @Test func enrichSetsRemovesRenamesInOrder() throws {
        let h = try step(
            """
            enrich:
              set: { big: amount > 1000, geo.city: '"Paris"', amount: amount * 2 }
              remove: [tmp]
              rename: { user: who }
            """)
        h.send(["user": "u1", "amount": 2000, "tmp": 1])
        #expect(JSONWriter.string(h.take()[0]) == #"{"who":"u1","amount":4000,"big":true,"geo":{"city":"Paris"}}"#)
    }

    @Test func enrichSeesTheEventAsItCameIn() throws {
        let h = try step("enrich: { set: { a: 1, b: a + 1 } }")
        h.send(["a": 10])
        #expect(h.take() == [["a": 1, "b": 11]])
    }

    @Test func mapReplacesTheEvent() throws {
        let h = try step(#"map: '{"u": user, "n": size(items)}'"#)
        h.send(["user": "x", "items": [1, 2, 3]])
        h.send(["user": "x"])
        #expect(h.take() == [["u": "x", "n": 3]])
        #expect(h.sides[SidePort.rejected]?.count == 1)
    }

    @Test func whenAppliesTheStepOnlyWhereItHolds() throws {
        let h = try step(
            """
            enrich: { set: { v2: true } }
            when: version == 2
            """)
        h.send(["version": 1])
        h.send(["version": 2])
        #expect(h.take() == [["version": 1], ["version": 2, "v2": true]])
    }

    @Test func expressionErrorsPointIntoTheExpression() {
        guard case .failure(let d) = compileStep("filter: amount >> 5") else {
            Issue.record("compiled")
            return
        }
        #expect(d.items.first?.location?.line == 2)
        #expect((d.items.first?.location?.column ?? 0) > 13)
    }
}

@Suite struct SluiceBindingTests {
    @Test func eventFieldsShadowTypeNames() throws {
        guard case .success(let s) = compileStep(#"filter: type == "login" && int == 3"#) else {
            Issue.record("did not compile")
            return
        }
        let h = StepHarness(s)
        h.send(["type": "login", "int": 3])
        h.send(["type": "logout", "int": 3])
        #expect(h.take() == [["type": "login", "int": 3]])
    }
}

@Suite struct EnrichRawTests {
    @Test func enrichOnRawEventsMatchesEnrichOnParsedEvents() throws {
        guard case .success(let s) = compileStep("enrich: { set: { big: amount > 10, a: 1 } }") else {
            Issue.record("did not compile")
            return
        }
        let text = #"{"amount": 20, "a": 5}"#
        let bytes = Array(text.utf8)
        let buf = bytes.withUnsafeBytes { ByteBuffer(copying: $0) }
        // "a" exists: the general path keeps its place.
        var out = StepOutput()
        s.process(Event(raw: buf, start: 0, count: bytes.count), into: &out)
        #expect(out.events.map(\.description) == [#"{"amount":20,"a":1,"big":true}"#])
        let text2 = #"{"amount": 5}"#
        let bytes2 = Array(text2.utf8)
        let buf2 = bytes2.withUnsafeBytes { ByteBuffer(copying: $0) }
        var out2 = StepOutput()
        s.process(Event(raw: buf2, start: 0, count: bytes2.count), into: &out2)
        #expect(out2.events.map(\.description) == [#"{"amount": 5,"big":false,"a":1}"#])
        #expect(out2.events.first?.value == ["amount": 5, "big": false, "a": 1])
    }
}
