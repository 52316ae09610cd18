import SluiceCore
import SluiceJSON
import SluiceSteps
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes `text` to a fresh file under the temporary folder and returns its path.
func writeTempFile(_ text: String, suffix: String = ".json") -> String {
    let path = "/tmp/sluice-steps-test-\(getpid())-\(UInt64.random(in: 0...UInt64.max))\(suffix)"
    if let f = fopen(path, "wb") {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        fclose(f)
    }
    return path
}

@Suite struct ValidateStepTests {
    func step(_ yaml: String) throws -> StepHarness {
        switch compileStep(yaml) {
        case .success(let s): return StepHarness(s)
        case .failure(let d): throw d
        }
    }

    func diagnostics(_ yaml: String) -> [Diagnostic] {
        guard case .failure(let d) = compileStep(yaml) else {
            Issue.record("compiled: \(yaml)")
            return []
        }
        return d.items
    }

    static let schemaYAML = """
        validate:
          schema:
            type: object
            required: [id, amount]
            properties:
              id: { type: string }
              amount: { type: number, minimum: 0 }
        """

    @Test func validEventsPassUnchanged() throws {
        let h = try step(Self.schemaYAML)
        h.send(["id": "a", "amount": 5])
        #expect(h.take() == [["id": "a", "amount": 5]])
        #expect(h.sides.isEmpty)
    }

