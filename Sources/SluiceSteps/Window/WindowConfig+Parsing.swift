import SluiceCEL
import SluiceCore
import SluiceJSON

extension WindowConfig {
    /// Reads and checks the configuration, reporting every problem with its line and column.
    static func parse(_ ctx: StepCompileContext) -> WindowConfig? {
        guard let m = ctx.map() else { return nil }
        let c = ctx.context
        var ok = true
        let kindName = m.exactlyOne(of: ["tumbling", "hopping", "session", "count"])
        var kind: WindowKind?
        if let kindName, let node = m.node(kindName) {
            kind = parseKind(kindName, node, c)
        }
        if kindName != nil, kind == nil { ok = false }

        var key = WindowKey.global
        if let node = m.node("key") {
            if let k = parseKey(node, ctx) { key = k } else { ok = false }
        }

        var inputs: [WindowInput] = []
        var inputSources: [String: Int] = [:]
        var aggregates: [WindowAggregate] = []
        let reserved = key.fieldNames + ["window_start", "window_end", "update"]
        if let node = m.node("aggregate") {
            if let pairs = node.mapping {
                var splitByComma = false
                for pair in pairs {
                    // `{ p: percentile(x, 0.5) }` reads as `p: "percentile(x"` and `0.5): null`;
                    // the first half already reported it, with a hint to quote.
                    if splitByComma, pair.value.isNull, pair.key.text?.contains(")") == true {
                        splitByComma = false
                        continue
                    }
                    splitByComma = false
                    guard let name = pair.key.text, !pair.key.isNull else {
                        c.error(pair.key.location, "aggregate names must be strings, found \(pair.key.describe)")
                        ok = false
                        continue
                    }
                    if reserved.contains(name) {
                        let what =
                            key.fieldNames.contains(name) ? "the key field '\(name)'" : "the output field '\(name)'"
                        c.error(
                            pair.key.location, "aggregate '\(name)' has the same name as \(what)",
                            hint: "rename the aggregate")
                        ok = false
                    }
                    guard let expr = c.expression(pair.value, what: "'\(name)' in 'aggregate'") else {
                        ok = false
                        continue
                    }
                    guard let call = parseAggregate(expr, ctx) else {
                        splitByComma = expr.source.filter { $0 == "(" }.count > expr.source.filter { $0 == ")" }.count
                        ok = false
                        continue
                    }
                    var index = -1
                    if let (source, input) = call.input {
                        if let i = inputSources[source] {
                            index = i
                        } else {
                            index = inputs.count
                            inputSources[source] = index
                            inputs.append(input)
                        }
                    }
                    aggregates.append(
                        WindowAggregate(name: name, function: call.function, input: index, label: call.label))
                }
            } else {
                c.typeMismatch(
                    node, expected: "a mapping of output names to aggregates", what: "'aggregate' in 'window'",
                    hint: "e.g. 'aggregate: { n: count(), total: sum(amount) }'")
                ok = false
            }
        }

        var having: Expression?
        if let e = m.expression("having") {
            if let h = ctx.expressions.compile(e, context: c) { having = h } else { ok = false }
        }

        var lateness: Int64 = 0
        if let node = m.node("allowed_lateness") {
            if let t = c.duration(node, what: "'allowed_lateness' in 'window'") {
                lateness = t.milliseconds
                if case .count? = kind {
                    c.error(
                        node.location, "'allowed_lateness' does not apply to count windows",
                        hint: "count windows have no event-time end, so no event is late")
                    ok = false
                }
            } else {
                ok = false
            }
        }

        var maxOpen = defaultMaxOpenWindows
        if m.contains("max_open_windows") {
            if let n = m.int("max_open_windows", range: 1...Int(Int32.max)) { maxOpen = n } else { ok = false }
        }
        m.finish()
        guard ok, let kind else { return nil }
        return WindowConfig(
            kind: kind, key: key, inputs: inputs, aggregates: aggregates, having: having,
            allowedLateness: lateness, maxOpenWindows: maxOpen)
    }

    // MARK: Kinds

