import SluiceCore
import SluiceJSON
import SluiceSteps
import Testing

/// Helpers shared by the pattern tests.
enum PatternTest {
    /// Compiles a `pattern:` step (YAML of its config, indented under `pattern:`).
    static func step(_ config: String) throws -> (StepHarness, PatternStep) {
        let yaml =
            "pattern:\n"
            + config.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
        switch compileStep(yaml) {
        case .success(let s):
            guard let ps = s as? PatternStep else { throw PatternTestError("not a pattern step") }
            return (StepHarness(s), ps)
        case .failure(let d): throw d
        }
    }

    /// The diagnostics of a pattern that must not compile.
    static func errors(_ config: String) -> [Diagnostic] {
        let yaml =
            "pattern:\n"
            + config.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
        switch compileStep(yaml) {
        case .success: return []
        case .failure(let d): return d.items
        }
    }

    /// Sends events named like `a`, `b1`, `d2`: type is the letters, id the whole name,
    /// times 1000, 2000, ... unless given.
    static func send(_ h: StepHarness, _ names: String, key: String? = nil, start: Int64 = 1000, step: Int64 = 1000) {
        var t = start
        for name in names.split(separator: " ") {
            let type = String(name.prefix { $0.isLetter })
            var o = JSONObject()
            o["kind"] = .string(type)
            o["id"] = .string(String(name))
            if let key { o["user"] = .string(key) }
            h.send(.object(o), time: t)
            t += step
        }
    }

    /// The ids of a match's captured events, in step order: `{a b1 c}`.
    static func ids(_ match: JSON) -> String {
        guard case .object(let o) = match else { return "?" }
        var out: [String] = []
        for (_, v) in o {
            if case .array(let items) = v {
                out += items.map { $0["id"]?.stringValue ?? "?" }
            } else {
                out.append(v["id"]?.stringValue ?? "?")
            }
        }
        return "{" + out.joined(separator: " ") + "}"
    }

    /// Ends the input and returns the matches as `{a b1 c}` strings.
    static func finish(_ h: StepHarness) -> [String] {
        h.advance(to: Int64.max)
        return h.take().map(ids)
    }
}

struct PatternTestError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
