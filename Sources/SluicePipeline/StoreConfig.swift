import SluiceCEL
import SluiceCore
import SluiceJSON
import SluiceSteps
import SluiceStore

/// `store:` inputs and outputs (docs/event-sourcing.md). Compiling reads only the YAML:
/// the store file is opened when the run starts.
extension PipelineCompiler {
    /// `sqlite: FILE` (resolved against the pipeline's folder) or `postgres: URL` (a libpq
    /// connection string), exactly one of them.
    func readStoreBackend(_ c: ConfigMap, what: String) -> StoreLocation? {
        let hint = "write 'sqlite: FILE' or 'postgres: \"postgres://USER@HOST:PORT/DATABASE\"'"
        if c.keyNode("postgres") != nil {
            if let k = c.keyNode("sqlite") {
                _ = c.node("sqlite")
                ctx.error(k.location, "\(what): give either 'sqlite' or 'postgres', not both", hint: hint)
                return nil
            }
            guard let url = c.string("postgres", required: true) else { return nil }
            guard !url.isEmpty else {
                ctx.error(
                    c.node("postgres")?.location ?? c.location, "\(what): 'postgres' needs a connection URL", hint: hint
                )
                return nil
            }
            return .postgres(url)
        }
        guard let path = c.string("sqlite", required: true) else { return nil }
        guard !path.isEmpty else {
            ctx.error(c.node("sqlite")?.location ?? c.location, "\(what): 'sqlite' needs a file name")
            return nil
        }
        return .sqlite(resolve(path))
    }

    /// A SQLite file only (projections and their lookup tables): a PostgreSQL location is
    /// an error saying so.
    func readSQLiteBackend(_ c: ConfigMap, what: String) -> String? {
        let node = c.keyNode("postgres")
        switch readStoreBackend(c, what: what) {
        case .sqlite(let path)?: return path
        case .postgres?:
            ctx.error(
                node?.location ?? c.location, "\(what): projections are kept in SQLite only so far",
                hint: "write 'sqlite: FILE'; the event store itself may be PostgreSQL")
            return nil
        case nil: return nil
        }
    }

    /// `store: {sqlite: FILE | postgres: URL, from: ..., follow: BOOL, poll: DURATION, metadata: FIELD}`.
    func readStoreInput(_ c: ConfigMap, name: String) -> StoreReadSpec? {
        let what = "store input '\(name)'"
        let location = readStoreBackend(c, what: what)
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
        guard let location else { return nil }
        // PostgreSQL notifies followers of appends: its poll is only a fallback.
        var defaultPoll: Int64 = 100
        if case .postgres = location { defaultPoll = 1000 }
        return StoreReadSpec(
            location: location, start: start, follow: follow,
            pollMillis: Int(max(1, min(poll?.milliseconds ?? defaultPoll, 60_000))), metadataField: metadata)
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

    /// `store: {sqlite: FILE | postgres: URL, stream: EXPR, id: EXPR, type: EXPR, expected_version: EXPR,
    /// schema_version: EXPR}`.
    func readStoreOutput(_ c: ConfigMap, name: String) -> (location: StoreLocation, spec: StoreAppendSpec)? {
        let what = "store output '\(name)'"
        let location = readStoreBackend(c, what: what)
        let stream = c.expression("stream", required: true)
        let id = c.expression("id", required: true)
        let type = c.expression("type", required: true)
        let expected = c.expression("expected_version")
        let schema = c.expression("schema_version")
        c.finish()
        guard let expressions else { return nil }
        func compile(_ e: ConfigExpression?) -> Expression? { e.flatMap { expressions.compile($0, context: ctx) } }
        guard let location, let s = compile(stream), let i = compile(id), let t = compile(type) else { return nil }
        let ev = compile(expected)
        let sv = compile(schema)
        if (expected != nil && ev == nil) || (schema != nil && sv == nil) { return nil }
        return (
            location, StoreAppendSpec(name: name, stream: s, id: i, type: t, expectedVersion: ev, schemaVersion: sv)
        )
    }
}