    /// A duration in whole milliseconds, longer than zero.
    static func millis(_ m: ConfigMap, _ key: String, required: Bool, allowZero: Bool = false) -> Int64?? {
        guard let node = m.node(key, required: required) else { return required ? nil : .some(nil) }
        guard let t = m.context.duration(node, what: m.describe(key), allowZero: allowZero) else { return nil }
        if t.nanoseconds % 1_000_000 != 0 {
            m.context.error(node.location, "\(m.describe(key)) must be a whole number of milliseconds, found \(t)")
            return nil
        }
        return .some(t.milliseconds)
    }

    static func parseKind(_ name: String, _ node: YAMLNode, _ c: ConfigContext) -> WindowKind? {
        switch name {
        case "tumbling":
            if node.mapping == nil {
                return scalarMillis(node, what: "'tumbling' in 'window'", c).map { .tumbling(size: $0, offset: 0) }
            }
            guard let m = ConfigMap(node, what: "tumbling", context: c) else { return nil }
            let size = millis(m, "size", required: true)
            let offset = millis(m, "offset", required: false, allowZero: true)
            m.finish()
            guard let size = size ?? nil, let offset else { return nil }
            if let o = offset, o >= size {
                c.error(m.node("offset")?.location, "'offset' in 'tumbling' must be shorter than 'size'")
                return nil
            }
            return .tumbling(size: size, offset: offset ?? 0)
        case "hopping":
            guard let m = ConfigMap(node, what: "hopping", context: c) else { return nil }
            let size = millis(m, "size", required: true)
            let every = millis(m, "every", required: true)
            let offset = millis(m, "offset", required: false, allowZero: true)
            m.finish()
            guard let size = size ?? nil, let every = every ?? nil, let offset else { return nil }
            if every > size {
                c.error(
                    m.node("every")?.location,
                    "'every' (\(TimeSpan.milliseconds(every))) in 'hopping' is longer than 'size' (\(TimeSpan.milliseconds(size)))",
                    hint: "events between windows would be lost; use 'every' <= 'size'")
                return nil
            }
            if size / every > Int64(maxWindowsPerEvent) {
                c.error(
                    m.node("every")?.location,
                    "'hopping' windows would overlap \(size / every) times; at most \(maxWindowsPerEvent) are allowed",
                    hint: "each event is counted in size / every windows; make 'every' longer")
                return nil
            }
            if let o = offset, o >= every {
                c.error(m.node("offset")?.location, "'offset' in 'hopping' must be shorter than 'every'")
                return nil
            }
            return .hopping(size: size, every: every, offset: offset ?? 0)
        case "session":
            if node.mapping == nil {
                return scalarMillis(node, what: "'session' in 'window'", c).map { .session(gap: $0) }
            }
            guard let m = ConfigMap(node, what: "session", context: c) else { return nil }
            let gap = millis(m, "gap", required: true)
            m.finish()
            guard let gap = gap ?? nil else { return nil }
            return .session(gap: gap)
        default:  // count
            if node.mapping == nil {
                guard let n = c.int(node, what: "'count' in 'window'", range: 1...Int.max) else { return nil }
                return .count(size: Int64(n), every: Int64(n))
            }
            guard let m = ConfigMap(node, what: "count", context: c) else { return nil }
            let size = m.int("size", required: true, range: 1...Int.max)
            let every = m.contains("every") ? m.int("every", range: 1...Int.max) : size
            m.finish()
            guard let size, let every else { return nil }
            if every > size {
                c.error(
                    m.node("every")?.location, "'every' (\(every)) in 'count' is larger than 'size' (\(size))",
                    hint: "use 'every' <= 'size'")
                return nil
            }
            return .count(size: Int64(size), every: Int64(every))
        }
    }

    /// `tumbling: 1m` / `session: 30s`: a scalar duration, or nil (reported) when it is not one.
    static func scalarMillis(_ node: YAMLNode, what: String, _ c: ConfigContext) -> Int64? {
        guard node.scalar != nil else {
            c.typeMismatch(node, expected: "a duration such as '1m' or a mapping", what: what)
            return nil
        }
        guard let t = c.duration(node, what: what, allowZero: false) else { return nil }
        if t.nanoseconds % 1_000_000 != 0 {
            c.error(node.location, "\(what) must be a whole number of milliseconds, found \(t)")
            return nil
        }
        return t.milliseconds
    }

