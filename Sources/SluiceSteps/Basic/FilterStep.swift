import SluiceCEL
import SluiceCore

/// `filter: EXPR`: keeps the events where EXPR is true. A result that is not a bool, or
/// an evaluation error, rejects the event.
@usableFromInline package final class FilterStep: InPlaceStep {
    let predicate: Expression
    let name: String
    let activation: EventActivation

    @usableFromInline package init(predicate: Expression, compiler: ExpressionCompiler, name: String) {
        self.predicate = predicate
        self.name = name
        activation = compiler.activation(prefetching: [predicate])
    }

    @usableFromInline package func process(_ event: Event, into out: inout StepOutput) {
        // Bound in place when parsed: the activation keeps no copy of the event.
        let keep = activation.withEvent(event) { decide() }
        finish(event, keep, &out)
    }

    /// Parsed events are read where they sit in the batch (no copy of each event, nor
    /// of its fields); others go through ``process(_:into:)``.
    @usableFromInline package func process(batch events: [Event], into out: inout StepOutput) {
        events.withUnsafeBufferPointer { batch in
            for i in batch.indices {
                // Decided while the event is lent, before it is read again, so that no
                // copy of it has to live across the evaluation.
                guard let keep = activation.withEventInPlace(batch[i], { decide() }) else {
                    process(batch[i], into: &out)
                    continue
                }
                finish(batch[i], keep, &out)
            }
        }
    }

    /// The predicate on the bound event: keep it or not, or the error that rejects it.
    @inline(__always)
    func decide() -> Result<Bool, CELError> {
        do throws(CELError) {
            return .success(try predicate.evaluateBool(activation))
        } catch {
            return .failure(error)
        }
    }

    @inline(__always)
    func finish(_ event: Event, _ keep: Result<Bool, CELError>, _ out: inout StepOutput) {
        switch keep {
        case .success(true): out.emit(event)
        case .success(false): break
        case .failure(let error): out.reject(event, step: name, message: error.message)
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
