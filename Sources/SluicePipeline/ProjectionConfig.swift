import SluiceCEL
import SluiceCore
import SluiceJSON
import SluiceSteps
import SluiceStore

/// `project:` outputs (docs/event-sourcing.md, "Projections"). Compiling reads only the
/// YAML: the database is opened when the run starts.
extension PipelineCompiler {
    /// `project: {sqlite: FILE, table: NAME, key: EXPR, key_column: NAME, position: EXPR|arrival,
    /// columns: {NAME: TYPE | {type: TYPE, initial: VALUE}}, on: [{when: EXPR, set: {COLUMN: EXPR}} | {when: EXPR, delete: true}]}`.
    func readProjectOutput(_ c: ConfigMap, name: String) -> (path: String, spec: ProjectionSpec)? {
        let what = "project output '\(name)'"
        var ok = true
        let path = readSQLiteBackend(c, what: what)
        let tableName = c.string("table", required: true)
        if let t = tableName, let node = c.node("table") {
            if !ProjectionTable.isIdentifier(t) {
                ctx.error(node.location, "'table' of \(what): '\(t)' is not a table name (letters, digits and '_')")
                ok = false
            } else if t == "events" || t.lowercased().hasPrefix("sluice_") || t.lowercased().hasPrefix("sqlite_") {
                ctx.error(
                    node.location, "'table' of \(what): '\(t)' is reserved",
                    hint: "'events' and names starting with 'sluice_' or 'sqlite_' are the store's own tables")
                ok = false
            }
        }
        let keyExpr = c.expression("key", required: true)
        var keyColumn = "key"
        if let node = c.node("key_column"), let s = ctx.string(node, what: "'key_column' of \(what)") {
            if ProjectionTable.isIdentifier(s) {
                keyColumn = s
            } else {
                ctx.error(
                    node.location, "'key_column' of \(what): '\(s)' is not a column name (letters, digits and '_')")
                ok = false
            }
        }
        var position: ProjectionSpec.Position?
        var positionExpr: ConfigExpression?
        if let node = c.node("position") {
            if node.text == "arrival" {
                position = .arrival
            } else {
                positionExpr = ctx.expression(node, what: "'position' of \(what)")
                if positionExpr == nil { ok = false }
            }
        }
        let columns = readProjectionColumns(c.node("columns", required: true), keyColumn: keyColumn, what: what)
        if columns == nil { ok = false }
        let ruleNodes = c.sequence("on", required: true)
        if let ruleNodes, ruleNodes.isEmpty, let n = c.node("on") {
            ctx.error(
                n.location, "'on' of \(what) is empty",
                hint: "give at least one rule: '- {when: EXPR, set: {COLUMN: EXPR}}'")
            ok = false
        }
        c.finish()
        guard let expressions, let columns, let tableName, let keyExpr, let ruleNodes else { return nil }
        let table = ProjectionTable(name: tableName, keyColumn: keyColumn, columns: columns)
        let key = expressions.compile(keyExpr, context: ctx)
        if key != nil { checkRowReferences(keyExpr, table: table, allowed: false, what: "'key'") }
        if let positionExpr {
            if let e = expressions.compile(positionExpr, context: ctx) { position = .expression(e) } else { ok = false }
        } else if position == nil {
            do {
                position = .expression(try expressions.compile(source: "_store.position"))
            } catch {
                ok = false
            }
        }
        var rules: [ProjectionSpec.Rule] = []
        for (i, node) in ruleNodes.enumerated() {
            if let r = readProjectionRule(node, index: i + 1, table: table, what: what) {
                rules.append(r)
            } else {
                ok = false
            }
        }
        guard ok, let path, let key, let position else { return nil }
        return (path, ProjectionSpec(name: name, table: table, key: key, position: position, rules: rules))
    }

    /// `tables: {NAME: {projection: TABLE, sqlite: FILE, refresh: DURATION}}`: a projection's
    /// table read by `lookup()`, refreshed as the projection changes (see
    /// ``ProjectionLookupTable``). `key:` names the key column only for a `sluice test`
    /// that replaces the table by a file.
    func readProjectionTable(_ c: ConfigMap, name: String) -> ProjectionLookupTable? {
        let what = "table '\(name)'"
        let projection = c.string("projection", required: true)
        let path = readSQLiteBackend(c, what: what)
        let refresh = c.duration("refresh", allowZero: false)
        _ = c.string("key")
        c.finish()
        if let projection, !ProjectionTable.isIdentifier(projection), let node = c.node("projection") {
            ctx.error(node.location, "'projection' of \(what): '\(projection)' is not a table name")
            return nil
        }
        guard let projection, let path else { return nil }
        return ProjectionLookupTable(
            path: path, projection: projection, refreshMillis: refresh.map { Int64($0.milliseconds) } ?? 1000)
    }