    // MARK: Keys

    static let celWords: Set<String> = ["true", "false", "null", "in", "event", "params", "now"]

    /// True when `text` is a plain field name to read directly rather than CEL.
    static func isFieldName(_ text: String, _ ctx: StepCompileContext) -> Bool {
        guard let first = text.unicodeScalars.first,
            first == "_" || ("a"..."z").contains(first) || ("A"..."Z").contains(first)
        else {
            return false
        }
        for u in text.unicodeScalars
        where !(u == "_" || ("a"..."z").contains(u) || ("A"..."Z").contains(u) || ("0"..."9").contains(u)) {
            return false
        }
        return !celWords.contains(text) && ctx.expressions.tables[text] == nil
    }

    static func parseInput(_ expr: ConfigExpression, _ ctx: StepCompileContext) -> WindowInput? {
        let text = expr.source.trimmingSpaces
        if isFieldName(text, ctx) { return .field(text) }
        return ctx.expressions.compile(expr, context: ctx.context).map { .expression($0) }
    }

    static func parseKey(_ node: YAMLNode, _ ctx: StepCompileContext) -> WindowKey? {
        let c = ctx.context
        if let pairs = node.mapping {
            if pairs.isEmpty {
                c.error(
                    node.location, "'key' in 'window' is an empty mapping", hint: "remove 'key' for one global window")
                return nil
            }
            var parts: [(name: String, input: WindowInput)] = []
            var ok = true
            for p in pairs {
                guard let name = p.key.text, !p.key.isNull else {
                    c.error(p.key.location, "key names must be strings, found \(p.key.describe)")
                    ok = false
                    continue
                }
                guard let e = c.expression(p.value, what: "'\(name)' in 'key'"), let input = parseInput(e, ctx) else {
                    ok = false
                    continue
                }
                parts.append((name, input))
            }
            return ok ? .named(parts) : nil
        }
        guard let e = c.expression(node, what: "'key' in 'window'") else { return nil }
        guard let input = parseInput(e, ctx) else { return nil }
        if case .field(let f) = input { return .single(name: f, input) }
        return .single(name: "key", input)
    }

    // MARK: Aggregates

    struct Call {
        var function: AggregateFunction
        var input: (source: String, WindowInput)?
        var label: String
    }

    /// Parses `fn(arg, ...)`; each argument's text with its offset in `source` (Unicode scalars).
    static func splitCall(_ source: String) -> (name: String, nameOffset: Int, args: [(text: String, offset: Int)])? {
        let s = Array(source.unicodeScalars)
        var i = 0
        func skipSpace() { while i < s.count, s[i] == " " || s[i] == "\t" || s[i] == "\n" || s[i] == "\r" { i += 1 } }
        skipSpace()
        let nameStart = i
        while i < s.count, s[i] == "_" || s[i].properties.isAlphabetic || ("0"..."9").contains(s[i]) { i += 1 }
        guard i > nameStart else { return nil }
        let name = String(String.UnicodeScalarView(s[nameStart..<i]))
        skipSpace()
        guard i < s.count, s[i] == "(" else { return nil }
        i += 1
        var args: [(text: String, offset: Int)] = []
        var depth = 0
        var quote: Unicode.Scalar?
        var argStart = i
        func finishArg(_ end: Int) {
            var a = argStart
            var b = end
            while a < b, s[a] == " " || s[a] == "\t" || s[a] == "\n" || s[a] == "\r" { a += 1 }
            while b > a, s[b - 1] == " " || s[b - 1] == "\t" || s[b - 1] == "\n" || s[b - 1] == "\r" { b -= 1 }
            args.append((String(String.UnicodeScalarView(s[a..<b])), a))
        }
        while i < s.count {
            let ch = s[i]
            if let q = quote {
                if ch == "\\" {
                    i += 2
                    continue
                }
                if ch == q { quote = nil }
                i += 1
                continue
            }
            switch ch {
            case "\"", "'": quote = ch
            case "(", "[", "{": depth += 1
            case ")", "]", "}":
                if depth == 0 {
                    guard ch == ")" else { return nil }
                    finishArg(i)
                    i += 1
                    skipSpace()
                    guard i == s.count else { return nil }
                    if args.count == 1, args[0].text.isEmpty { args = [] }
                    return (name, nameStart, args)
                }
                depth -= 1
            case ",":
                if depth == 0 {
                    finishArg(i)
                    argStart = i + 1
                }
            default: break
            }
            i += 1
        }
        return nil
    }

