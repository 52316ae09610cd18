import SluiceCEL
import Testing

struct SemanticsTests {
    @Test func overflowIsAnError() throws {
        #expect(try evalError("9223372036854775807 + x", ["x": .int(1)]) == "integer overflow")
        #expect(try evalError("-x", ["x": .int(.min)]) == "integer overflow")
        #expect(try evalError("x - 1u", ["x": .uint(0)]) == "integer overflow")
        #expect(try evalError("x * 5000000000", ["x": .int(5_000_000_000)]) == "integer overflow")
        #expect(try evalError("x / -1", ["x": .int(.min)]) == "integer overflow")
        #expect(try evalError("x / 0", ["x": .int(1)]) == "division by zero")
        #expect(try evalError("x % 0", ["x": .int(1)]) == "modulus by zero")
    }

    @Test func errorAbsorption() throws {
        #expect(try eval("x || true") == .bool(true))
        #expect(try eval("true || x") == .bool(true))
        #expect(try eval("x && false") == .bool(false))
        #expect(try eval("false && x") == .bool(false))
        #expect(try evalError("x && true") == "no such attribute: 'x'")
        #expect(try evalError("true && x") == "no such attribute: 'x'")
        #expect(try evalError("x || false") != nil)
        #expect(try eval("1/y == 1 || true", ["y": .int(0)]) == .bool(true))
    }

    @Test func heterogeneousNumbers() throws {
        #expect(try eval("1 == 1.0") == .bool(true))
        #expect(try eval("1u < 2") == .bool(true))
        #expect(try eval("1 < 1.5") == .bool(true))
        #expect(try eval("x == 2u", ["x": .int(2)]) == .bool(true))
        #expect(try eval("'a' == 1") == .bool(false))
        #expect(try eval("[1, 2] == [1.0, 2u]") == .bool(true))
        var env = CELEnvironment()
        env.options.typeCheck = false
        #expect(try evalError("'a' < 1", env: env) == "no matching overload for '_<_' applied to (string, int)")
        #expect(
            try evalError("x > 1", ["x": .string("a")]) == "no matching overload for '_>_' applied to (string, int)")
    }

    @Test func stringsAndSize() throws {
        #expect(try eval("size('héllo')") == .int(5))
        #expect(try eval("'héllo'.size()") == .int(5))
        #expect(try eval("'abc'.contains('b') && 'abc'.startsWith('ab') && 'abc'.endsWith('bc')") == .bool(true))
        #expect(try eval("'abc'.matches('^a.c$') && matches('xyz', 'y')") == .bool(true))
        #expect(try eval("'AbC'.lowerAscii() + 'AbC'.upperAscii()") == .string("abcABC"))
        #expect(compileError("'a'.matches('(')")?.offset == 12)
    }

    @Test func conversions() throws {
        #expect(try eval("int('42') + int(2.9) + int(3u)") == .int(47))
        #expect(try evalError("int(1e99)")?.contains("range") == true)
        #expect(try evalError("uint(-1)")?.contains("range") == true)
        #expect(try eval("double('1.5')") == .double(1.5))
        #expect(try eval("string(1.5) + string(2u) + string(b'hi')") == .string("1.52hi"))
        #expect(try eval("bytes('é')") == .bytes([0xC3, 0xA9]))
        #expect(try eval("bool('true') && !bool('f')") == .bool(true))
        #expect(try eval("type(1) == int && type('a') == string && type(null) == null_type") == .bool(true))
        #expect(try eval("dyn(1) + 1") == .int(2))
    }

    @Test func maps() throws {
        #expect(try eval("{1: 'a', 2u: 'b'}[2]") == .string("b"))
        #expect(try eval("{'a': 1}.a") == .int(1))
        #expect(try evalError("{'a': 1}.amount") == "no such key: 'amount'")
        #expect(try eval("has({'a': 1}.a) && !has({'a': 1}.b)") == .bool(true))
        #expect(try evalError("{1: 1, 1u: 2}")?.contains("repeated") == true)
        var big = CELMap()
        for i in 0..<100_000 { big.insertOrReplace(.string("k\(i)"), .int(Int64(i))) }
        #expect(try eval("t['k99999'] + t.k5", ["t": .map(big)]) == .int(100_004))
        #expect(big.keys.first == .string("k0"))
    }

    @Test func jsonConversion() throws {
        let v = CELValue(json: ["a": 1, "b": [true, 2.5, "x"], "c": nil])
        #expect(try eval("v.a + 1 == 2 && v.b[1] == 2.5", ["v": v]) == .bool(true))
        #expect(try v.toJSON() == ["a": 1, "b": [true, 2.5, "x"], "c": nil])
        #expect(try CELValue.uint(UInt64.max).toJSON() == .double(1.8446744073709552e19))
        #expect(try CELValue.bytes([0, 255]).toJSON() == .string("AP8="))
        #expect(try eval("duration('1.5s')").toJSON() == .string("1.5s"))
        #expect(try eval("timestamp('2009-02-13T23:31:30.5Z')").toJSON() == .string("2009-02-13T23:31:30.5Z"))
        #expect(throws: CELError.self) { try CELValue.double(.nan).toJSON() }
    }

    @Test func mapKeysThatRenderAlikeAreAnErrorInJSON() throws {
        // `1` and `"1"` are different CEL keys but the same JSON key: dropping one
        // silently would lose a field.
        for source in ["{1: 'a', '1': 'b'}", "{'1': 'a', 1: 'b'}", "{true: 1, 'true': 2}", "{1u: 1, 'x': 0, '1': 2}"] {
            #expect(throws: CELError.self, "\(source)") { try eval(source).toJSON() }
        }
        #expect(try eval("{1: 'a', 2: 'b', 'c': 'd'}").toJSON() == ["1": "a", "2": "b", "c": "d"])
        #expect(throws: CELError.self) { try eval("[{'x': {'1': 1, 1: 2}}]").toJSON() }
    }
}
