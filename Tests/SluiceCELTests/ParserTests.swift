import SluiceCEL
import Testing

struct ParserTests {
    @Test func literals() throws {
        #expect(try eval("1u") == .uint(1))
        #expect(try eval("0x1F") == .int(31))
        #expect(try eval("0x1Fu") == .uint(31))
        #expect(try eval("1.5e3") == .double(1500))
        #expect(try eval("-9223372036854775808") == .int(.min))
        #expect(try eval(#"r"a\nb""#) == .string(#"a\nb"#))
        #expect(try eval("'''a\nb'''") == .string("a\nb"))
        #expect(try eval(#"b"\xff\000""#) == .bytes([255, 0]))
        #expect(try eval(#""\a\b\f\n\r\t\v\\\'\"\`\?""#) == .string("\u{07}\u{08}\u{0C}\n\r\t\u{0B}\\'\"`?"))
        #expect(try eval(#""\x41\u00e9\U0001F431\101""#) == .string("Aé🐱A"))
        #expect(try eval(#""\ud83d\ude00""#) == .string("😀"))
    }

    @Test func precedence() throws {
        #expect(try eval("1 + 2 * 3") == .int(7))
        #expect(try eval("(1 + 2) * 3") == .int(9))
        #expect(try eval("true || false && false") == .bool(true))
        #expect(try eval("1 < 2 == true") == .bool(true))
        #expect(try eval("false ? 1 : true ? 2 : 3") == .int(2))
        #expect(try eval("!!true") == .bool(true))
        #expect(try eval("--1") == .int(1))
        #expect(try eval("2 in [1, 2] && 'a' in {'a': 1}") == .bool(true))
    }

    @Test func errorOffsets() {
        let e = compileError("1 + )")
        #expect(e?.offset == 4)
        #expect(e?.formatted(source: "1 + )").hasSuffix(" | 1 + )\n | ....^") == true)
        #expect(compileError("a.if")?.offset == nil)          // reserved words allowed as fields
        #expect(compileError("if + 1")?.message.contains("reserved") == true)
        #expect(compileError("'abc")?.offset == 0)
        #expect(compileError("\"\\q\"")?.offset == 1)
        #expect(compileError("9223372036854775808")?.message.contains("range") == true)
        #expect(compileError("[1, 2,, 3]")?.offset == 6)
    }

    @Test func deepNestingIsAnError() {
        let parens = String(repeating: "(", count: 10_000) + "1" + String(repeating: ")", count: 10_000)
        #expect(compileError(parens)?.message.contains("nested too deeply") == true)
        let lists = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(compileError(lists)?.message.contains("nested too deeply") == true)
        let chain = Array(repeating: "1", count: 5_000).joined(separator: " + ")
        #expect(compileError(chain)?.message.contains("nested too deeply") == true)
        let nots = String(repeating: "!", count: 10_000) + "true"
        #expect(compileError(nots)?.message.contains("nested too deeply") == true)
    }

    @Test func hugeListLiteralIsAnError() {
        let big = "[" + Array(repeating: "1", count: 100_001).joined(separator: ",") + "]"
        #expect(compileError(big)?.message.contains("too many elements") == true)
    }

    @Test func qualifiedNamesAndContainers() throws {
        #expect(try eval("a.b.c", ["a.b.c": .int(1)]) == .int(1))
        #expect(try eval("a.b.c", ["a.b": .map(CELMap(["c": .int(2)]))]) == .int(2))
        var opts = CELOptions()
        opts.container = "com.example"
        let env = CELEnvironment(options: opts)
        #expect(try eval("y", ["com.example.y": .int(1), "y": .int(2)], env: env) == .int(1))
        #expect(try eval(".y", ["com.example.y": .int(1), "y": .int(2)], env: env) == .int(2))
        #expect(try eval("[0].exists(y, y == 0)", ["com.example.y": .int(42)], env: env) == .bool(true))
    }
}