    /// `columns: {NAME: TYPE, NAME: {type: TYPE, initial: VALUE}}`.
    func readProjectionColumns(_ node: YAMLNode?, keyColumn: String, what: String) -> [ProjectionColumn]? {
        guard let node else { return nil }
        guard let pairs = node.mapping else {
            ctx.typeMismatch(
                node, expected: "a mapping of column names to types", what: "'columns' of \(what)",
                hint: "e.g. 'columns: {total: double, status: string}'")
            return nil
        }
        if pairs.isEmpty {
            ctx.error(node.location, "'columns' of \(what) is empty", hint: "declare the columns 'set:' writes")
            return nil
        }
        let types = Dictionary(uniqueKeysWithValues: ProjectionColumnType.allCases.map { ($0.rawValue, $0) })
        var out: [ProjectionColumn] = []
        var ok = true
        for pair in pairs {
            guard let name = pair.key.text else { continue }
            if !ProjectionTable.isIdentifier(name) {
                ctx.error(
                    pair.key.location, "column '\(name)' of \(what) is not a column name (letters, digits and '_')")
                ok = false
                continue
            }
            if name == keyColumn {
                ctx.error(
                    pair.key.location, "column '\(name)' of \(what) is the key column",
                    hint: "the key column holds the value of 'key:'; do not declare it under 'columns'")
                ok = false
                continue
            }
            var type: ProjectionColumnType?
            var initial: JSON?
            if pair.value.mapping != nil {
                guard let m = ConfigMap(pair.value, what: "column '\(name)'", context: ctx) else { continue }
                type = m.oneOf("type", types, required: true)
                if let v = m.node("initial") { initial = ctx.json(v, what: "'initial' of column '\(name)'") }
                m.finish()
                if let t = type, let v = initial, let iv = m.node("initial") {
                    switch t.coerce(v) {
                    case .success(let fit): initial = fit
                    case .failure(let f):
                        ctx.error(iv.location, "'initial' of column '\(name)': \(f.message)")
                        ok = false
                    }
                }
            } else {
                type = ctx.oneOf(pair.value, what: "the type of column '\(name)'", choices: types)
            }
            guard let type else {
                ok = false
                continue
            }
            out.append(ProjectionColumn(name: name, type: type, initial: initial))
        }
        return ok ? out : nil
    }

    /// One rule: `{when: EXPR, set: {COLUMN: EXPR, ...}}` or `{when: EXPR, delete: true}`.
    func readProjectionRule(_ node: YAMLNode, index: Int, table: ProjectionTable, what: String) -> ProjectionSpec.Rule?
    {
        guard let expressions, let m = ConfigMap(node, what: "rule \(index) of \(what)", context: ctx) else {
            return nil
        }
        let whenExpr = m.expression("when")
        let delete = m.bool("delete") ?? false
        let setNode = m.node("set")
        m.finish()
        var ok = true
        if setNode != nil && delete {
            ctx.error(
                node.location, "rule \(index) of \(what) has both 'set' and 'delete: true'",
                hint: "a rule either sets columns (inserting the row when it is new) or deletes the row")
            return nil
        }
        if setNode == nil && !delete {
            ctx.error(
                node.location, "rule \(index) of \(what) needs 'set: {COLUMN: EXPR}' or 'delete: true'",
                hint: "e.g. '- {when: type == \"paid\", set: {paid: row.paid + amount}}'")
            return nil
        }
        var when: Expression?
        if let whenExpr {
            when = expressions.compile(whenExpr, context: ctx)
            if when == nil {
                ok = false
            } else {
                checkRowReferences(whenExpr, table: table, allowed: false, what: "'when'")
            }
        }
        var sets: [(column: Int, expression: Expression)] = []
        if let setNode {
            guard let pairs = setNode.mapping, !pairs.isEmpty else {
                ctx.typeMismatch(
                    setNode, expected: "a mapping of columns to expressions", what: "'set' of rule \(index)",
                    hint: "e.g. 'set: {total: row.total + amount}'")
                return nil
            }
            let names = table.columns.map(\.name)
            for pair in pairs {
                guard let column = pair.key.text else { continue }
                guard let ci = names.firstIndex(of: column) else {
                    if column == table.keyColumn {
                        ctx.error(
                            pair.key.location, "'set' of rule \(index) sets the key column '\(column)'",
                            hint: "the key column holds the value of 'key:'")
                    } else {
                        ctx.error(
                            pair.key.location,
                            "'set' of rule \(index) of \(what): no column '\(column)'\(didYouMean(column, among: names))",
                            hint: "declare it under 'columns' (\(quotedList(names, or: false)))")
                    }
                    ok = false
                    continue
                }
                guard let e = ctx.expression(pair.value, what: "column '\(column)' of rule \(index)") else {
                    ok = false
                    continue
                }
                guard let compiled = expressions.compile(e, context: ctx) else {
                    ok = false
                    continue
                }
                if !checkRowReferences(e, table: table, allowed: true, what: "column '\(column)'") { ok = false }
                sets.append((ci, compiled))
            }
        }
        guard ok else { return nil }
        return ProjectionSpec.Rule(when: when, set: sets, delete: delete)
    }

