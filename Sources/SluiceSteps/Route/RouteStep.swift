import SluiceCEL
import SluiceCore

/// `route: {NAME: EXPR, ..., exclusive: true|false}`: sends each event to every branch
/// whose expression holds; each branch is the side output `STREAM.NAME`.
///
/// Branches are tried in the order written. With `exclusive: true` only the first branch
/// that holds gets the event. An event that matches no branch goes on in the stream (the
/// main output). An expression that fails, or gives something other than a bool, rejects
/// the event, which then goes to no branch.
@usableFromInline package final class RouteStep: InPlaceStep {
    /// One branch: its name, side-output port and condition.
    @usableFromInline package struct Branch: Sendable {
        /// The branch name (`STREAM.NAME`).
        @usableFromInline package var name: String
        /// The side-output port declared for it.
        @usableFromInline package var port: Int
        /// When an event goes to this branch.
        @usableFromInline package var condition: Expression

        /// A branch.
        @usableFromInline package init(name: String, port: Int, condition: Expression) {
            self.name = name
            self.port = port
            self.condition = condition
        }
    }

    /// Names a branch may not have: the stream's fixed side outputs, and the option key.
    @usableFromInline package static let reservedNames: Set<String> = ["rejected", "late", "timeouts", "exclusive"]

    let branches: [Branch]
    let exclusive: Bool
    let name: String
    let activation: EventActivation
    var matched: [Int] = []

    /// A router over `branches`, tried in order.
    @usableFromInline package init(branches: [Branch], exclusive: Bool, compiler: ExpressionCompiler, name: String) {
        self.branches = branches
        self.exclusive = exclusive
        self.name = name
        activation = compiler.activation()
    }

    /// Sends the event to the branches that hold, or on in the stream when none does.
    @usableFromInline package func process(_ event: Event, into out: inout StepOutput) {
        activation.event = event
        matched.removeAll(keepingCapacity: true)
        for b in branches {
            do {
                if try b.condition.evaluateBool(activation) {
                    matched.append(b.port)
                    if exclusive { break }
                }
            } catch {
                out.reject(event, step: name, message: "branch '\(b.name)': \(error.message)")
                return
            }
        }
        if matched.isEmpty {
            out.emit(event)
        } else {
            for p in matched { out.side(p, event) }
        }
    }

    static let definition = StepDefinition(
        kind: "route",
        summary: "Send events to named side outputs by condition; unmatched events go on.",
        keys: ["exclusive"],
        compile: { ctx in
            guard let m = ctx.map() else { return nil }
            let c = ctx.context
            var ok = true
            var exclusive = false
            var branches: [(String, Expression)] = []
            for pair in m.pairs {
                guard let key = pair.key.text else { continue }  // reported by finish()
                if key == "exclusive" {
                    if pair.value.scalar != nil, case .bool(let b) = pair.value.resolved {
                        exclusive = b
                    } else {
                        c.error(
                            pair.key.location, "'exclusive' is an option of 'route', not a branch name",
                            hint: "set 'exclusive: true' or 'exclusive: false', and give the branch another name")
                        ok = false
                    }
                    continue
                }
                m.allow([key])
                if RouteStep.reservedNames.contains(key) {
                    c.error(
                        pair.key.location,
                        "'\(key)' cannot be a route branch: it is the name of the stream's own side output",
                        hint:
                            "name the branch something else, e.g. '\(key)_events'; '\(ctx.streamName).\(key)' is already '\(key)'"
                    )
                    ok = false
                    continue
                }
                if key.isEmpty || key.contains(".") || key.contains(" ") {
                    c.error(
                        pair.key.location, "route branch name '\(key)' must be a non-empty word without '.' or spaces",
                        hint:
                            "'.' separates a stream from its side output, as in '\(ctx.streamName).\(key.isEmpty ? "NAME" : key)'"
                    )
                    ok = false
                    continue
                }
                guard let e = c.expression(pair.value, what: "branch '\(key)' of 'route'"),
                    let compiled = ctx.expressions.compile(e, context: c)
                else {
                    ok = false
                    continue
                }
                branches.append((key, compiled))
            }
            m.finish(allowed: ["exclusive"])
            if ok, branches.isEmpty {
                c.error(
                    ctx.config.location, "'route' needs at least one branch",
                    hint: "write branches as NAME: EXPR, e.g. 'route: {big: amount > 1000, eu: region == \"eu\"}'")
                ok = false
            }
            guard ok else { return nil }
            let declared = branches.map { Branch(name: $0.0, port: ctx.sidePort(named: $0.0), condition: $0.1) }
            let exclusiveFlag = exclusive
            let compiler = ctx.expressions
            let name = ctx.stepName
            return { RouteStep(branches: declared, exclusive: exclusiveFlag, compiler: compiler, name: name) }
        }
    )
}
