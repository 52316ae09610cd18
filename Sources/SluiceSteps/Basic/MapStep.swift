import SluiceCEL
import SluiceCore
import SluiceJSON

/// `map: EXPR`: replaces the event with EXPR's value, which must be a map.
@usableFromInline package final class MapStep: InPlaceStep {
    let expression: Expression
    let name: String
    let activation: EventActivation

    @usableFromInline package init(expression: Expression, compiler: ExpressionCompiler, name: String) {
        self.expression = expression
        self.name = name
        activation = compiler.activation(prefetching: [expression])
    }

    @usableFromInline package func process(_ event: Event, into out: inout StepOutput) {
        activation.event = event
        do {
            let v = try expression.evaluateJSON(activation)
            guard case .object = v else {
                out.reject(event, step: name, message: "map: expected the expression to give a map, got \(v.kindName)")
                return
            }
            var e = event
            e.setValue(v)
            out.emit(e)
        } catch {
            out.reject(event, step: name, message: error.message)
        }
    }

    static let definition = StepDefinition(
        kind: "map",
        summary: "Replace each event with the value of an expression (a map).",
        compile: { ctx in
            guard let compiled = ctx.singleExpression() else { return nil }
            let compiler = ctx.expressions
            let name = ctx.stepName
            return { MapStep(expression: compiled, compiler: compiler, name: name) }
        }
    )
}
