import SluiceCEL
import SluiceCore

/// Applies `inner` only to events where `when:` holds; the others pass on unchanged and
/// in their place. An error evaluating `when:` rejects the event.
@usableFromInline package final class WhenStep: InPlaceStep, WrappingStep {
    let predicate: Expression
    let inner: any Step
    let stepName: String
    let activation: EventActivation

    @usableFromInline package init(
        predicate: Expression, compiler: ExpressionCompiler, inner: any Step, stepName: String
    ) {
        self.predicate = predicate
        self.inner = inner
        self.stepName = stepName
        activation = compiler.activation()
    }

    @usableFromInline package func process(_ event: Event, into out: inout StepOutput) {
        activation.event = event
        do {
            if try predicate.evaluateBool(activation) {
                inner.process(event, into: &out)
            } else {
                out.emit(event)
            }
        } catch {
            out.reject(event, step: stepName, message: "when: \(error.message)")
        }
    }

    @usableFromInline package func advance(watermark: Int64, into out: inout StepOutput) {
        inner.advance(watermark: watermark, into: &out)
    }

    @usableFromInline package var stateSize: Int { inner.stateSize }
    @usableFromInline package var counters: [(name: String, value: Int)] { inner.counters }

    /// The inner step, whose state a checkpoint saves (``checkpointView(of:)``).
    @usableFromInline package var wrappedStep: any Step { inner }

}
