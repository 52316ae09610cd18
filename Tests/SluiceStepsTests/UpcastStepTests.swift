import SluiceCore
import SluiceJSON
import SluiceSteps
import Testing

@Suite struct UpcastStepTests {
    static let chain = """
        upcast:
          version: schema_version
          from:
            1: '{"id": id, "amount_cents": cents}'
            2: '{"id": id, "amount": double(amount_cents) / 100.0, "currency": "USD"}'
            3: '{"id": id, "total": {"amount": amount, "currency": currency}}'
        """

    func harness(_ yaml: String) throws -> StepHarness {
        switch compileStep(yaml) {
        case .success(let s): return StepHarness(s)
        case .failure(let d): throw d
        }
    }

    @Test func aChainBringsEveryVersionToTheLatest() throws {
        let h = try harness(Self.chain)
        h.send(["schema_version": 1, "id": 7, "cents": 1250])
        h.send(["schema_version": 2, "id": 8, "amount_cents": 99])
        h.send(["schema_version": 3, "id": 9, "amount": 1.5, "currency": "EUR"])
        h.send(["schema_version": 4, "id": 10, "total": ["amount": 2.0, "currency": "EUR"]])
        let out = h.take()
        #expect(out.count == 4)
        #expect(out[0] == ["id": 7, "total": ["amount": 12.5, "currency": "USD"], "schema_version": 4])
        #expect(out[1] == ["id": 8, "total": ["amount": 0.99, "currency": "USD"], "schema_version": 4])
        #expect(out[2] == ["id": 9, "total": ["amount": 1.5, "currency": "EUR"], "schema_version": 4])
        // Already at the latest: unchanged.
        #expect(out[3] == ["schema_version": 4, "id": 10, "total": ["amount": 2.0, "currency": "EUR"]])
        #expect(h.sides.isEmpty)
    }

    @Test func unknownVersionsAndFailingLinksAreRejected() throws {
        let h = try harness(Self.chain)
        h.send(["schema_version": 0, "id": 1])
        h.send(["schema_version": 5, "id": 2])
        h.send(["schema_version": "two", "id": 3])
        h.send(["id": 4])
        h.send(["schema_version": 2, "id": 5])  // no amount_cents: the 2 -> 3 link fails
        #expect(h.take().isEmpty)
        let rejected = h.sides[SidePort.rejected] ?? []
        #expect(rejected.count == 5)
        let messages = rejected.map { $0.value["error"]?["message"]?.stringValue ?? "" }
        #expect(messages[0].contains("unknown schema version 0 (this step reads versions 1 to 4)"))
        #expect(messages[1].contains("unknown schema version 5"))
        #expect(messages[2].contains("not an integer"))
        #expect(messages[3].contains("schema_version"))
        #expect(messages[4].contains("upcast from version 2"))
        // The rejected event is the one that came in, not a half-upcast one.
        #expect(rejected[4].value["event"] == ["schema_version": 2, "id": 5])
    }

    @Test func aVersionExpressionThatIsNotAFieldLeavesTheEventsFieldsAlone() throws {
        let h = try harness(
            """
            upcast:
              version: 'has(event.v) ? v : 1'
              from:
                1: '{"id": id, "v": 2, "name": n}'
            """)
        h.send(["id": 1, "n": "a"])
        h.send(["id": 2, "v": 2, "name": "b"])
        #expect(h.take() == [["id": 1, "v": 2, "name": "a"], ["id": 2, "v": 2, "name": "b"]])
    }

    @Test func gapsAndBadVersionsAreDiagnostics() {
        func errors(_ yaml: String) -> String {
            if case .failure(let d) = compileStep(yaml) { return d.items.map(\.description).joined(separator: "\n") }
            return ""
        }
        #expect(
            errors(
                """
                upcast:
                  version: v
                  from: {1: '{"a": 1}', 3: '{"a": 2}'}
                """
            ).contains("no map from version 2 to 3"))
        #expect(
            errors(
                """
                upcast:
                  version: v
                  from: {one: '{"a": 1}'}
                """
            ).contains("'one' is not a version"))
        #expect(
            errors(
                """
                upcast:
                  from: {1: '{"a": 1}'}
                """
            ).contains("'version'"))
        #expect(
            errors(
                """
                upcast:
                  version: v
                  from: {1: 'nope('}
                """
            ).contains("error"))
    }
}