    /// Reports each `row.NAME` in `e` whose NAME is not a column, and (when `allowed` is
    /// false) any use of `row`: only `set:` expressions see the row. True when there was
    /// nothing to report.
    @discardableResult
    func checkRowReferences(_ e: ConfigExpression, table: ProjectionTable, allowed: Bool, what: String) -> Bool {
        let names = [table.keyColumn] + table.columns.map(\.name)
        var ok = true
        for (field, offset) in selections(on: ProjectionSpec.rowName, in: e.source) {
            if !allowed {
                ctx.error(
                    e.location(ofOffset: offset), "\(what) cannot read 'row': it is evaluated before the row is read",
                    hint: "only the expressions under 'set:' see the row")
                return false
            }
            if let field, !names.contains(field) {
                ctx.error(
                    e.location(ofOffset: offset),
                    "'row.\(field)': table '\(table.name)' has no column '\(field)'\(didYouMean(field, among: names))",
                    hint: "its columns: \(quotedList(names, or: false))")
                ok = false
            }
        }
        return ok
    }
}

/// Each use of the name `base` in CEL `source` outside string literals, with the field
/// selected on it (`row.total` gives `total`; a bare `row`, nil) and the scalar offset of
/// `base`. Comprehension variables and fields named like `base` (`x.row`) are not uses.
func selections(on base: String, in source: String) -> [(String?, Int)] {
    let s = Array(source.unicodeScalars)
    let b = Array(base.unicodeScalars)
    func isWord(_ c: Unicode.Scalar) -> Bool { c == "_" || c.properties.isAlphabetic || ("0"..."9").contains(c) }
    var out: [(String?, Int)] = []
    var quote: Unicode.Scalar?
    var i = 0
    while i < s.count {
        let c = s[i]
        if let q = quote {
            if c == "\\" {
                i += 2
                continue
            }
            if c == q { quote = nil }
            i += 1
            continue
        }
        if c == "\"" || c == "'" {
            quote = c
            i += 1
            continue
        }
        var before = i - 1
        while before >= 0, s[before] == " " { before -= 1 }
        let afterDot = before >= 0 && s[before] == "."
        if i + b.count <= s.count, Array(s[i..<(i + b.count)]) == b, i == 0 || !isWord(s[i - 1]), !afterDot,
            i + b.count == s.count || !isWord(s[i + b.count])
        {
            var j = i + b.count
            while j < s.count, s[j] == " " { j += 1 }
            if j < s.count, s[j] == "." {
                j += 1
                while j < s.count, s[j] == " " { j += 1 }
                var k = j
                while k < s.count, isWord(s[k]) { k += 1 }
                out.append((String(String.UnicodeScalarView(s[j..<k])), i))
            } else if j < s.count, s[j] == "[" {
                out.append((nil, i))
            } else {
                out.append((nil, i))
            }
            i += b.count
            continue
        }
        i += 1
    }
    return out
}
