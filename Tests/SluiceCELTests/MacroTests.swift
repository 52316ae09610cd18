import SluiceCEL
import Testing

struct MacroTests {
    @Test func macros() throws {
        #expect(try eval("[1, 2, 3].all(x, x > 0)") == .bool(true))
        #expect(try eval("[1, 2, 3].exists(x, x == 2)") == .bool(true))
        #expect(try eval("[1, 2, 3].exists_one(x, x > 2)") == .bool(true))
        #expect(try eval("[1, 2, 3].map(x, x * 2)") == .list([.int(2), .int(4), .int(6)]))
        #expect(try eval("[1, 2, 3].map(x, x > 1, x * 2)") == .list([.int(4), .int(6)]))
        #expect(try eval("[1, 2, 3].filter(x, x != 2)") == .list([.int(1), .int(3)]))
        #expect(try eval("{'a': 1, 'b': 2}.map(k, k)") == .list([.string("a"), .string("b")]))
        #expect(try eval("[[1], [2, 3]].all(l, l.all(x, x > 0))") == .bool(true))
        // Errors are absorbed when another element decides the result.
        #expect(try eval("[0, 1].exists(x, 1 / x == 1)") == .bool(true))
        #expect(try evalError("[0, 1].all(x, 1 / x == 1)") == "division by zero")
    }
}
