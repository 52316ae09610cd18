import Sluice
import Synchronization
import Testing

/// Whether a keyed stream's steps are stateless is a trait of their definitions: the
/// run builds one instance per partition and asks none of them (no throwaway instance).
@Suite struct StepTraitsTests {
    final class Counter: Sendable {
        let made = Mutex(0)
    }

    final class PassStep: Step {
        func process(_ event: Event, into out: inout StepOutput) { out.emit(event) }
    }

    func registry(_ counter: Counter, traits: StepTraits) -> StepRegistry {
        var registry = StepRegistry.standard
        registry.register(
            StepDefinition(kind: "pass", summary: "Pass events on.", traits: traits) { _ in
                {
                    counter.made.withLock { $0 += 1 }
                    return PassStep()
                }
            })
        return registry
    }

    static let yaml = """
        inputs: { in: { stdin: {} } }
        streams:
          main: { from: in, key: user, parallelism: 2, steps: [ { pass: {} } ] }
        outputs: { out: { from: [main], stdout: {} } }
        """

    @Test(arguments: [StepTraits.stateless, []])
    func oneInstancePerPartitionAndNoMore(_ traits: StepTraits) throws {
        let counter = Counter()
        let pipeline = try Pipeline.compile(yaml: Self.yaml, registry: registry(counter, traits: traits))
        let items = (0..<100).map { InputItem.event(["user": .string("u\($0 % 7)")]) }
        let (outputs, outcome) = try pipeline.collect(["in": items])
        #expect(outcome == .completed)
        #expect(outputs["out"]?.count == 100)
        #expect(counter.made.withLock { $0 } == 2)
    }

    @Test func builtInDefinitionsDeclareTheirTraits() {
        let standard = StepRegistry.standard
        for kind in ["filter", "map", "enrich", "validate", "route"] {
            #expect(standard.definition(kind)?.traits == .stateless, "\(kind)")
        }
        for kind in ["window", "pattern", "dedupe", "reorder"] {
            #expect(standard.definition(kind)?.traits == .usesWatermarks, "\(kind)")
        }
    }
}