    @Test func everyViolationIsListedWithItsPointer() throws {
        let h = try step(Self.schemaYAML)
        h.send(["amount": -5])
        #expect(h.take().isEmpty)
        let rejected = try #require(h.sides[SidePort.rejected]?.first).value
        #expect(rejected["event"] == ["amount": -5])
        #expect(rejected["error"]?["step"] == "validate")
        #expect(
            rejected["error"]?["violations"] == [
                ["path": "", "keyword": "required", "message": "missing required property 'id'"],
                ["path": "/amount", "keyword": "minimum", "message": "-5 is less than the minimum of 0"],
            ])
        #expect(
            rejected["error"]?["message"]
                == "2 violations: /: missing required property 'id'; /amount: -5 is less than the minimum of 0")
    }

    @Test func schemaFromAFile() throws {
        let path = writeTempFile(#"{"type": "object", "properties": {"n": {"type": "integer", "maximum": 10}}}"#)
        defer { unlink(path) }
        let h = try step("validate: { schema_file: \(path) }")
        h.send(["n": 3])
        h.send(["n": 30])
        #expect(h.take() == [["n": 3]])
        let v = h.sides[SidePort.rejected]?.first?.value["error"]?["violations"]
        #expect(v == [["path": "/n", "keyword": "maximum", "message": "30 is greater than the maximum of 10"]])
    }

    @Test func rulesAddToSchemaViolations() throws {
        let h = try step(
            """
            validate:
              schema: { type: object, required: [id] }
              rules:
                - { expr: amount < 1000, message: amount too large }
                - { expr: 'currency in ["EUR", "USD"]', message: unknown currency }
            name: check
            """)
        h.send(["id": 1, "amount": 5, "currency": "EUR"])
        h.send(["amount": 5000, "currency": "EUR"])
        h.send(["id": 2, "currency": "GBP"])
        #expect(h.take() == [["id": 1, "amount": 5, "currency": "EUR"]])
        let rejected = h.sides[SidePort.rejected] ?? []
        #expect(rejected.count == 2)
        #expect(rejected.first?.value["error"]?["step"] == "check")
        #expect(
            rejected.first?.value["error"]?["violations"] == [
                ["path": "", "keyword": "required", "message": "missing required property 'id'"],
                ["rule": "amount < 1000", "message": "amount too large"],
            ])
        // A rule that cannot be evaluated counts as failed, with the error as its message.
        #expect(
            rejected.last?.value["error"]?["violations"] == [
                ["rule": "amount < 1000", "message": "no such attribute: 'amount'"],
                ["rule": #"currency in ["EUR", "USD"]"#, "message": "unknown currency"],
            ])
        #expect(
            rejected.last?.value["error"]?["message"] == "2 violations: no such attribute: 'amount'; unknown currency")
    }

    @Test func rulesAlone() throws {
        let h = try step("validate: { rules: [ { expr: n > 0 }, 'n < 10' ] }")
        h.send(["n": 5])
        h.send(["n": 50])
        #expect(h.take() == [["n": 5]])
        #expect(
            h.sides[SidePort.rejected]?.first?.value["error"]?["violations"] == [
                ["rule": "n < 10", "message": "failed: n < 10"]
            ])
    }

    @Test func dropCountsInvalidEvents() throws {
        let s = try compileStep("validate: { rules: [{expr: n > 0, message: positive}], on_invalid: drop }").get()
        let h = StepHarness(s)
        h.send(["n": 1])
        h.send(["n": -1])
        h.send(["n": -2])
        #expect(h.take() == [["n": 1]])
        #expect(h.sides.isEmpty)
        #expect((s as? ValidateStep)?.droppedCount == 2)
    }

    @Test func stopRejectsTheEventAndAsksToStop() throws {
        let s = try compileStep("validate: { rules: [{expr: n > 0, message: positive}], on_invalid: stop }").get()
        let v = try #require(s as? ValidateStep)
        let h = StepHarness(s)
        h.send(["n": 1])
        #expect(v.stopReason == nil)
        h.send(["n": -1])
        #expect(h.take() == [["n": 1]])
        #expect(h.sides[SidePort.rejected]?.count == 1)
        #expect(v.stopReason == "validate: invalid event: 1 violation: positive")
    }

    @Test func neitherSchemaNorRulesIsAnError() {
        let d = diagnostics("validate: { on_invalid: drop }")
        #expect(d.first?.message == "'validate' needs a schema or rules")
        #expect(
            diagnostics("validate: { schema: {}, schema_file: x.json }").first?.message
                == "'schema' and 'schema_file' cannot be used together in 'validate'")
        #expect(
            diagnostics("validate: { rules: [{expr: n > 0}], on_invalid: drops }").first?.message
                == "unknown value 'drops' for 'on_invalid' in 'validate'; did you mean 'drop'?")
    }

    @Test func badInlineSchemaPointsAtTheKeyword() {
        let d = diagnostics(
            """
            validate:
              schema:
                type: object
                properties:
                  amount: { minimum: lots }
            """)
        #expect(d.count == 1)
        #expect(d.first?.message.hasPrefix("invalid JSON Schema at '/properties/amount/minimum': ") == true)
        #expect(d.first?.location?.line == 6)
        #expect(d.first?.location?.column == 30)
    }

    @Test func missingSchemaFile() {
        let d = diagnostics("validate:\n  schema_file: /nonexistent/sluice/schema.json")
        #expect(d.count == 1)
        #expect(
            d.first?.message == "cannot read schema file '/nonexistent/sluice/schema.json': No such file or directory")
        #expect(d.first?.location?.line == 3)
        #expect(d.first?.location?.column == 20)
    }

    @Test func schemaFileThatIsNotJSON() {
        let path = writeTempFile("{\"type\": \"object\",\n  oops}")
        defer { unlink(path) }
        let d = diagnostics("validate: { schema_file: '\(path)' }")
        #expect(d.count == 1)
        #expect(d.first?.message.hasPrefix("schema file '\(path)' is not valid JSON: ") == true)
        #expect(d.first?.message.hasSuffix("at line 2, column 3") == true)
        #expect(d.first?.location?.line == 2)
        #expect(d.first?.location?.column == 30)
    }

    @Test func schemaFileThatIsNotASchema() {
        let path = writeTempFile(#"{"type": "thing"}"#)
        defer { unlink(path) }
        let d = diagnostics("validate: { schema_file: \(path) }")
        #expect(d.count == 1)
        #expect(d.first?.message.hasPrefix("schema file '\(path)' is not a valid JSON Schema: at '/type': ") == true)
        #expect(d.first?.location?.line == 2)
        #expect(d.first?.location?.column == 30)
    }

    @Test func ruleExpressionErrorsAreReportedAtCompileTime() {
        let d = diagnostics("validate: { rules: [{expr: 'n >> 1', message: x}] }")
        #expect(d.first?.message.hasPrefix("in expression:") == true)
        #expect(d.first?.location?.line == 2)
    }
}
