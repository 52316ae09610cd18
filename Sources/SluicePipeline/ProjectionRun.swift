import SluiceCore
import SluiceStore

/// Running `project` outputs, and `sluice project rebuild` (docs/event-sourcing.md,
/// "Projections").
extension Pipeline {
    /// The `project` outputs: output name, table and database file.
    package var projections: [(output: String, table: String, path: String)] {
        outputs.compactMap { o in
            guard let p = o.project, case .store(.sqlite(let path)) = o.kind else { return nil }
            return (o.name, p.table.name, path)
        }
    }

    /// The nodes that fold events into projection tables: one per `project` output that
    /// no sink of the caller's replaces, each a one-step stream whose `rejected` port is
    /// `OUTPUT.rejected`. The tables are opened (and made) now, so a bad file or a table
    /// declared with other columns fails the start.
    func addProjectOutputs(_ flow: Dataflow, _ options: RunOptions, bound: [String: String]) throws(RunError)
        -> [String:
        Dataflow.NodeID]
    {
        var nodes: [String: Dataflow.NodeID] = [:]
        for output in outputs {
            guard let spec = output.project, case .store(.sqlite(let path)) = output.kind,
                options.sinks[output.name] == nil
            else {
                continue
            }
            if let p = bound[output.name] {
                throw RunError(
                    isUsage: true,
                    message: "output '\(output.name)' projects into '\(path)'; it cannot be bound to '\(p)'")
            }
            let backend: SQLiteProjectionBackend
            let start: Int64
            do {
                backend = try SQLiteProjectionBackend(path: path, table: spec.table)
                start = try backend.position()
            } catch {
                throw RunError(isUsage: false, message: "output '\(output.name)': \(error.message)")
            }
            nodes[output.name] = flow.addStream(
                name: output.name, portNames: [SidePort.rejected: "\(output.name).rejected"]
            ) {
                StepChain([
                    StepChain.Entry(
                        step: ProjectStep(spec: spec, backend: backend, startPosition: start), name: output.name,
                        kind: "project")
                ])
            }
        }
        return nodes
    }

    /// Empties the tables of the `project` outputs named in `names` (output or table
    /// names; all of them when empty) and runs the pipeline once through to fill them
    /// again: store inputs replay without following, and every other output (files,
    /// stdout, store appends, the other projections) is discarded.
    package func rebuildProjections(_ names: [String], deadLetterPath: String? = nil) throws(RunError) -> PipelineRun {
        let all = projections
        guard !all.isEmpty else {
            throw RunError(isUsage: true, message: "pipeline '\(name)' has no 'project' output to rebuild")
        }
        var chosen: [(output: String, table: String, path: String)] = []
        for n in names {
            guard let p = all.first(where: { $0.output == n || $0.table == n }) else {
                let known = all.map(\.table)
                throw RunError(
                    isUsage: true,
                    message:
                        "pipeline '\(name)' has no projection '\(n)'\(didYouMean(n, among: known)) (it has: \(known.joined(separator: ", ")))"
                )
            }
            if !chosen.contains(where: { $0.output == p.output }) { chosen.append(p) }
        }
        if names.isEmpty { chosen = all }
        var options = RunOptions()
        options.deadLetterPath = deadLetterPath
        for output in outputs where !chosen.contains(where: { $0.output == output.name }) {
            options.sinks[output.name] = DiscardSink(name: output.name)
        }
        for input in inputs {
            switch input.kind {
            case .store(var s):
                s.follow = false
                options.sources[input.name] = StoreSource(name: input.name, spec: s)
            case .stdin: options.inputs[input.name] = "-"
            default: break
            }
        }
        for p in chosen {
            do {
                try SQLiteProjectionBackend.drop(path: p.path, table: p.table)
            } catch {
                throw RunError(isUsage: false, message: "output '\(p.output)': \(error.message)")
            }
        }
        return try start(options)
    }
}

/// Takes events and keeps none: the outputs a rebuild does not write.
final class DiscardSink: EventSink, Sendable {
    let name: String
    init(name: String) { self.name = name }
    func write(_ events: [Event]) {}
}
