/// The steps every pipeline can use.
enum BuiltinSteps {
    static var all: [StepDefinition] {
        [FilterStep.definition, EnrichStep.definition, MapStep.definition]
            + [WindowStep.definition]
    }
}
