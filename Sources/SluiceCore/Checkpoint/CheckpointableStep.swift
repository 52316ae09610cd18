import SluiceJSON

/// A custom step whose state survives a crash: with checkpoints on (`--checkpoint-dir`,
/// `checkpoint:`), the runtime asks it for its state when a checkpoint barrier passes and
/// gives that state back to a fresh instance when a run resumes (docs/embedding.md,
/// "Custom steps and checkpoints").
///
/// Opting in is this conformance: a custom step that does not conform is taken to keep
/// no state worth saving (the default, right for filters and maps), and a resumed run
/// starts it fresh. Both calls come on the step's own thread, between events.
///
/// The state is one JSON value, saved and restored whole: it cannot be split by key, so a
/// pipeline whose stream holds such a step resumes only at the parallelism the
/// checkpoint was taken at (anything else is refused with a message).
public protocol CheckpointableStep: Step {
    /// The step's whole state now, as JSON. Throwing fails this checkpoint (the run goes
    /// on and the previous checkpoint stays the latest).
    func checkpointState() throws -> JSON
    /// Replaces the state of this freshly made step with `state`, a value that
    /// ``checkpointState()`` returned in an earlier run of the same pipeline. Throwing
    /// stops the resume with the error's description.
    func restoreState(_ state: JSON) throws
}

/// A step that runs another step (`when:` around a step): a checkpoint saves the inner
/// step's state.
package protocol WrappingStep: Step {
    /// The step this one runs.
    var wrappedStep: any Step { get }
}

/// How the runtime checkpoints `step`, the same way for every kind: a built-in stateful
/// step as itself, the inner step of a ``WrappingStep``, a ``CheckpointableStep`` through
/// an adapter (its JSON state as `shared`), and nil for a step that keeps no checkpointed
/// state.
///
/// The adapter restores only what one copy saved, into one copy: given several parts,
/// or an `owns` that does not accept every key group (a part split between copies), it
/// throws a ``StateError`` saying so. Restoring at the parallelism the checkpoint was
/// taken at, the runtime hands each copy its own part and an `owns` that accepts every
/// group.
package func checkpointView(of step: any Step) -> (any StatefulStep)? {
    if let w = step as? any WrappingStep { return checkpointView(of: w.wrappedStep) }
    if let s = step as? any StatefulStep { return s }
    if let c = step as? any CheckpointableStep { return CustomStepState(c) }
    return nil
}

/// A ``CheckpointableStep`` seen as a ``StatefulStep``: its JSON state is the `shared`
/// bytes (format version 1, the JSON text); it has no keyed state.
final class CustomStepState: StatefulStep {
    let step: any CheckpointableStep
    static let version = 1

    init(_ step: any CheckpointableStep) { self.step = step }

    func process(_ event: Event, into out: inout StepOutput) { step.process(event, into: &out) }
    func process(batch events: [Event], into out: inout StepOutput) { step.process(batch: events, into: &out) }
    func advance(watermark: Int64, into out: inout StepOutput) { step.advance(watermark: watermark, into: &out) }
    var stateSize: Int { step.stateSize }
    var counters: [(name: String, value: Int)] { step.counters }

    /// No key: the state is one value.
    var stateKeySource: String? { nil }

    func snapshotState() throws(StateError) -> StepState {
        let value: JSON
        do {
            value = try step.checkpointState()
        } catch {
            throw StateError("custom step \(type(of: step)): checkpointState() failed: \(error)")
        }
        var w = StateWriter()
        w.write(value)
        return StepState(version: Self.version, shared: w.bytes)
    }

    func restoreState(_ parts: [StepState], owns: (Int) -> Bool) throws(StateError) {
        let name = "custom step \(type(of: step))"
        guard parts.count <= 1, (0..<KeyGroups.count).allSatisfy(owns) else {
            throw StateError(
                "\(name): its state is one JSON value and cannot be split across copies or merged from several; restore at the parallelism the checkpoint was taken at"
            )
        }
        guard let part = parts.first else { return }
        guard part.version == Self.version else {
            throw StateError(
                "\(name): checkpoint state has format version \(part.version); this Sluice reads version \(Self.version)"
            )
        }
        var r = StateReader(part.shared)
        let value = try r.readJSON()
        try r.finish()
        do {
            try step.restoreState(value)
        } catch {
            throw StateError("\(name): restoreState(_:) failed: \(error)")
        }
    }
}
