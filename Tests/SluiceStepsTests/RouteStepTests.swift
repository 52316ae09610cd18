import SluiceCore
import SluiceJSON
import SluicePipeline
import SluiceSteps
import Testing

@Suite struct RouteStepTests {
    func step(_ yaml: String) throws -> StepHarness {
        StepHarness(try compileStep(yaml).get())
    }

    func messages(_ yaml: String) -> [String] {
        guard case .failure(let d) = compileStep(yaml) else { return ["compiled"] }
        return d.items.map(\.message)
    }

    // Branch ports are numbered from SidePort.firstCustom in the order written.
    let big = SidePort.firstCustom
    let eu = SidePort.firstCustom + 1

    @Test func sendsToEveryMatchingBranch() throws {
        let h = try step(#"route: { big: amount > 1000, eu: region == "eu" }"#)
        h.send(["amount": 5000, "region": "eu"])
        h.send(["amount": 5000, "region": "us"])
        h.send(["amount": 5, "region": "eu"])
        h.send(["amount": 5, "region": "us"])
        #expect(h.take() == [["amount": 5, "region": "us"]])
        #expect(h.sides[big]?.map { $0.value["region"] } == ["eu", "us"])
        #expect(h.sides[eu]?.map { $0.value["amount"] } == [5000, 5])
    }

    @Test func exclusiveSendsToTheFirstMatchOnly() throws {
        let h = try step(#"route: { big: amount > 1000, eu: region == "eu", exclusive: true }"#)
        h.send(["amount": 5000, "region": "eu"])
        h.send(["amount": 5, "region": "eu"])
        h.send(["amount": 5, "region": "us"])
        #expect(h.take() == [["amount": 5, "region": "us"]])
        #expect(h.sides[big]?.count == 1)
        #expect(h.sides[eu]?.map { $0.value["amount"] } == [5])
    }

    @Test func branchErrorsRejectTheEvent() throws {
        let h = try step(#"route: { big: amount > 1000, eu: region == "eu" }"#)
        h.send(["amount": 5000])
        #expect(h.take().isEmpty)
        #expect(h.sides[big] == nil)
        #expect(
            h.sides[SidePort.rejected]?.first?.value["error"]?["message"] == "branch 'eu': no such attribute: 'region'")
        let named = try step("route: { odd: n % 2 == 1 }\nname: splitter")
        named.send(["n": "x"])
        #expect(named.sides[SidePort.rejected]?.first?.value["error"]?["step"] == "splitter")
    }

    /// The diagnostics of compiling a full pipeline.
    func pipelineErrors(_ yaml: String) -> [String] {
        switch Result(catching: { () throws(Diagnostics) in
            try Pipeline.compile(yaml: yaml, file: "test.yaml", params: [:])
        }) {
        case .success: return []
        case .failure(let d): return d.items.map(\.message)
        }
    }

    @Test func branchesAreDeclaredSideOutputs() {
        // A stream reading a branch compiles; one reading an unknown branch does not.
        func pipeline(reading source: String) -> String {
            """
            inputs: { in: { stdin: {} } }
            streams:
              main:
                from: in
                steps:
                  - route: { big: amount > 1000 }
              bigs:
                from: \(source)
                steps: [ { filter: 'true' } ]
            outputs:
              out: { from: [main, bigs], stdout: {} }
            """
        }
        #expect(pipelineErrors(pipeline(reading: "main.big")) == [])
        #expect(pipelineErrors(pipeline(reading: "main.small")).count == 1)
    }

    @Test func reservedNamesAreErrors() {
        #expect(
            messages("route: { rejected: amount > 1 }") == [
                "'rejected' cannot be a route branch: it is the name of the stream's own side output"
            ])
        #expect(messages("route: { late: amount > 1 }").count == 1)
        #expect(messages("route: { timeouts: amount > 1 }").count == 1)
        #expect(
            messages("route: { exclusive: amount > 1 }") == ["'exclusive' is an option of 'route', not a branch name"])
        #expect(messages("route: { exclusive: true }") == ["'route' needs at least one branch"])
        #expect(
            messages("route: { a.b: x > 1 }") == [
                "route branch name 'a.b' must be a non-empty word without '.' or spaces"
            ])
    }
}
