import SluiceCEL
import SluiceCore

/// `filter: EXPR`: keeps the events where EXPR is true. A result that is not a bool, or
/// an evaluation error, rejects the event.
public final class FilterStep: Step {
    let predicate: Expression
    let name: String
    let activation: EventActivation

    public init(predicate: Expression, compiler: ExpressionCompiler, name: String) {
        self.predicate = predicate
        self.name = name
        activation = compiler.activation(prefetching: [predicate])
    }

    public func process(_ event: Event, into out: inout StepOutput) {
        activation.event = event
        do {
            if try predicate.evaluateBool(activation) { out.emit(event) }
        } catch {
            out.reject(event, step: name, message: error.message)
        }
    }

    static let definition = StepDefinition(
        kind: "filter",
        summary: "Keep events where the expression is true.",
        compile: { ctx in
            guard let compiled = ctx.singleExpression() else { return nil }
            let compiler = ctx.expressions
            let name = ctx.stepName
            return { FilterStep(predicate: compiled, compiler: compiler, name: name) }
        }
    )
}
