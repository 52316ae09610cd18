import SluiceCore
import SluiceJSON
import SluicePipeline
import SluiceSteps

/// Drives one step synchronously, with no threads: feed events and watermarks, read what
/// came out (as swift-nio's EmbeddedChannel does for handlers).
final class StepHarness {
    let step: any Step
    var watermark = Int64.min
    /// Main output so far.
    var emitted: [Event] = []
    /// Side outputs so far, by port.
    var sides: [Int: [Event]] = [:]

    init(_ step: any Step) { self.step = step }

    /// Sends one event (with `time` as its event time when given).
    func send(_ value: JSON, time: Int64? = nil) {
        var e = Event(value)
        if let time { e.time = time }
        var out = StepOutput()
        out.watermark = watermark
        step.process(e, into: &out)
        collect(out)
    }

    /// Advances the watermark (Int64.max is the end of input).
    func advance(to w: Int64) {
        watermark = w
        var out = StepOutput()
        out.watermark = w
        step.advance(watermark: w, into: &out)
        collect(out)
    }

    func collect(_ out: StepOutput) {
        emitted += out.events
        for (p, e) in out.sides { sides[p, default: []].append(e) }
    }

    /// Main output values, and clears them.
    func take() -> [JSON] {
        defer { emitted = [] }
        return emitted.map(\.value)
    }
}

/// Compiles a one-step pipeline `steps: [ YAML ]` and returns a fresh instance of its
/// step, or the diagnostics.
func compileStep(_ yaml: String, params: [String: String] = [:]) -> Result<any Step, Diagnostics> {
    switch Pipeline.compile(yaml: "steps:\n  - " + yaml.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n    "), file: "test.yaml", params: params) {
    case .success(let p): 
        guard let s = p.makeSteps(stream: "main").first else { return .failure(Diagnostics([Diagnostic(at: nil, "no step")])) }
        return .success(s)
    case .failure(let d): return .failure(d)
    }
}
