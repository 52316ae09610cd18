import SluiceCore
import SluiceJSON
import SluicePipeline
import Testing

private func load(_ text: String) -> (YAMLNode?, Diagnostics) {
    YAMLLoader.load(text: text, file: "p.yaml")
}

private func loc(_ n: YAMLNode?) -> String {
    guard let n else { return "nil" }
    return "\(n.location.line):\(n.location.column)"
}

@Suite struct YAMLLoaderTests {
    @Test func blockLocations() throws {
        let (root, d) = load(
            """
            name: demo
            steps:
              - filter: amount > 1
              - enrich:
                  set: { big: "x" }
            """)
        #expect(!d.hasErrors, "\(d)")
        let r = try #require(root)
        #expect(loc(r) == "1:1")
        #expect(r.mapping?[0].key.location.column == 1)
        #expect(loc(r["name"]) == "1:7")
        let steps = try #require(r["steps"]?.sequence)
        #expect(loc(r["steps"]) == "3:3")
        #expect(loc(steps[0]) == "3:5")
        #expect(loc(steps[0]["filter"]) == "3:13")
        let set = try #require(steps[1]["enrich"]?["set"])
        #expect(loc(set) == "5:12")
        #expect(loc(set["big"]) == "5:19")
        #expect(set["big"]?.scalar?.style == .doubleQuoted)
        #expect(loc(set.mapping?[0].key) == "5:14")
    }

    @Test func flowLocations() throws {
        let (root, d) = load("x: {a: 1, b: [2, 3]}\n")
        #expect(!d.hasErrors)
        let x = try #require(root?["x"])
        #expect(loc(x) == "1:4")
        #expect(loc(x["a"]) == "1:8")
        #expect(loc(x["b"]) == "1:14")
        #expect(loc(x["b"]?.sequence?[1]) == "1:18")
    }

    @Test func columnsCountUnicodeScalars() throws {
        let (root, _) = load("é: 😀 x\nb: 2\n")
        let r = try #require(root)
        #expect(loc(r["é"]) == "1:4")
        #expect(r["é"]?.text == "😀 x")
        #expect(loc(r["b"]) == "2:4")
    }

    @Test func blockScalars() throws {
        let text = """
            a: |
              line one
              line two
            b: >-
              folded
              text
            c: after
            """
        let (root, d) = load(text)
        #expect(!d.hasErrors)
        let r = try #require(root)
        #expect(r["a"]?.text == "line one\nline two\n")
        #expect(r["a"]?.scalar?.style == .literal)
        #expect(loc(r["a"]) == "1:4")
        #expect(r["b"]?.text == "folded text")
        #expect(loc(r["c"]) == "7:4")
        // Offsets inside the value map back to the source.
        let a = try #require(r["a"])
        #expect(a.location(ofOffset: 0).description == "p.yaml:2:3")
        #expect(a.location(ofOffset: 14).description == "p.yaml:3:8")  // 't' of "two"
        let b = try #require(r["b"])
        #expect(b.location(ofOffset: 7).description == "p.yaml:6:3")  // 't' of "text"
    }

    @Test func offsetsInScalars() throws {
        let (root, _) = load(
            """
            f: amount > 250
            g: 'it''s x'
            h: "a\\tb c"
            i: a long
              plain text
            """)
        let r = try #require(root)
        #expect(r["f"]?.location(ofOffset: 7).column == 11)
        #expect(r["g"]?.text == "it's x")
        #expect(r["g"]?.location(ofOffset: 5).column == 11)
        #expect(r["h"]?.text == "a\tb c")
        #expect(r["h"]?.location(ofOffset: 4).column == 10)
        #expect(r["i"]?.text == "a long plain text")
        let p = r["i"]?.location(ofOffset: 7)
        #expect(p?.line == 5 && p?.column == 3)
    }

