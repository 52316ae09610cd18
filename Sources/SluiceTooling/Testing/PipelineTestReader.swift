import SluiceConnectors
import SluiceCore
import SluiceJSON
import SluicePipeline

/// Reads a `tests:` list from the YAML tree. Every problem is a located diagnostic: those
/// inside one test go to that test (which then fails without running), the others to
/// the suite.
struct PipelineTestReader {
    static let testKeys = ["name", "description", "params", "input", "expect", "unordered", "match", "tables"]

    /// The tests of a `tests:` node, and problems with the list itself.
    static func read(_ node: YAMLNode) -> (tests: [PipelineTestCase], diagnostics: Diagnostics) {
        let suite = ConfigContext()
        guard let items = suite.sequence(node, what: "'tests'") else { return ([], suite.diagnostics) }
        var tests: [PipelineTestCase] = []
        var seen: [String: SourceLocation] = [:]
        for (i, item) in items.enumerated() {
            var test = readTest(item, index: i + 1)
            if let first = seen[test.name] {
                test.diagnostics.error(
                    item.location, "duplicate test name '\(test.name)'", hint: "the first is at \(first)")
            } else {
                seen[test.name] = item.location
            }
            tests.append(test)
        }
        return (tests, suite.diagnostics)
    }

    static func readTest(_ node: YAMLNode, index: Int) -> PipelineTestCase {
        let ctx = ConfigContext()
        var test = PipelineTestCase(name: "test \(index)", location: node.location)
        guard let m = ConfigMap(node, what: "test \(index)", context: ctx) else {
            test.diagnostics = ctx.diagnostics
            return test
        }
        if let name = m.string("name", required: true) { test.name = name }
        _ = m.string("description")
        let what = "test '\(test.name)'"
        if let p = m.node("params") {
            if let pairs = p.mapping {
                for pair in pairs {
                    guard let k = pair.key.text else {
                        ctx.error(pair.key.location, "parameter names must be strings, found \(pair.key.describe)")
                        continue
                    }
                    if let v = ctx.json(pair.value, what: "param '\(k)'") { test.params[k] = JSONWriter.string(v) }
                }
            } else {
                ctx.typeMismatch(p, expected: "a mapping of parameter names to values", what: "'params' in \(what)")
            }
        }
        if let inputNode = m.node("input") {
            for (name, location, items) in namedLists(inputNode, what: "'input' in \(what)", ctx: ctx) {
                test.inputs.append(
                    .init(name: name, location: location, items: items.compactMap { inputItem($0, ctx: ctx) }))
            }
        }
        if let expectNode = m.node("expect", required: true) {
            for (name, location, items) in namedLists(expectNode, what: "'expect' in \(what)", ctx: ctx) {
                test.expectations.append(
                    .init(
                        name: name, location: location,
                        events: items.compactMap { ctx.json($0, what: "an expected event") }))
            }
        }
        test.unordered = m.bool("unordered") ?? false
        test.match =
            m.oneOf(
                "match", Dictionary(uniqueKeysWithValues: PipelineTestCase.Match.allCases.map { ($0.rawValue, $0) }))
            ?? .exact
        if let t = m.node("tables") {
            if let pairs = t.mapping {
                for pair in pairs {
                    guard let k = pair.key.text,
                        let path = ctx.string(pair.value, what: "table '\(pair.key.text ?? "?")' in \(what)")
                    else { continue }
                    test.tables[k] = path
                }
            } else {
                ctx.typeMismatch(
                    t, expected: "a mapping of table names to files", what: "'tables' in \(what)",
                    hint: "e.g. '{users: data/test-users.csv}'")
            }
        }
        m.finish(allowed: testKeys)
        test.diagnostics = ctx.diagnostics
        return test
    }

    /// `{NAME: [items...], ...}`; a null value is an empty list.
    static func namedLists(_ node: YAMLNode, what: String, ctx: ConfigContext) -> [(String, SourceLocation, [YAMLNode])]
    {
        guard let pairs = node.mapping else {
            ctx.typeMismatch(
                node, expected: "a mapping of names to lists of events", what: what, hint: "e.g. '{in: [{id: 1}]}'")
            return []
        }
        var out: [(String, SourceLocation, [YAMLNode])] = []
        for pair in pairs {
            guard let name = pair.key.text else {
                ctx.error(pair.key.location, "names in \(what) must be strings, found \(pair.key.describe)")
                continue
            }
            if pair.value.isNull {
                out.append((name, pair.key.location, []))
            } else if let items = ctx.sequence(pair.value, what: "'\(name)' in \(what)") {
                out.append((name, pair.key.location, items))
            }
        }
        return out
    }

    /// An event, `{watermark: MS}`, or `{event: VALUE}` (for an event that would read as
    /// one of the other two).
    static func inputItem(_ node: YAMLNode, ctx: ConfigContext) -> InputItem? {
        if let pairs = node.mapping, pairs.count == 1, let key = pairs[0].key.text {
            let value = pairs[0].value
            switch key {
            case "watermark":
                guard case .int(let ms) = value.resolved else {
                    ctx.error(
                        value.location,
                        "expected epoch milliseconds (an integer) for 'watermark', found \(value.describe)",
                        hint: "to send an event that has only a 'watermark' field, write '{event: {watermark: ...}}'")
                    return nil
                }
                return .watermark(ms)
            case "event":
                return ctx.json(value, what: "an input event").map { .event($0) }
            default:
                break
            }
        }
        return ctx.json(node, what: "an input event").map { .event($0) }
    }
}
