import SluiceConnectors
import SluiceCore
import SluiceJSON
import SluiceSteps

/// What a checkpointed run starts with: where and how often, the locked directory, and
/// the checkpoint it resumes from.
struct CheckpointSetup {
    var config: CheckpointConfig
    var store: CheckpointStore
    var restored: Checkpoint?
}

extension Pipeline {
    /// Names the pipeline in its checkpoints: its name and a CRC-32 of its name, inputs
    /// and outputs. A checkpoint of another pipeline is refused; a change inside the
    /// streams is judged step by step instead (``FlowBuilder``).
    package var fingerprint: String {
        let text = "\(name)|in:\(inputNames.joined(separator: ","))|out:\(outputNames.joined(separator: ","))"
        let hex = String(CRC32.checksum(Array(text.utf8)), radix: 16)
        return "\(name)-" + String(repeating: "0", count: 8 - hex.count) + hex
    }
}

extension FlowBuilder {
    /// With a checkpoint directory (from the options or the file): checks that the run
    /// can be checkpointed (no stdin, no step whose state would be lost), locks the
    /// directory, and reads the newest good checkpoint, checking that it belongs to this
    /// pipeline and that its steps are still there. Nil without checkpoints.
    func checkpointSetup(_ locations: [String: FileSource.Location]) throws(RunError) -> CheckpointSetup? {
        guard let directory = options.checkpointDirectory ?? pipeline.checkpoint?.directory else { return nil }
        let seconds =
            options.checkpointInterval ?? pipeline.checkpoint?.every.map { Double($0.nanoseconds) / 1e9 } ?? 10
        guard seconds > 0, seconds.isFinite else {
            throw RunError(.usage, "--checkpoint-every must be a positive duration")
        }
        for input in pipeline.inputs where locations[input.name] == .stdin {
            throw RunError(
                .usage,
                "input '\(input.name)' reads standard input, which cannot be read again after a restart, so a checkpoint could not resume it: with --checkpoint-dir, read inputs from files (--input \(input.name)=FILE)"
            )
        }
        for stream in pipeline.streams {
            for step in stream.steps
            where !step.traits.contains(.stateless) && checkpointView(of: step.factory()) == nil {
                throw RunError(
                    .usage,
                    "\(step.location): error: step '\(step.id)' (\(step.kind) in stream '\(stream.name)') keeps state that it cannot save in a checkpoint, so a restart would lose it; run without --checkpoint-dir"
                )
            }
        }
        let store: CheckpointStore
        do throws(StateError) {
            store = try CheckpointStore(directory: directory, waitSeconds: options.kafkaPartition == nil ? 0 : 60)
        } catch {
            throw RunError(.resource, error.message)
        }
        let config = CheckpointConfig(
            directory: directory, interval: UInt64(seconds * 1e9), fingerprint: pipeline.fingerprint)
        guard let restored = store.latest(warn: options.warn) else {
            return CheckpointSetup(config: config, store: store, restored: nil)
        }
        guard restored.fingerprint == config.fingerprint else {
            throw RunError(
                .usage,
                "the checkpoints in '\(directory)' belong to another pipeline (fingerprint \(restored.fingerprint); this one is \(config.fingerprint)); give this pipeline its own --checkpoint-dir"
            )
        }
        let problems = changedSteps(restored)
        if !problems.isEmpty {
            throw RunError(
                .usage,
                "cannot restore checkpoint \(restored.id) from '\(directory)':\n"
                    + problems.map { "  \($0)" }.joined(separator: "\n"))
        }
        return CheckpointSetup(config: config, store: store, restored: restored)
    }

    /// One line per saved step whose state the pipeline can no longer take: removed
    /// (unless ``RunOptions/allowNonRestoredState``), of another kind, or keyed by
    /// something other than its stream's key when the parallelism changed.
    func changedSteps(_ c: Checkpoint) -> [String] {
        var problems: [String] = []
        var seen = Set<String>()
        for name in c.stages.keys.sorted() {
            guard let stage = c.stages[name] else { continue }
            let stream = pipeline.streams.first { $0.name == stage.stream }
            let copies = stream.map { $0.key == nil ? 1 : (options.parallelism ?? $0.parallelism) } ?? 1
            for saved in stage.steps where saved.state != nil {
                guard seen.insert("\(stage.stream)/\(saved.id)").inserted else { continue }
                guard let step = stream?.steps.first(where: { $0.id == saved.id }) else {
                    if !options.allowNonRestoredState {
                        problems.append(
                            "step '\(saved.id)' (\(saved.kind) in stream '\(stage.stream)') has state in the checkpoint, but the pipeline has no step with that id: put it back, or pass --allow-non-restored-state to drop its state"
                        )
                    }
                    continue
                }
                if step.kind != saved.kind {
                    problems.append(
                        "step '\(saved.id)' was a \(saved.kind) in the checkpoint and is a \(step.kind) now: its state cannot be restored; give the new step another id (and pass --allow-non-restored-state to drop the old state)"
                    )
                    continue
                }
                if copies != stage.copies, saved.keySource != stage.keyText {
                    problems.append(
                        "step '\(saved.id)' in stream '\(stage.stream)' keeps its state by '\(saved.keySource ?? "nothing")', not by the stream's key '\(stage.keyText ?? "none")', so its state cannot be split among \(copies) copies (the checkpoint has \(stage.copies)): restore at --parallelism \(stage.copies)"
                    )
                }
            }
        }
        return problems
    }
}
