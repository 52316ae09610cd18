import SluiceCore
import SluiceJSON
import SluicePipeline
import Testing

/// Loads `text` and returns the root as a ConfigMap named `what`, with its context.
private func config(_ text: String, what: String = "pattern") throws -> (ConfigMap, ConfigContext) {
    let (root, d) = YAMLLoader.load(text: text, file: "p.yaml")
    #expect(!d.hasErrors, "\(d)")
    let ctx = ConfigContext()
    let node = try #require(root)
    let m = try #require(ConfigMap(node, what: what, context: ctx))
    return (m, ctx)
}

private func lines(_ ctx: ConfigContext) -> [String] {
    ctx.diagnostics.items.map(\.description)
}

@Suite struct YAMLConfigMapTests {
    @Test func readsValues() throws {
        let (m, ctx) = try config(
            """
            key: user
            within: 1m30s
            times: 3
            ratio: 0.5
            exact: 2
            timeouts: true
            from: [a, b]
            one: c
            contiguity: strict
            emit: { a: 1, b: [x] }
            where: amount > 3
            flag: True
            """)
        #expect(m.string("key") == "user")
        #expect(m.duration("within")?.milliseconds == 90_000)
        #expect(m.int("times", range: 1...10) == 3)
        #expect(m.double("ratio") == 0.5)
        #expect(m.double("exact") == 2)
        #expect(m.bool("timeouts") == true)
        #expect(m.stringList("from") == ["a", "b"])
        #expect(m.stringList("one") == ["c"])
        #expect(m.oneOf("contiguity", ["strict": 1, "relaxed": 2, "any": 3]) == 1)
        #expect(m.json("emit") == ["a": 1, "b": ["x"]])
        #expect(m.expression("where")?.source == "amount > 3")
        #expect(m.expression("where")?.location(ofOffset: 9).column == 17)
        #expect(m.expression("flag")?.source == "true")
        #expect(m.string("absent") == nil)
        m.finish()
        #expect(ctx.diagnostics.items.isEmpty, "\(ctx.diagnostics)")
    }

