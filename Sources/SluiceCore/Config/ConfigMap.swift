import SluiceJSON

/// Reads a YAML mapping as a configuration section, remembering which keys were asked
/// for so that ``finish(allowed:)`` can report every other key as unknown, with a
/// "did you mean" when one is close.
///
/// ```swift
/// guard let m = ConfigMap(node, what: "dedupe", context: ctx) else { return nil }
/// let key = m.expression("key", required: true)
/// let within = m.duration("within", required: true)
/// m.finish()   // "unknown key 'withn' in 'dedupe'; did you mean 'within'?"
/// ```
///
/// Every accessor returns nil when the key is absent (reporting "missing required key"
/// when `required`) or its value is wrong (reported at the value). Null values (`key:`
/// or `key: ~`) count as present and are reported as the wrong type. Repeated keys are
/// reported by the loader; the accessors read the first.
public final class ConfigMap {
    /// The mapping node.
    @usableFromInline package let node: YAMLNode
    /// The mapping's pairs, in order.
    @usableFromInline package let pairs: [YAMLNode.Pair]
    /// The section's name in messages, e.g. `dedupe` in "missing required key 'key' in 'dedupe'".
    @usableFromInline package let what: String
    /// Where diagnostics go.
    @usableFromInline package let context: ConfigContext
    /// Keys asked for or allowed, in first-asked order (for suggestions and hints).
    private var known: [String] = []
    private var finished = false

    /// A reader over `node`; reports "expected a mapping for 'window', found a sequence"
    /// and returns nil when the node is not a mapping. A null node (`window:` with
    /// nothing after it) is read as an empty mapping.
    @usableFromInline package init?(_ node: YAMLNode, what: String, context: ConfigContext) {
        if node.isNull, node.scalar?.style == .plain {
            pairs = []
        } else if let p = node.mapping {
            pairs = p
        } else {
            context.error(node.location, "expected a mapping for '\(what)', found \(node.describe)")
            return nil
        }
        self.node = node
        self.what = what
        self.context = context
    }

    /// Where the mapping starts.
    public var location: SourceLocation { node.location }

    /// The scalar keys present, in order.
    public var keys: [String] { pairs.compactMap { $0.key.text } }

    /// True when no keys are present.
    public var isEmpty: Bool { pairs.isEmpty }

    /// Marks keys as valid without reading them (e.g. keys read only in some branches).
    public func allow(_ keys: [String]) {
        for k in keys where !known.contains(k) { known.append(k) }
    }

    /// True when `key` is present; marks it as a valid key.
    public func contains(_ key: String) -> Bool {
        allow([key])
        return pair(key) != nil
    }

    /// The phrase naming `key` in messages: `'within' in 'dedupe'`.
    @usableFromInline package func describe(_ key: String) -> String { "'\(key)' in '\(what)'" }

    private func pair(_ key: String) -> YAMLNode.Pair? {
        pairs.first { $0.key.text == key }
    }

    /// The value node of `key`; marks it as valid and reports a missing required key.
    @usableFromInline package func node(_ key: String, required: Bool = false) -> YAMLNode? {
        allow([key])
        if let p = pair(key) { return p.value }
        if required { context.error(node.location, "missing required key '\(key)' in '\(what)'") }
        return nil
    }

    /// The key node of `key`, for errors about the key itself.
    @usableFromInline package func keyNode(_ key: String) -> YAMLNode? { pair(key)?.key }

    /// A string value (any non-null scalar).
    public func string(_ key: String, required: Bool = false) -> String? {
        node(key, required: required).flatMap { context.string($0, what: describe(key)) }
    }

    /// An integer value, optionally within `range`.
    public func int(_ key: String, required: Bool = false, range: ClosedRange<Int>? = nil) -> Int? {
        node(key, required: required).flatMap { context.int($0, what: describe(key), range: range) }
    }

    /// A number value (integer or float), optionally within `range`.
    public func double(_ key: String, required: Bool = false, range: ClosedRange<Double>? = nil) -> Double? {
        node(key, required: required).flatMap { context.double($0, what: describe(key), range: range) }
    }

    /// A boolean value.
    public func bool(_ key: String, required: Bool = false) -> Bool? {
        node(key, required: required).flatMap { context.bool($0, what: describe(key)) }
    }

    /// A duration value such as `10s` (see ``TimeSpan``).
    @usableFromInline package func duration(_ key: String, required: Bool = false, allowZero: Bool = true) -> TimeSpan?
    {
        node(key, required: required).flatMap { context.duration($0, what: describe(key), allowZero: allowZero) }
    }

    /// A list of strings; a single string is accepted as a list of one.
    public func stringList(_ key: String, required: Bool = false) -> [String]? {
        node(key, required: required).flatMap { context.stringList($0, what: describe(key)) }
    }

    /// A sequence value's items.
    @usableFromInline package func sequence(_ key: String, required: Bool = false) -> [YAMLNode]? {
        node(key, required: required).flatMap { context.sequence($0, what: describe(key)) }
    }

    /// One of fixed words: "unknown value 'strct' for 'contiguity' in 'pattern'; did you
    /// mean 'strict'?".
    public func oneOf<T>(_ key: String, _ choices: [String: T], required: Bool = false) -> T? {
        node(key, required: required).flatMap { context.oneOf($0, what: describe(key), choices: choices) }
    }

    /// A nested section as a ``ConfigMap`` named after the key.
    public func map(_ key: String, required: Bool = false) -> ConfigMap? {
        node(key, required: required).flatMap { ConfigMap($0, what: key, context: context) }
    }

    /// The value converted to JSON (inline schemas, params, test data).
    public func json(_ key: String, required: Bool = false) -> JSON? {
        node(key, required: required).flatMap { context.json($0, what: describe(key)) }
    }

    /// CEL source (see ``ConfigContext/expression(_:what:)``).
    @usableFromInline package func expression(_ key: String, required: Bool = false) -> ConfigExpression? {
        node(key, required: required).flatMap { context.expression($0, what: describe(key)) }
    }

    /// Of mutually exclusive `keys` (e.g. `tumbling`, `hopping`, `session`), the one that
    /// is present. Reports "'tumbling' and 'hopping' cannot be used together in 'window'",
    /// and, when `required`, "'window' needs one of 'tumbling', 'hopping' or 'session'".
    public func exactlyOne(of keys: [String], required: Bool = true) -> String? {
        allow(keys)
        let present = pairs.filter { p in keys.contains(p.key.text ?? "") }
        if present.count > 1 {
            context.error(
                present[1].key.location,
                "\(quotedList(present.map { $0.key.text ?? "" }, or: false)) cannot be used together in '\(what)'")
            return nil
        }
        if let p = present.first { return p.key.text }
        if required { context.error(node.location, "'\(what)' needs one of \(quotedList(keys, or: true))") }
        return nil
    }

    /// Reports every present key that was neither read nor allowed:
    /// "unknown key 'withn' in 'pattern'; did you mean 'within'?" at the key, with the
    /// valid keys in a note. Call once, after reading; later calls do nothing.
    public func finish(allowed: [String] = []) {
        guard !finished else { return }
        finished = true
        allow(allowed)
        for p in pairs {
            guard let k = p.key.text else {
                context.error(p.key.location, "keys in '\(what)' must be strings, found \(p.key.describe)")
                continue
            }
            if known.contains(k) { continue }
            context.error(
                p.key.location, "unknown key '\(k)' in '\(what)'\(didYouMean(k, among: known))",
                hint: known.isEmpty ? "'\(what)' takes no keys" : "valid keys: \(known.joined(separator: ", "))")
        }
    }
}