    static func parseAggregate(_ expr: ConfigExpression, _ ctx: StepCompileContext) -> Call? {
        let c = ctx.context
        let source = expr.source
        guard let (name, nameOffset, args) = splitCall(source) else {
            let unbalanced = source.filter { $0 == "(" }.count > source.filter { $0 == ")" }.count
            c.error(
                expr.location, "expected an aggregate call such as 'sum(amount)', found '\(source)'",
                hint: unbalanced
                    ? "in a YAML flow mapping ('{...}') a comma ends the value: quote the call, e.g. 'percentile(x, 0.99)'"
                    : "aggregates: \(AggregateFunction.names.keys.sorted().joined(separator: ", "))")
            return nil
        }
        guard let arity = AggregateFunction.names[name] else {
            c.error(
                expr.location(ofOffset: nameOffset),
                "unknown aggregate function '\(name)'\(didYouMean(name, among: AggregateFunction.names.keys.sorted()))",
                hint: "aggregates: \(AggregateFunction.names.keys.sorted().joined(separator: ", "))")
            return nil
        }
        let label = "\(name)(\(args.map(\.text).joined(separator: ", ")))"
        if name == "count" {
            if args.count > 1 {
                c.error(expr.location(ofOffset: nameOffset), "'count' takes no argument or one, found \(args.count)")
                return nil
            }
        } else if args.count != arity {
            c.error(
                expr.location(ofOffset: nameOffset),
                "'\(name)' takes \(arity) argument\(arity == 1 ? "" : "s"), found \(args.count)",
                hint: name == "percentile" ? "write e.g. 'percentile(latency, 0.99)'" : nil)
            return nil
        }
        for a in args where a.text.isEmpty {
            c.error(expr.location(ofOffset: a.offset), "empty argument in '\(source)'")
            return nil
        }
        var function: AggregateFunction
        switch name {
        case "count": function = args.isEmpty ? .countAll : .count
        case "sum": function = .sum
        case "avg": function = .avg
        case "min": function = .min
        case "max": function = .max
        case "first": function = .first
        case "last": function = .last
        case "count_distinct": function = .countDistinct
        case "stddev": function = .stddev
        case "collect": function = .collect
        default:  // percentile
            let pText = args[1].text
            guard let p = Double(pText), p.isFinite else {
                c.error(
                    expr.location(ofOffset: args[1].offset),
                    "the second argument of 'percentile' must be a number between 0 and 1, found '\(pText)'")
                return nil
            }
            guard (0...1).contains(p) else {
                c.error(
                    expr.location(ofOffset: args[1].offset), "percentile must be between 0 and 1, found \(pText)",
                    hint: p > 1 && p <= 100 ? "write \(p / 100) for the \(pText)th percentile" : nil)
                return nil
            }
            function = .percentile(p)
        }
        guard let arg = args.first else { return Call(function: function, input: nil, label: label) }
        if isFieldName(arg.text, ctx) {
            return Call(function: function, input: (arg.text, .field(arg.text)), label: label)
        }
        do {
            let compiled = try ctx.expressions.compile(source: arg.text)
            return Call(function: function, input: (arg.text, .expression(compiled)), label: label)
        } catch {
            c.error(expr.location(ofOffset: arg.offset + error.offset), "in expression: \(error.message)")
            return nil
        }
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
