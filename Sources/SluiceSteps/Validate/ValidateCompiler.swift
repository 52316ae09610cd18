import SluiceCore
import SluiceJSON
import SluiceSchema

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads the configuration of one `validate` step.
struct ValidateCompiler {
    let ctx: StepCompileContext

    init(_ ctx: StepCompileContext) { self.ctx = ctx }

    var c: ConfigContext { ctx.context }

    func compile() -> StepFactory? {
        guard let m = ctx.map() else { return nil }
        var ok = true
        var schema: JSONSchema?
        let versioned = versionedSchemas(m)
        if versioned == nil { ok = false }
        switch m.exactlyOne(of: ["schema", "schema_file", "schemas"], required: false) {
        case "schema":
            if let node = m.node("schema") {
                schema = inlineSchema(node)
                if schema == nil { ok = false }
            }
        case "schema_file":
            if let node = m.node("schema_file") {
                schema = fileSchema(node)
                if schema == nil { ok = false }
            }
        case "schemas": break
        default:
            // More than one given (reported by exactlyOne) or none.
            if [m.contains("schema"), m.contains("schema_file"), m.contains("schemas")].filter({ $0 }).count > 1 {
                ok = false
            }
        }
        var rules: [ValidateStep.Rule] = []
        if let node = m.node("rules") {
            if let items = c.sequence(node, what: m.describe("rules")) {
                for (i, item) in items.enumerated() {
                    if let r = rule(item, index: i + 1) { rules.append(r) } else { ok = false }
                }
                if items.isEmpty {
                    c.error(
                        node.location, "'rules' in 'validate' is empty",
                        hint: "write rules as '- {expr: amount >= 0, message: amount must not be negative}'")
                    ok = false
                }
            } else {
                ok = false
            }
        }
        let onInvalid = m.oneOf("on_invalid", ["reject": ValidateStep.OnInvalid.reject, "drop": .drop, "stop": .stop])
        if m.node("on_invalid") != nil, onInvalid == nil { ok = false }
        m.finish()
        if ok, schema == nil, rules.isEmpty, versioned??.schemas.isEmpty ?? true {
            c.error(
                ctx.config.location, "'validate' needs a schema or rules",
                hint:
                    "give 'schema: {...}' (inline JSON Schema), 'schema_file: PATH', 'rules: [{expr: EXPR, message: TEXT}]', or a schema and rules"
            )
            ok = false
        }
        guard ok else { return nil }
        let compiler = ctx.expressions
        let name = ctx.stepName
        let mode = onInvalid ?? .reject
        let byVersion = versioned ?? nil
        return { [schema, rules] in
            ValidateStep(
                schema: schema, rules: rules, onInvalid: mode, compiler: compiler, name: name, versioned: byVersion)
        }
    }

    /// `version: EXPR` with `schemas: {N: SCHEMA | PATH, ...}`: the schema to check an
    /// event against is the one of its version. Nil (reported) when either is wrong;
    /// `.some(nil)` when neither is given.
    func versionedSchemas(_ m: ConfigMap) -> ValidateStep.Versioned?? {
        let versionExpr = m.expression("version")
        let schemasNode = m.node("schemas")
        guard versionExpr != nil || schemasNode != nil else { return .some(nil) }
        guard let schemasNode else {
            c.error(
                m.keyNode("version")?.location ?? m.location, "'version' in 'validate' needs 'schemas'",
                hint: "give the schema of each version: 'schemas: {1: {...}, 2: schemas/v2.json}'")
            return nil
        }
        guard let versionExpr else {
            c.error(
                m.keyNode("schemas")?.location ?? m.location, "'schemas' in 'validate' needs 'version'",
                hint: "'version' is the expression that gives an event's schema version, e.g. 'version: schema_version'"
            )
            return nil
        }
        guard let version = ctx.expressions.compile(versionExpr, context: c) else { return nil }
        guard let pairs = schemasNode.mapping, !pairs.isEmpty else {
            c.typeMismatch(
                schemasNode, expected: "a mapping of versions to schemas", what: "'schemas' in 'validate'",
                hint: "e.g. 'schemas: {1: {type: object, required: [id]}, 2: schemas/v2.json}'")
            return nil
        }
        var schemas: [Int64: JSONSchema] = [:]
        var ok = true
        for pair in pairs {
            guard let text = pair.key.text, let n = Int64(text), n >= 0 else {
                c.error(
                    pair.key.location,
                    "'schemas' in 'validate': '\(pair.key.text ?? "?")' is not a version (an integer)")
                ok = false
                continue
            }
            let schema = pair.value.mapping != nil ? inlineSchema(pair.value) : fileSchema(pair.value)
            if let schema { schemas[n] = schema } else { ok = false }
        }
        guard ok else { return nil }
        return .some(ValidateStep.Versioned(version: version, schemas: schemas))
    }

