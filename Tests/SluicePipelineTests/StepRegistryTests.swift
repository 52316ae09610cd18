import Sluice
import Testing

/// A registry is a value built and passed to the compiler: registering on one copy
/// never changes another (nor the built-in set), and the compiler sees exactly the
/// registry it was given.
@Suite struct StepRegistryTests {
    static let shout = StepDefinition(kind: "shout", summary: "Pass events on.") { _ in { PassStep() } }

    final class PassStep: Step {
        func process(_ event: Event, into out: inout StepOutput) { out.emit(event) }
    }

    @Test func registeringOnACopyLeavesTheOriginalAlone() {
        let standard = StepRegistry.standard
        var mine = standard
        mine.register(Self.shout)
        #expect(mine.definition("shout") != nil)
        #expect(standard.definition("shout") == nil)
        #expect(StepRegistry.standard.definition("shout") == nil)
        #expect(mine.kinds.count == standard.kinds.count + 1)
    }

    @Test func theCompilerUsesTheRegistryItIsGiven() throws {
        var registry = StepRegistry.standard
        registry.register(Self.shout)
        let yaml = "steps: [ { shout: {} } ]"
        #expect(throws: Diagnostics.self) { try Pipeline.compile(yaml: yaml) }
        let pipeline = try Pipeline.compile(yaml: yaml, registry: registry)
        let (outputs, outcome) = try pipeline.collect(["in": [.event(["a": 1])]])
        #expect(outcome == .completed)
        #expect(outputs["out"]?.count == 1)
    }
}
