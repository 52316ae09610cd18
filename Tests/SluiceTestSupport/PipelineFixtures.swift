import SluiceCore
import SluiceJSON
import SluicePipeline

/// `yaml` (a step's configuration, possibly several lines) as the only step of a
/// pipeline: `steps:\n  - YAML`, indented to fit.
package func oneStepPipelineYAML(_ yaml: String) -> String {
    "steps:\n  - " + yaml.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n    ")
}

/// Compiles a one-step pipeline `steps: [ YAML ]` and returns a fresh instance of its
/// step, or the diagnostics.
package func compileStep(_ yaml: String, params: [String: String] = [:]) -> Result<any Step, Diagnostics> {
    switch Result(catching: { () throws(Diagnostics) in
        try Pipeline.compile(yaml: oneStepPipelineYAML(yaml), file: "test.yaml", params: params)
    }) {
    case .success(let p):
        guard let s = p.makeSteps(stream: "main").first else {
            return .failure(Diagnostics([Diagnostic(at: nil, "no step")]))
        }
        return .success(s)
    case .failure(let d): return .failure(d)
    }
}
