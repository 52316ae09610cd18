import SluiceCEL
import SluiceCore
import SluiceJSON
import SluiceSteps
import SluiceStore

/// `store:` inputs and outputs (docs/event-sourcing.md). Compiling reads only the YAML:
/// the store file is opened when the run starts.
extension PipelineCompiler {
    static let storeBackends = ["sqlite", "postgres"]

    /// `sqlite: FILE` (resolved against the pipeline's folder); `postgres:` is refused
    /// with a clear message until that backend exists.
    func readStoreBackend(_ c: ConfigMap, what: String) -> String? {
        if let k = c.keyNode("postgres") {
            _ = c.node("postgres")
            ctx.error(k.location, "\(what): PostgreSQL stores are not supported yet", hint: "use 'sqlite: FILE'")
            return nil
        }
        guard let path = c.string("sqlite", required: true) else { return nil }
        guard !path.isEmpty else {
            ctx.error(c.node("sqlite")?.location ?? c.location, "\(what): 'sqlite' needs a file name")
            return nil
        }
        return resolve(path)
    }

    /// `store: {sqlite: FILE, from: ..., follow: BOOL, poll: DURATION, metadata: FIELD}`.
    func readStoreInput(_ c: ConfigMap, name: String) -> StoreReadSpec? {
        let what = "store input '\(name)'"
        let path = readStoreBackend(c, what: what)
        var start = ReplayStart.beginning
        if let node = c.node("from") { start = readReplayStart(node, what: what) ?? .beginning }
        let follow = c.bool("follow") ?? false
        let poll = c.duration("poll", allowZero: false)
        var metadata: String? = "_store"
        if let node = c.node("metadata") {
            if node.scalar != nil, case .bool(false) = node.resolved {
                metadata = nil
            } else if let s = ctx.string(node, what: "'metadata' of \(what)") {
                if s.isEmpty || s.contains(".") {
                    ctx.error(node.location, "'metadata' of \(what) must be a field name (or false)")
                } else {
                    metadata = s
                }
            }
        }
        c.finish()
        if let p = poll, p.milliseconds > 60_000 {
            ctx.error(c.node("poll")?.location ?? c.location, "'poll' of \(what) is at most 60s")
        }
        guard let path else { return nil }
        return StoreReadSpec(
            path: path, start: start, follow: follow, pollMillis: Int(max(1, min(poll?.milliseconds ?? 100, 60_000))),
            metadataField: metadata)
    }

    /// `from: beginning`, `from: POSITION`, `from: "2024-05-01T00:00:00Z"` or `from: {stream: ID}`.
    func readReplayStart(_ node: YAMLNode, what: String) -> ReplayStart? {
        let hint = "'from' takes 'beginning', a global position (1, 2, ...), an RFC 3339 time, or '{stream: ID}'"
        if let m = node.mapping {
            guard let c = ConfigMap(node, what: "'from' of \(what)", context: ctx) else { return nil }
            _ = m
            let id = c.string("stream", required: true)
            c.finish()
            guard let id else { return nil }
            if id.isEmpty {
                ctx.error(node.location, "'from: {stream: ...}' of \(what) needs a stream id")
                return nil
            }
            return .stream(id)
        }
        guard let s = node.scalar else {
            ctx.typeMismatch(
                node, expected: "'beginning', a position, a time or {stream: ID}", what: "'from' of \(what)", hint: hint
            )
            return nil
        }
        if s.text == "beginning" { return .beginning }
        if case .int(let p) = node.resolved {
            guard p >= 1 else {
                ctx.error(node.location, "'from' of \(what): positions start at 1, got \(p)", hint: hint)
                return nil
            }
            return .position(p)
        }
        if let t = try? CELTimestamp(parsing: s.text) {
            return .time(t.seconds * 1000 + Int64(t.nanos) / 1_000_000)
        }
        ctx.error(node.location, "'from' of \(what): cannot read '\(s.text)'", hint: hint)
        return nil
    }

    /// `store: {sqlite: FILE, stream: EXPR, id: EXPR, type: EXPR, expected_version: EXPR,
    /// schema_version: EXPR}`.
    func readStoreOutput(_ c: ConfigMap, name: String) -> (path: String, spec: StoreAppendSpec)? {
        let what = "store output '\(name)'"
        let path = readStoreBackend(c, what: what)
        let stream = c.expression("stream", required: true)
        let id = c.expression("id", required: true)
        let type = c.expression("type", required: true)
        let expected = c.expression("expected_version")
        let schema = c.expression("schema_version")
        c.finish()
        guard let expressions else { return nil }
        func compile(_ e: ConfigExpression?) -> Expression? { e.flatMap { expressions.compile($0, context: ctx) } }
        guard let path, let s = compile(stream), let i = compile(id), let t = compile(type) else { return nil }
        let ev = compile(expected)
        let sv = compile(schema)
        if (expected != nil && ev == nil) || (schema != nil && sv == nil) { return nil }
        return (path, StoreAppendSpec(name: name, stream: s, id: i, type: t, expectedVersion: ev, schemaVersion: sv))
    }
}
