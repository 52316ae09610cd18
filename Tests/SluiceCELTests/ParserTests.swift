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
        #expect(compileError("a.if")?.offset == nil)  // reserved words allowed as fields
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
        let nestedSum = String(repeating: "(1 + ", count: 300) + "1" + String(repeating: ")", count: 300)
        #expect(compileError(nestedSum)?.message.contains("nested too deeply") == true)
        let nots = String(repeating: "!", count: 10_000) + "true"
        #expect(compileError(nots)?.message.contains("nested too deeply") == true)
    }

    @Test func flatChainsAreNotNesting() throws {
        // A flat run of one operator is parsed without nesting a level per term.
        let sum = Array(repeating: "1", count: 5_000).joined(separator: " + ")
        #expect(try eval(sum) == .int(5_000))
        let mixed = (0..<300).map { "x\($0 % 3)" }.joined(separator: " - ") + " + 7"
        // x0 - x1 - x2 - x0 ... left to right: 1 - 2 - 3 - 1 - 2 - 3 ...
        var expected: Int64 = 1
        for i in 1..<300 { expected -= Int64(i % 3 + 1) }
        #expect(try eval(mixed, ["x0": .int(1), "x1": .int(2), "x2": .int(3)]) == .int(expected + 7))
        let product = Array(repeating: "a", count: 300).joined(separator: " * ") + " / a"
        #expect(try eval(product, ["a": .int(1)]) == .int(1))
        let ands = (0..<300).map { "x == \($0)" }.joined(separator: " || ")
        #expect(try eval(ands, ["x": .int(299)]) == .bool(true))
        #expect(try eval(ands, ["x": .int(300)]) == .bool(false))
        let alls = Array(repeating: "x > 1", count: 300).joined(separator: " && ")
        #expect(try eval(alls, ["x": .int(2)]) == .bool(true))
        #expect(try eval(alls + " && x > 5", ["x": .int(2)]) == .bool(false))
        // Left to right still decides overflow and type errors.
        #expect(
            try evalError(
                Array(repeating: "9223372036854775807", count: 20).joined(separator: " + ") + " - 9223372036854775807")?
                .contains("overflow") == true)
        #expect(
            compileError(Array(repeating: "1", count: 20).joined(separator: " + ") + " + 'a'")?.message.contains(
                "no matching overload") == true)
        // Absorption works over a long chain: an error anywhere, a false anywhere.
        let absorbed = Array(repeating: "missing > 1", count: 200).joined(separator: " && ") + " && false"
        #expect(try eval(absorbed) == .bool(false))
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
