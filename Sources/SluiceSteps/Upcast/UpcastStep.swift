import SluiceCEL
import SluiceCore
import SluiceJSON

/// `upcast: {version: EXPR, from: {N: MAP_EXPR, ...}}`: brings every event to the latest
/// schema version. The expression under `N` turns an event of version N into one of
/// version N+1 (a map, like `map:`); the step applies them in a chain, N, N+1, ..., up to
/// the latest (one more than the highest N). When `version` is a plain field name, that
/// field is set to the new version after each link. Events at the latest version pass
/// unchanged; a version the chain does not cover, a version that is not an integer, and a
/// link that fails go to `rejected` with the reason.
package final class UpcastStep: Step {

    let version: Expression
    let field: String?
    /// Links by the version they start from: `links[i]` upcasts `first + i`.
    let links: [Expression]
    let first: Int64
    let name: String
    let activation: EventActivation

    init(version: Expression, field: String?, first: Int64, links: [Expression], name: String) {
        self.version = version
        self.field = field
        self.first = first
        self.links = links
        self.name = name
        activation = version.compiler.activation()
    }

    var latest: Int64 { first + Int64(links.count) }

    package func process(_ event: Event, into out: inout StepOutput) {
        activation.event = event
        let v: Int64
        do {
            switch try version.evaluateJSON(activation) {
            case .int(let i): v = i
            case .double(let d) where d == d.rounded() && abs(d) < 9e18: v = Int64(d)
            case let other:
                out.reject(
                    event, step: name,
                    message: "upcast: the version '\(version.source)' is \(other.kindName), not an integer")
                return
            }
        } catch {
            out.reject(event, step: name, message: "upcast: version '\(version.source)': \(error.message)")
            return
        }
        if v == latest {
            out.emit(event)
            return
        }
        guard v >= first && v < latest else {
            out.reject(
                event, step: name,
                message: "upcast: unknown schema version \(v) (this step reads versions \(first) to \(latest))")
            return
        }
        var e = event
        var current = v
        while current < latest {
            let link = links[Int(current - first)]
            activation.event = e
            do {
                guard case .object(var o) = try link.evaluateJSON(activation) else {
                    out.reject(
                        event, step: name, message: "upcast from version \(current): the expression must give a map")
                    return
                }
                current += 1
                if let field { o[field] = .int(current) }
                e.setValue(.object(o))
            } catch {
                out.reject(event, step: name, message: "upcast from version \(current): \(error.message)")
                return
            }
        }
        out.emit(e)
    }

    static let definition = StepDefinition(
        kind: "upcast",
        summary: "Bring every event to the latest schema version through a chain of maps (N to N+1).",
        keys: ["version", "from"],
        compile: { ctx in
            guard let m = ctx.map() else { return nil }
            let versionExpr = m.expression("version", required: true)
            let fromNode = m.node("from", required: true)
            m.finish()
            guard let versionExpr, let version = ctx.expressions.compile(versionExpr, context: ctx.context) else {
                return nil
            }
            guard let fromNode else { return nil }
            guard let pairs = fromNode.mapping, !pairs.isEmpty else {
                ctx.context.typeMismatch(
                    fromNode, expected: "a mapping of versions to map expressions", what: "'from' of 'upcast'",
                    hint: "e.g. 'from: {1: \"{\\\"id\\\": id, \\\"amount\\\": double(cents) / 100.0}\"}'")
                return nil
            }
            var byVersion: [Int64: Expression] = [:]
            var ok = true
            for pair in pairs {
                guard let text = pair.key.text, let n = Int64(text), n >= 0, n < Int64(Int32.max) else {
                    ctx.error(
                        pair.key.location,
                        "upcast: '\(pair.key.text ?? "?")' is not a version (an integer of at least 0)")
                    ok = false
                    continue
                }
                guard let e = ctx.context.expression(pair.value, what: "upcast from version \(n)"),
                    let compiled = ctx.expressions.compile(e, context: ctx.context)
                else {
                    ok = false
                    continue
                }
                byVersion[n] = compiled
            }
            guard ok, let first = byVersion.keys.min(), let last = byVersion.keys.max() else { return nil }
            var links: [Expression] = []
            for n in first...last {
                guard let e = byVersion[n] else {
                    ctx.error(
                        fromNode.location, "upcast: no map from version \(n) to \(n + 1)",
                        hint: "the chain runs from \(first) to \(last + 1) without gaps")
                    return nil
                }
                links.append(e)
            }
            let source = versionExpr.source
            let isField =
                !source.isEmpty
                && source.unicodeScalars.allSatisfy {
                    $0 == "_" || $0.properties.isAlphabetic || ("0"..."9").contains($0)
                }
                && (source.unicodeScalars.first.map { !("0"..."9").contains($0) } ?? false)
            let name = ctx.stepName
            let field = isField ? source : nil
            let chain = links
            return { UpcastStep(version: version, field: field, first: first, links: chain, name: name) }
        }
    )
}