    @Test func syntaxErrorHasPositionAndProblem() {
        let (root, d) = YAMLLoader.load(text: "a: 1\nb: c: d\n", file: "pipelines/x.yaml")
        #expect(root == nil)
        #expect(d.items.count == 1)
        #expect(
            d.items.first?.description.hasPrefix(
                "pipelines/x.yaml:2:5: error: YAML syntax error: mapping values are not allowed in this context")
                == true,
            "\(d)")
    }

    @Test func unclosedQuoteGivesContextNote() {
        let (_, d) = load("a: \"abc\nb: 1\n")
        let item = d.items.first
        #expect(item?.message.contains("YAML syntax error") == true)
        #expect(item?.hint?.contains("line 1, column 4") == true, "\(d)")
    }

    @Test func tabIndentationHint() {
        let (_, d) = load("a:\n\tb: 1\n")
        #expect(d.hasErrors)
        #expect(d.items.first?.hint?.contains("tabs") == true, "\(d)")
    }

    @Test func emptyDocuments() {
        for text in ["", "   \n", "# only a comment\n", "---\n"] {
            let (root, d) = load(text)
            #expect(root == nil)
            #expect(d.items.map(\.message) == ["the YAML document is empty"], "\(text)")
        }
    }

    @Test func severalDocuments() {
        let (root, d) = load("a: 1\n---\nb: 2\n")
        #expect(root == nil)
        #expect(d.items.first?.message == "expected a single YAML document, found a second one")
        #expect(d.items.first?.location?.line == 2)
    }

    @Test func duplicateKeys() throws {
        let (root, d) = load("a: 1\nb: 2\na: 3\n")
        #expect(root != nil)
        #expect(d.items.count == 1)
        #expect(
            d.items.first?.description == "p.yaml:3:1: error: duplicate key 'a' (first defined at line 1, column 1)")
    }

    @Test func anchorsAndAliases() throws {
        let (root, d) = load(
            """
            base: &b { x: 1, y: [1, 2] }
            copy: *b
            """)
        #expect(!d.hasErrors)
        let r = try #require(root)
        var dd = Diagnostics()
        #expect(r.toJSON(diagnostics: &dd) == ["base": ["x": 1, "y": [1, 2]], "copy": ["x": 1, "y": [1, 2]]])
    }

    @Test func unknownAndRecursiveAliases() {
        #expect(load("a: *nope\n").1.items.first?.message == "unknown alias '*nope'")
        let (root, d) = load("a: &x [1, *x]\n")
        #expect(root == nil)
        #expect(d.items.first?.message.contains("recursive") == true)
    }

    @Test func billionLaughsIsStopped() {
        var text = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for i in 1...9 {
            let refs = Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ")
            text += "a\(i): &a\(i) [\(refs)]\n"
        }
        let (root, d) = load(text)
        #expect(root == nil)
        #expect(d.items.count == 1)
        #expect(d.items.first?.message == "YAML aliases expand to more than 100000 nodes")
        #expect(d.items.first?.location?.line == 5)
    }

    @Test func deepNesting() {
        let deep = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        let (root, d) = load(deep)
        #expect(root == nil)
        #expect(d.items.first?.message == "YAML nesting is deeper than 200 levels")
        #expect(d.items.first?.location?.column == 201)
        let ok = String(repeating: "[", count: 150) + String(repeating: "]", count: 150)
        #expect(!load(ok).1.hasErrors)
    }

    @Test func missingFile() {
        let (root, d) = YAMLLoader.load(path: "/nonexistent/dir/x.yaml", displayName: "x.yaml")
        #expect(root == nil)
        #expect(d.items.count == 1)
        #expect(d.items.first?.location == nil)
        #expect(d.items.first?.message == "cannot read 'x.yaml': No such file or directory")
    }

    @Test func invalidUTF8() {
        let (root, d) = YAMLLoader.load(bytes: Array("a: 1\nb: x".utf8) + [0xFF, 0x0A], file: "p.yaml")
        #expect(root == nil)
        #expect(d.items.first?.location?.line == 2, "\(d)")
    }

    @Test func byteOrderMark() throws {
        let (root, d) = YAMLLoader.load(bytes: [0xEF, 0xBB, 0xBF] + Array("a: 'x y'\n".utf8), file: "p.yaml")
        #expect(!d.hasErrors)
        let a = try #require(root?["a"])
        #expect(a.text == "x y")
        #expect(a.location(ofOffset: 2).column == 7)
    }

    @Test func tags() throws {
        let (root, _) = load("a: !!str 12\nb: ! true\nc: !!int x\nd: !!float 3\n")
        let r = try #require(root)
        #expect(r["a"]?.resolved == .string("12"))
        #expect(r["b"]?.resolved == .string("true"))
        #expect(r["d"]?.resolved == .double(3))
        var d = Diagnostics()
        #expect(r.toJSON(diagnostics: &d) == Optional<JSON>.none)
        #expect(d.items.first?.message == "'x' is not a valid !!int")
        #expect(d.items.first?.location?.line == 3)
    }
}

@Suite struct YAMLLoaderScaleTests {
    @Test func longSequencesLoad() throws {
        var text = "xs:\n"
        for i in 0..<50_000 { text += "  - {id: \(i)}\n" }
        let (root, d) = YAMLLoader.load(text: text, file: "big.yaml")
        #expect(!d.hasErrors)
        let xs = try #require(root?["xs"]?.sequence)
        #expect(xs.count == 50_000)
        #expect(xs[49_999].location.line == 50_001)
    }
}
