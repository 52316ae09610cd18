import SluiceCEL
import Testing

/// ``CELProgram/asciiGuards``: the `NAME == "TEXT"` tests an expression is false without.
struct AsciiGuardTests {
    func guards(_ source: String) throws -> [String] {
        try CELEnvironment().compile(source).asciiGuards.map { "\($0.name.string)=\($0.text)" }
    }

    @Test func equalitiesUnderAndAreGuards() throws {
        #expect(try guards(#"kind == "a""#) == ["kind=a"])
        #expect(try guards(#""a" == kind"#) == ["kind=a"])
        #expect(try guards(#"kind == "a" && n > 1"#) == ["kind=a"])
        #expect(try guards(#"n > 1 && "b" == kind && (x == "c" && y)"#) == ["kind=b", "x=c"])
        for none in [
            #"kind == "a" || n > 1"#, #"!(kind == "a")"#, #"kind != "a""#, #"kind == "é""#, "n > 1",
            #"true || kind == "a""#, #"kind == 1"#,
        ] {
            #expect(try guards(none).isEmpty, "\(none)")
        }
    }

    /// Whenever a guard's name is another string, the expression is false, whatever the
    /// other operands would give (errors included).
    @Test func aFailedGuardMakesTheExpressionFalse() throws {
        let sources = [
            #"kind == "a" && n > 1"#, #"n > 1 && "b" == kind && (x == "c" && y)"#, #"kind == "a" && missing"#,
            #"kind == "a" && 1 / 0 == 1"#,
        ]
        for source in sources {
            let program = try CELEnvironment().compile(source)
            for g in program.asciiGuards {
                var bindings: [String: CELValue] = [
                    "n": .int(5), "kind": .string("a"), "x": .string("c"), "y": .bool(true),
                ]
                bindings[g.name.string] = .string(g.text + "z")
                #expect(try eval(source, bindings) == .bool(false), "\(source) with \(g.name.string) not \(g.text)")
            }
        }
    }
}
