import SluiceCEL
import Testing

struct EnvironmentTests {
    @Test func unknownFunctionsAndArity() {
        #expect(compileError("nope(1)")?.message == "undeclared reference to 'nope'")
        #expect(compileError("1 + nope(1)")?.offset == 4)
        #expect(compileError("size(1, 2)")?.message.contains("2 arguments") == true)
        #expect(compileError("'a'.startsWith()")?.message.contains("0 arguments") == true)
    }

    @Test func typeCheckingWithDeclarations() throws {
        var env = CELEnvironment()
        try env.declare("x", type: "int")
        try env.declare("m", type: "map(string, int)")
        #expect(compileError("x + 'a'", env: env)?.message == "no matching overload for '_+_' applied to (int, string)")
        #expect(compileError("x.field", env: env)?.message.contains("does not support field selection") == true)
        #expect(compileError("m.a + 1", env: env) == nil)
        #expect(compileError("m.a + 'b'", env: env) != nil)
        #expect(compileError("y + 1", env: env) == nil)  // undeclared is fine by default
        env.options.strictIdentifiers = true
        #expect(compileError("y + 1", env: env)?.message == "undeclared reference to 'y'")
        #expect(compileError("x + 1", env: env) == nil)
    }

    @Test func hostFunctions() throws {
        var env = CELEnvironment()
        env.addFunction("twice", receiverStyle: false, arity: 1) { args throws(CELError) in
            guard case .int(let i) = args[0] else { throw CELError("twice needs an int") }
            return .int(i * 2)
        }
        env.addFunction("greet", receiverStyle: true, arity: 1) { args throws(CELError) in
            guard case .string(let a) = args[0], case .string(let b) = args[1] else { throw CELError("bad") }
            return .string(a + " " + b)
        }
        #expect(try eval("twice(21)", env: env) == .int(42))
        #expect(try eval("'hello'.greet('you')", env: env) == .string("hello you"))
        #expect(compileError("twice(1, 2)", env: env) != nil)
        #expect(try evalError("twice('a')", env: env) == "twice needs an int")
    }

    @Test func listAggregates() throws {
        let rows: CELValue = .list([
            .map(CELMap(["amount": .int(10)])), .map(CELMap(["amount": .int(5)])), .map(CELMap(["amount": .int(30)])),
        ])
        #expect(try eval("xs.map(x, x.amount).sum()", ["xs": rows]) == .int(45))
        #expect(try eval("[1, 2.5].sum()") == .double(3.5))
        #expect(try eval("[3, 1, 2].min() + [3, 1, 2].max()") == .int(4))
        #expect(try eval("[1, 2].avg()") == .double(1.5))
        #expect(try eval("min(3, 1, 2)") == .int(1))
        #expect(try eval("max([3, 9])") == .int(9))
        #expect(try evalError("[].min()")?.contains("empty") == true)
        #expect(try evalError("[9223372036854775807, 1].sum()") == "integer overflow")
    }

    @Test func namesAreInternedAndStable() throws {
        let env = CELEnvironment()
        let p = try env.compile("amount > 1 && country == 'US'")
        #expect(p.referencedNames.map(\.string) == ["amount", "country"])
        #expect(env.name("amount").id == p.referencedNames[0].id)
        #expect(try p.evaluateBool(CELDictionaryActivation(["amount": .int(2), "country": .string("US")])))
        #expect(throws: CELError.self) { try p.evaluate(CELEmptyActivation()) }
    }

    @Test func constantFolding() throws {
        let p = try CELEnvironment().compile("1 + 2 == 3 && 'a' + 'b' == 'ab'")
        #expect(try p.evaluate(CELEmptyActivation()) == .bool(true))
        // A folded error still surfaces only at evaluation.
        #expect(try evalError("1 / 0") == "division by zero")
    }
}
