import SluiceCore
import SluiceJSON
import SluiceSteps
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `validate` with `version:` and `schemas:`: each event is checked against the schema of
/// its own version; an unknown version goes to `rejected`.
@Suite struct ValidateVersionTests {
    func step(_ yaml: String) throws -> StepHarness {
        switch compileStep(yaml) {
        case .success(let s): return StepHarness(s)
        case .failure(let d): throw d
        }
    }

    func messages(_ yaml: String) -> [String] {
        guard case .failure(let d) = compileStep(yaml) else {
            Issue.record("compiled: \(yaml)")
            return []
        }
        return d.items.map(\.description)
    }

    @Test func eachVersionIsCheckedAgainstItsOwnSchema() throws {
        let path = writeTempFile(#"{"type": "object", "required": ["id", "amount"]}"#)
        defer { unlink(path) }
        let h = try step(
            """
            validate:
              version: schema_version
              schemas:
                1: { type: object, required: [id, amount_cents] }
                2: \(path)
            """)
        h.send(["id": "a", "schema_version": 1, "amount_cents": 500])
        h.send(["id": "b", "schema_version": 2, "amount": 5.0])
        // Valid for version 2, not for version 1, and the other way round.
        h.send(["id": "c", "schema_version": 1, "amount": 5.0])
        h.send(["id": "d", "schema_version": 2, "amount_cents": 500])
        #expect(h.take().map { $0["id"] } == ["a", "b"])
        let rejected = h.sides[SidePort.rejected] ?? []
        #expect(rejected.map { $0.value["event"]?["id"] } == ["c", "d"])
        #expect(
            rejected.first?.value["error"]?["message"] == "1 violation: /: missing required property 'amount_cents'")
        #expect(rejected.last?.value["error"]?["message"] == "1 violation: /: missing required property 'amount'")
    }

    @Test func anUnknownOrMissingVersionIsRejectedEvenWhenInvalidEventsAreDropped() throws {
        let h = try step(
            """
            validate:
              version: schema_version
              schemas: { 1: { type: object } }
              rules: [ id != "" ]
              on_invalid: drop
            """)
        h.send(["id": "a", "schema_version": 1])
        h.send(["id": "b", "schema_version": 3])
        h.send(["id": "c", "schema_version": "one"])
        h.send(["id": "d"])
        h.send(["id": "", "schema_version": 1])
        #expect(h.take().map { $0["id"] } == ["a"])
        let rejected = (h.sides[SidePort.rejected] ?? []).map(\.value)
        #expect(rejected.map { $0["event"]?["id"] } == ["b", "c", "d"])
        #expect(rejected[0]["error"]?["message"] == "unknown schema version 3 (this step has schemas for 1)")
        #expect(rejected[1]["error"]?["message"] == "the version 'schema_version' is string, not an integer")
        #expect(rejected[2]["error"]?["message"]?.stringValue?.hasPrefix("version 'schema_version': ") == true)
        #expect(
            rejected[0]["error"]?["violations"] == [
                ["version": "schema_version", "message": rejected[0]["error"]?["message"] ?? .null]
            ])
    }

    @Test func mistakesAreReportedWhereTheyAre() {
        #expect(
            messages("validate: { version: v }").contains { $0.contains("'version' in 'validate' needs 'schemas'") })
        #expect(
            messages("validate: { schemas: { 1: {type: object} } }").contains {
                $0.contains("'schemas' in 'validate' needs 'version'")
            })
        #expect(
            messages("validate: { version: v, schemas: { one: {type: object} } }").contains {
                $0.contains("'one' is not a version")
            })
        #expect(
            messages("validate: { version: v, schemas: { 1: {type: object} }, schema: {type: object} }").contains {
                $0.contains("schema")
            })
        #expect(
            messages("validate: { version: v, schemas: { 1: {type: 5} } }").contains {
                $0.contains("invalid JSON Schema")
            })
    }
}
