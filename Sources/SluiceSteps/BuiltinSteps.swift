import SluiceCore

/// The steps every pipeline can use, with what the runtime may assume about each.
enum BuiltinSteps {
    static var all: [StepDefinition] {
        [
            with(.stateless, FilterStep.definition), with(.stateless, EnrichStep.definition),
            with(.stateless, MapStep.definition), with(.stateless, ValidateStep.definition),
            with(.usesWatermarks, DedupeStep.definition), with(.usesWatermarks, ReorderStep.definition),
            with(.stateless, RouteStep.definition), with(.usesWatermarks, WindowStep.definition),
            with(.usesWatermarks, PatternCompiler.definition), with(.usesWatermarks, SagaCompiler.definition),
            with(.stateless, UpcastStep.definition),
        ]
    }

    static func with(_ traits: StepTraits, _ definition: StepDefinition) -> StepDefinition {
        var d = definition
        d.traits = traits
        return d
    }
}
