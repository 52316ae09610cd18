import SluiceCEL
import SluiceCore
import SluiceJSON
import SluiceSchema

/// `validate: {schema: {...} | schema_file: PATH, rules: [{expr: EXPR, message: TEXT}], on_invalid: reject|drop|stop}`.
///
/// Checks each event against a JSON Schema (draft 2020-12) and a list of CEL rules, and
/// lists every problem found. A valid event goes on unchanged. An invalid one, by
/// `on_invalid`:
///
/// - `reject` (default): goes to `STREAM.rejected` as
///   `{"error":{"step":..,"message":"2 violations: /amount: ...; /: missing required property 'id'","violations":[...]},"event":{...}}`,
///   where a schema violation is `{"path":"/amount","keyword":"minimum","message":"..."}`
///   and a failed rule `{"rule":"amount < 10000","message":"TEXT"}`. A rule whose
///   expression fails to evaluate (or gives something other than a bool) counts as
///   failed, with the evaluation error as its message.
/// - `drop`: is dropped and counted in ``droppedCount``.
/// - `stop`: goes to `rejected` as for `reject`, and the step asks the runtime to end the
///   run (``stopReason``).
@usableFromInline package final class ValidateStep: InPlaceStep {
    /// What to do with an invalid event.
    @usableFromInline package enum OnInvalid: String, Sendable {
        /// Send it to `STREAM.rejected` with its violations.
        case reject
        /// Drop it, counting it in ``ValidateStep/droppedCount``.
        case drop
        /// Send it to `rejected`, then end the run.
        case stop
    }

    /// A rule: a CEL expression that must be true, and the message when it is not.
    @usableFromInline package struct Rule: Sendable {
        /// The compiled expression.
        @usableFromInline package var expression: Expression
        /// The message for a failure; the expression's source when none was written.
        @usableFromInline package var message: String

        /// A rule.
        @usableFromInline package init(expression: Expression, message: String) {
            self.expression = expression
            self.message = message
        }
    }

    /// A schema per version: `version` gives an event's version, `schemas` the schema of
    /// each. An event whose version is not an integer, or has no schema, is invalid.
    @usableFromInline package struct Versioned: Sendable {
        let version: Expression
        let schemas: [Int64: JSONSchema]
    }

    let schema: JSONSchema?
    let versioned: Versioned?
    let rules: [Rule]
    let onInvalid: OnInvalid
    let name: String
    let activation: EventActivation

    /// Invalid events dropped so far with `on_invalid: drop`.
    @usableFromInline package private(set) var droppedCount = 0

    /// With `on_invalid: stop`, the reason the run must end (the first invalid event's
    /// summary, prefixed with the step name); nil until then. The runtime checks it after
    /// each call of ``process(_:into:)`` and, when set, ends the run as at a fatal error
    /// (after the rejected event has been written).
    @usableFromInline package private(set) var stopReason: String?

    /// A validator; `schema` and `rules` may not both be empty (the compiler checks this).
    package init(
        schema: JSONSchema?, rules: [Rule], onInvalid: OnInvalid, compiler: ExpressionCompiler, name: String,
        versioned: Versioned? = nil
    ) {
        self.schema = schema
        self.versioned = versioned
        self.rules = rules
        self.onInvalid = onInvalid
        self.name = name
        activation = compiler.activation()
    }

    /// Passes a valid event on; handles an invalid one by `on_invalid`.
    @usableFromInline package func process(_ event: Event, into out: inout StepOutput) {
        var problems: [JSON] = []
        var summary: [String] = []
        var schema = self.schema
        if let versioned {
            switch version(of: event, versioned) {
            case .success(let s): schema = s
            case .failure(let message):
                // Not a content problem: the event cannot be checked at all, so it goes to
                // `rejected` even under `on_invalid: drop`.
                var o = JSONObject(minimumCapacity: 2)
                o.appendUnchecked(key: "version", value: .string(versioned.version.source))
                o.appendUnchecked(key: "message", value: .string(message.text))
                out.reject(event, step: name, message: message.text, violations: [.object(o)])
                if onInvalid == .stop, stopReason == nil {
                    requestStop("\(name): invalid event: \(message.text)", into: &out)
                }
                return
            }
        }
        if let schema {
            let value = event.value
            // The fast check builds no messages; only invalid events pay for the full list.
            if !schema.isValid(value) {
                for v in schema.validate(value) {
                    var o = JSONObject(minimumCapacity: 3)
                    o.appendUnchecked(key: "path", value: .string(v.instancePath))
                    o.appendUnchecked(key: "keyword", value: .string(v.keyword))
                    o.appendUnchecked(key: "message", value: .string(v.message))
                    problems.append(.object(o))
                    summary.append(v.description)
                }
            }
        }
        if !rules.isEmpty {
            activation.event = event
            for rule in rules {
                let message: String
                do {
                    if try rule.expression.evaluateBool(activation) { continue }
                    message = rule.message
                } catch {
                    message = error.message
                }
                var o = JSONObject(minimumCapacity: 2)
                o.appendUnchecked(key: "rule", value: .string(rule.expression.source))
                o.appendUnchecked(key: "message", value: .string(message))
                problems.append(.object(o))
                summary.append(message)
            }
        }
        if problems.isEmpty {
            out.emit(event)
            return
        }
        switch onInvalid {
        case .drop:
            droppedCount += 1
            out.droppedCount += 1
        case .reject, .stop:
            let message = Self.summarize(summary)
            out.reject(event, step: name, message: message, violations: problems)
            if onInvalid == .stop, stopReason == nil {
                requestStop("\(name): invalid event: \(message)", into: &out)
            }
        }
    }

    /// Why an event's version selects no schema.
    struct VersionProblem: Error { var text: String }

    /// The schema of the event's version.
    func version(of event: Event, _ v: Versioned) -> Result<JSONSchema, VersionProblem> {
        activation.event = event
        let n: Int64
        do {
            switch try v.version.evaluateJSON(activation) {
            case .int(let i): n = i
            case .double(let d) where d == d.rounded() && abs(d) < 9e18: n = Int64(d)
            case let other:
                return .failure(
                    VersionProblem(text: "the version '\(v.version.source)' is \(other.kindName), not an integer"))
            }
        } catch {
            return .failure(VersionProblem(text: "version '\(v.version.source)': \(error.message)"))
        }
        guard let schema = v.schemas[n] else {
            let known = v.schemas.keys.sorted().map(String.init).joined(separator: ", ")
            return .failure(VersionProblem(text: "unknown schema version \(n) (this step has schemas for \(known))"))
        }
        return .success(schema)
    }

    /// Records the stop request and asks the runtime to end the run (exit 1).
    func requestStop(_ reason: String, into out: inout StepOutput) {
        stopReason = reason
        out.stop(reason)
    }

    /// "1 violation: /amount: -5 is less than the minimum of 0", or "N violations: a; b; c"
    /// (at most 10 listed).
    static func summarize(_ items: [String]) -> String {
        let head = items.count == 1 ? "1 violation" : "\(items.count) violations"
        var text = head + ": " + items.prefix(10).joined(separator: "; ")
        if items.count > 10 { text += "; and \(items.count - 10) more" }
        return text
    }

    static let definition = StepDefinition(
        kind: "validate",
        summary: "Check events against a JSON Schema and CEL rules; reject, drop or stop on invalid ones.",
        keys: ["schema", "schema_file", "schemas", "version", "rules", "on_invalid"],
        compile: { ctx in ValidateCompiler(ctx).compile() }
    )
}
