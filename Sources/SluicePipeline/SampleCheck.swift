import SluiceConnectors
import SluiceCore
import SluiceJSON
import SluiceSteps

extension Pipeline {
    /// `sluice check --sample`: runs the pipeline over sample events, writing nothing, and
    /// reports each step that rejected every event it saw, which a typo does (a field
    /// that no event has, a string written without quotes). `inputs` binds input names to
    /// sample files as `--input` does (`""` binds the only input); inputs not given get
    /// no events. `validate` steps are left out: rejecting a sample of bad events is
    /// their job.
    ///
    /// Each problem is an error at the step, with the most frequent message, e.g.
    /// `step 'enrich' failed on every sample event (3 of 3): no such attribute: 'eu'`, and
    /// a note when the missing name is a bare word no sample event has as a field.
    @usableFromInline package func checkSample(inputs given: [String: String]) throws(RunError) -> Diagnostics {
        let paths = try bind(given, names: inputNames, what: "input")
        var options = RunOptions()
        options.tapAll = true
        options.parallelism = 1
        for input in inputs where paths[input.name] == nil {
            options.sources[input.name] = MemorySource(name: input.name, items: [])
        }
        options.inputs = paths
        for name in outputNames { options.sinks[name] = CollectingSink(name: name) }
        let run = try start(options)
        if case .failed(let message) = run.wait() {
            return Diagnostics([Diagnostic(.error, at: nil, "the sample run failed: \(message)")])
        }
        let totals = run.execution.totals
        var found = Diagnostics()
        for stream in streams {
            guard let stats = totals.steps[stream.name], stats.count == stream.steps.count else { continue }
            let rejected = run.tapped("\(stream.name).rejected") ?? []
            for (step, s) in zip(stream.steps, stats)
            where step.kind != "validate" && s.eventsIn > 0 && s.rejected == s.eventsIn {
                // The messages of this step's rejections, most frequent first.
                var reasons = DeadLetterReasons()
                var fields = Set<String>()
                for e in rejected {
                    guard case .object(let o) = e.value, case .object(let err)? = o["error"],
                        err["step"] == .string(step.name), case .string(let message)? = err["message"]
                    else { continue }
                    reasons.note(message, line: e.line)
                    if case .object(let event)? = o["event"] { fields.formUnion(event.keys) }
                }
                let top = reasons.sorted.first?.reason ?? "rejected"
                var hint: String?
                if let missing = Self.missingName(in: top), !fields.contains(missing) {
                    let close = didYouMean(missing, among: fields.sorted())
                    if !close.isEmpty {
                        hint = "no sample event has a field '\(missing)'\(close)"
                    } else if !missing.contains(".") {
                        hint =
                            "no sample event has a field '\(missing)'; if '\(missing)' is meant as a string, write it as a CEL string: '\"\(missing)\"'"
                    }
                }
                found.error(
                    step.location,
                    "step '\(step.name)' failed on every sample event (\(s.rejected) of \(s.eventsIn)): \(top)",
                    hint: hint)
            }
        }
        return found
    }

    /// `eu` from `... no such attribute: 'eu'` (the message of a name that is neither a
    /// field of the event nor a parameter or table).
    static func missingName(in message: String) -> String? {
        let marker = Array("no such attribute: '")
        let chars = Array(message)
        guard chars.count > marker.count, chars.last == "'" else { return nil }
        var i = chars.count - marker.count
        while i >= 0 {
            if Array(chars[i..<(i + marker.count)]) == marker {
                let name = chars[(i + marker.count)..<(chars.count - 1)]
                return name.isEmpty || name.contains("'") ? nil : String(name)
            }
            i -= 1
        }
        return nil
    }
}