    /// One rule: `{expr: EXPR, message: TEXT}`, or just `EXPR`.
    func rule(_ node: YAMLNode, index: Int) -> ValidateStep.Rule? {
        if node.scalar != nil, !node.isNull {
            guard let e = c.expression(node, what: "rule \(index) of 'validate'"),
                let compiled = ctx.expressions.compile(e, context: c)
            else { return nil }
            return ValidateStep.Rule(expression: compiled, message: "failed: \(compiled.source)")
        }
        guard let rm = ConfigMap(node, what: "rule \(index)", context: c) else { return nil }
        let expr = rm.expression("expr", required: true)
        let message = rm.string("message")
        rm.finish()
        guard let expr, let compiled = ctx.expressions.compile(expr, context: c) else { return nil }
        if rm.node("message") != nil, message == nil { return nil }
        return ValidateStep.Rule(expression: compiled, message: message ?? "failed: \(compiled.source)")
    }

    /// `schema: {...}` written in the pipeline (YAML or JSON flow style). Errors point at
    /// the offending keyword inside it when it can be found.
    func inlineSchema(_ node: YAMLNode) -> JSONSchema? {
        let before = c.diagnostics.items.count
        guard let json = c.json(node, what: "'schema' in 'validate'") else {
            if c.diagnostics.items.count == before {
                c.error(node.location, "'schema' in 'validate' is not valid JSON")
            }
            return nil
        }
        do {
            return try JSONSchema(json)
        } catch {
            var hint: String?
            if case .string = json {
                hint = "to read a schema from a file, write 'schema_file: \(node.text ?? "PATH")'"
            }
            c.error(
                Self.locate(error.schemaPath, in: node) ?? node.location,
                "invalid JSON Schema at '\(error.schemaPath.isEmpty ? "/" : error.schemaPath)': \(error.message)",
                hint: hint)
            return nil
        }
    }

    /// `schema_file: PATH`, relative to the pipeline file. Every problem is reported at
    /// the path's line and column.
    func fileSchema(_ node: YAMLNode) -> JSONSchema? {
        guard let path = c.string(node, what: "'schema_file' in 'validate'") else { return nil }
        let full = ctx.resolvePath(path)
        let bytes: [UInt8]
        switch readSchemaFile(full) {
        case .success(let b): bytes = b
        case .failure(let message):
            c.error(
                node.location, "cannot read schema file '\(path)': \(message)",
                hint: "a relative path is relative to the pipeline file")
            return nil
        }
        let json: JSON
        do {
            json = try JSONParser.parse(bytes)
        } catch {
            let (line, column) = Self.lineColumn(of: error.offset, in: bytes)
            c.error(
                node.location,
                "schema file '\(path)' is not valid JSON: \(error.message) at line \(line), column \(column)")
            return nil
        }
        do {
            return try JSONSchema(json)
        } catch {
            c.error(
                node.location,
                "schema file '\(path)' is not a valid JSON Schema: at '\(error.schemaPath.isEmpty ? "/" : error.schemaPath)': \(error.message)"
            )
            return nil
        }
    }

    /// 1-based line and column (in Unicode scalars) of byte `offset`.
    static func lineColumn(of offset: Int, in bytes: [UInt8]) -> (Int, Int) {
        var line = 1
        var column = 1
        for b in bytes.prefix(max(0, offset)) {
            if b == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if b & 0xC0 != 0x80 {
                column += 1
            }
        }
        return (line, column)
    }

    /// The YAML node at JSON pointer `pointer` inside `node`, or nil.
    static func locate(_ pointer: String, in node: YAMLNode) -> SourceLocation? {
        guard pointer.hasPrefix("/") || pointer.isEmpty else { return nil }
        var current = node
        for raw in pointer.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            let token = unescapePointerToken(raw)
            if let pairs = current.mapping, let p = pairs.first(where: { $0.key.text == token }) {
                current = p.value
            } else if let items = current.sequence, let i = Int(token), items.indices.contains(i) {
                current = items[i]
            } else {
                break
            }
        }
        return current.location
    }
}

/// An RFC 6901 token with `~1` and `~0` decoded.
private func unescapePointerToken(_ raw: Substring) -> String {
    guard raw.contains("~") else { return String(raw) }
    var out = ""
    var it = raw.makeIterator()
    while let ch = it.next() {
        if ch == "~" {
            switch it.next() {
            case "1": out.append("/")
            case "0": out.append("~")
            case let other?: out.append("~"); out.append(other)
            case nil: out.append("~")
            }
        } else {
            out.append(ch)
        }
    }
    return out
}

/// The bytes of a file, or the system's reason it cannot be read.
func readSchemaFile(_ path: String) -> Result<[UInt8], SchemaFileError> {
    FileBytes.read(path).mapError { SchemaFileError($0.message) }
}

/// Why a schema file could not be read.
struct SchemaFileError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