    @Test func unknownKeyWithSuggestion() throws {
        let (m, ctx) = try config("key: u\nwithn: 10s\nzzz: 1\n")
        _ = m.string("key")
        _ = m.duration("within")
        m.finish(allowed: ["sequence"])
        #expect(
            lines(ctx) == [
                "p.yaml:2:1: error: unknown key 'withn' in 'pattern'; did you mean 'within'?\n"
                    + "p.yaml:2:1: note: valid keys: key, within, sequence",
                "p.yaml:3:1: error: unknown key 'zzz' in 'pattern'\np.yaml:3:1: note: valid keys: key, within, sequence",
            ])
        m.finish()
        #expect(ctx.diagnostics.items.count == 2)
    }

    @Test func wrongTypesPointAtValues() throws {
        let (m, ctx) = try config(
            """
            key: [a]
            times: "3"
            within: 10
            timeouts: yes
            size: 0
            name:
            """)
        #expect(m.string("key") == nil)
        #expect(m.int("times") == nil)
        #expect(m.duration("within") == nil)
        #expect(m.bool("timeouts") == nil)
        #expect(m.int("size", range: 1...Int.max) == nil)
        #expect(m.string("name") == nil)
        let d = ctx.diagnostics.items
        #expect(d.count == 6)
        #expect(d[0].description == "p.yaml:1:6: error: expected a string for 'key' in 'pattern', found a sequence")
        #expect(d[1].message == "expected an integer for 'times' in 'pattern', found a string")
        #expect(d[1].hint == "remove the quotes")
        #expect(d[2].message == "invalid duration '10' for 'within' in 'pattern': a bare number has no unit")
        #expect(d[2].hint == "add a unit, e.g. '10s'")
        #expect(d[2].location?.column == 9)
        #expect(d[3].message == "expected true or false for 'timeouts' in 'pattern', found a string")
        #expect(d[4].message == "'size' in 'pattern' must be at least 1, found 0")
        #expect(d[5].message == "expected a string for 'name' in 'pattern', found null")
    }

    @Test func requiredKeys() throws {
        let (m, ctx) = try config("within: 10s\n", what: "dedupe")
        #expect(m.expression("key", required: true) == nil)
        #expect(lines(ctx) == ["p.yaml:1:1: error: missing required key 'key' in 'dedupe'"])
    }

    @Test func oneOfSuggests() throws {
        let (m, ctx) = try config("contiguity: strct\n")
        #expect(m.oneOf("contiguity", ["strict": 1, "relaxed": 2, "any": 3]) == nil)
        #expect(
            lines(ctx) == [
                "p.yaml:1:13: error: unknown value 'strct' for 'contiguity' in 'pattern'; did you mean 'strict'?\n"
                    + "p.yaml:1:13: note: expected one of 'any', 'relaxed' or 'strict'"
            ])
    }

    @Test func nestedMapsAndExclusiveKeys() throws {
        let (m, ctx) = try config("tumbling: 1m\nhopping: { size: 1m, evry: 10s }\n", what: "window")
        #expect(m.exactlyOne(of: ["tumbling", "hopping", "session"]) == nil)
        let h = try #require(m.map("hopping"))
        _ = h.duration("size")
        _ = h.duration("every")
        h.finish()
        #expect(m.map("tumbling") == nil)
        #expect(
            ctx.diagnostics.items.map(\.message) == [
                "'tumbling' and 'hopping' cannot be used together in 'window'",
                "unknown key 'evry' in 'hopping'; did you mean 'every'?",
                "expected a mapping for 'tumbling', found a string",
            ])
    }

    @Test func emptySectionIsAnEmptyMap() throws {
        let (root, _) = YAMLLoader.load(text: "reorder:\n", file: "p.yaml")
        let ctx = ConfigContext()
        let node = try #require(root?["reorder"])
        let m = try #require(ConfigMap(node, what: "reorder", context: ctx))
        #expect(m.isEmpty)
        m.finish()
        #expect(ctx.diagnostics.items.isEmpty)
    }

    private func steps(_ text: String, known: [String]? = ["filter", "map", "enrich", "reorder"])
        throws -> ([StepSpec?], ConfigContext)
    {
        let (root, d) = YAMLLoader.load(text: text, file: "p.yaml")
        #expect(!d.hasErrors, "\(d)")
        let ctx = ConfigContext()
        let items = try #require(root?.sequence)
        return (items.map { ctx.step($0, knownKinds: known) }, ctx)
    }

    @Test func stepForms() throws {
        let (specs, ctx) = try steps(
            """
            - filter: amount > 250
            - name: big
              when: country == "US"
              enrich: { set: { big: true } }
            """)
        #expect(ctx.diagnostics.items.isEmpty, "\(ctx.diagnostics)")
        #expect(specs[0]?.kind == "filter")
        #expect(specs[0]?.config.text == "amount > 250")
        #expect(specs[0]?.kindLocation.column == 3)
        #expect(specs[1]?.kind == "enrich")
        #expect(specs[1]?.name == "big")
        #expect(specs[1]?.when?.source == "country == \"US\"")
        #expect(specs[1]?.config.mapping != nil)
    }

    @Test func stepErrors() throws {
        let (specs, ctx) = try steps(
            """
            - fliter: x
            - filter: a
              map: b
            - filter: a
              wehn: b
            - name: only
            - reorder
            """)
        #expect(specs.allSatisfy { $0 == nil })
        #expect(
            lines(ctx) == [
                "p.yaml:1:3: error: unknown step 'fliter'; did you mean 'filter'?",
                "p.yaml:3:3: error: a step needs exactly one kind, found 'filter' and 'map'\n"
                    + "p.yaml:3:3: note: start a new list item ('- ') for each step",
                "p.yaml:5:3: error: unknown key 'wehn' in step 'filter'; did you mean 'when'?\n"
                    + "p.yaml:5:3: note: a step is one kind with its config, plus optional 'when' and 'name'",
                "p.yaml:6:3: error: a step needs a kind, found only 'name'\n"
                    + "p.yaml:6:3: note: known steps: enrich, filter, map, reorder",
                "p.yaml:7:3: error: a step must be a mapping like '- filter: EXPR', found a string\n"
                    + "p.yaml:7:3: note: write '- reorder: {}'",
            ])
    }

    @Test func stepsWithoutKnownKinds() throws {
        let (specs, ctx) = try steps("- custom_thing: {a: 1}\n- a: 1\n  b: 2\n", known: nil)
        #expect(specs[0]?.kind == "custom_thing")
        #expect(specs[1] == nil)
        #expect(ctx.diagnostics.items.map(\.message) == ["a step needs exactly one kind, found 'a' and 'b'"])
    }

    @Test func multiLineExpressionOffsets() throws {
        let (m, _) = try config(
            """
            where: >
              amount > 3 &&
              country == "US"
            """)
        let e = try #require(m.expression("where"))
        #expect(e.source == "amount > 3 && country == \"US\"")
        let at = e.location(ofOffset: 14)  // 'c' of country
        #expect(at.line == 3 && at.column == 3)
    }
}
