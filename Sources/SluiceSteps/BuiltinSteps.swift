/// The steps every pipeline can use.
enum BuiltinSteps {
    static var all: [StepDefinition] {
        [
            FilterStep.definition, EnrichStep.definition, MapStep.definition,
            ValidateStep.definition, DedupeStep.definition, ReorderStep.definition, RouteStep.definition,
            WindowStep.definition, PatternCompiler.definition, UpcastStep.definition,
        ]
    }
}
