import SluiceCore
import SluiceJSON
import Testing

private let here = SourceLocation(file: "t.yaml", line: 1, column: 1)

@Suite struct ConfigYAMLNodeTests {
    @Test(arguments: [
        ("", YAMLScalarValue.null), ("~", .null), ("null", .null), ("NULL", .null), ("Null", .null),
        ("true", .bool(true)), ("False", .bool(false)), ("yes", .string("yes")), ("no", .string("no")),
        ("0", .int(0)), ("-12", .int(-12)), ("+7", .int(7)), ("0x1F", .int(31)), ("0o17", .int(15)),
        ("0x", .string("0x")), ("0o8", .string("0o8")), ("012", .int(12)),
        ("1.5", .double(1.5)), ("-.5", .double(-0.5)), ("1e3", .double(1000)), ("2.", .double(2)),
        (".inf", .double(.infinity)), ("-.Inf", .double(-.infinity)),
        ("1_000", .string("1_000")), ("1e", .string("1e")), (".", .string(".")), ("abc", .string("abc")),
        ("99999999999999999999", .double(1e20)),
    ])
    func plainResolution(text: String, expected: YAMLScalarValue) {
        #expect(YAMLScalarValue.resolvePlain(text) == expected)
    }

    @Test func nanResolves() {
        guard case .double(let d) = YAMLScalarValue.resolvePlain(".nan") else {
            Issue.record("not a double")
            return
        }
        #expect(d.isNaN)
    }

    @Test func quotedScalarsAreStrings() {
        let n = YAMLNode.scalar("true", style: .doubleQuoted, at: here)
        #expect(n.resolved == .string("true"))
        #expect(n.describe == "a string")
        #expect(YAMLNode.scalar("true", at: here).describe == "a boolean")
        #expect(YAMLNode.scalar("12", at: here).describe == "an integer")
        #expect(YAMLNode.scalar("", at: here).describe == "null")
        #expect(YAMLNode(.sequence([]), at: here).describe == "a sequence")
        #expect(YAMLNode(.mapping([]), at: here).describe == "a mapping")
    }

    @Test func toJSONKeepsOrderAndTypes() {
        let node = YAMLNode(
            .mapping([
                .init(key: .scalar("z", at: here), value: .scalar("1", at: here)),
                .init(key: .scalar("a", at: here), value: .scalar("1.0", at: here)),
                .init(key: .scalar("s", at: here), value: .scalar("1", style: .singleQuoted, at: here)),
                .init(key: .scalar("1", at: here), value: YAMLNode(.sequence([.scalar("~", at: here)]), at: here)),
            ]), at: here)
        var d = Diagnostics()
        let json = node.toJSON(diagnostics: &d)
        #expect(d.items.isEmpty)
        #expect(json == ["z": 1, "a": 1.0, "s": "1", "1": [nil]])
        #expect(json?.objectValue?.keys == ["z", "a", "s", "1"])
    }

    @Test func toJSONReportsProblems() {
        let bad = SourceLocation(file: "t.yaml", line: 4, column: 2)
        let node = YAMLNode(
            .mapping([
                .init(key: YAMLNode(.sequence([]), at: bad), value: .scalar("1", at: here)),
                .init(key: .scalar("x", at: here), value: .scalar(".inf", at: here)),
            ]), at: here)
        var d = Diagnostics()
        #expect(node.toJSON(diagnostics: &d) == Optional<JSON>.none)
        #expect(d.items.count == 2)
        #expect(d.items[0].description == "t.yaml:4:2: error: mapping keys must be strings in JSON, found a sequence")
        #expect(d.items[1].message.contains("NaN or infinity"))
    }

    @Test func offsetWithoutSource() {
        let n = YAMLNode.scalar("a > b", at: SourceLocation(file: "f", line: 3, column: 10))
        #expect(n.location(ofOffset: 4).column == 14)
    }
}
