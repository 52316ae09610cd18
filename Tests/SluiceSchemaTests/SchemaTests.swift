import Foundation
import SluiceJSON
import SluiceSchema
import Testing

private func json(_ text: String) throws -> JSON {
    try JSONParser.parse(text)
}

private func schema(_ text: String) throws -> JSONSchema {
    try JSONSchema(json(text))
}

/// The SchemaError that compiling `text` gives, or nil when it compiles.
private func schemaError(_ text: String) throws -> SchemaError? {
    let parsed = try json(text)
    do {
        _ = try JSONSchema(parsed)
        return nil
    } catch {
        return error
    }
}

private func messages(_ s: JSONSchema, _ instance: String) throws -> [String] {
    let v = try json(instance)
    let violations = s.validate(v)
    #expect(s.isValid(v) == violations.isEmpty)
    return violations.map(\.description)
}

@Suite struct ViolationTests {
    static let event = """
        {
          "type": "object",
          "required": ["id", "amount"],
          "properties": {
            "id": {"type": "string"},
            "amount": {"type": "number", "minimum": 0},
            "tags": {"type": "array", "items": {"enum": ["a", "b"]}},
            "a/b": {"type": "integer"},
            "m~n": {"maxLength": 2}
          }
        }
        """

    @Test func validInstanceHasNoViolations() throws {
        let s = try schema(Self.event)
        #expect(try messages(s, ##"{"id":"x","amount":0,"tags":["a","b"]}"##) == [])
    }

    @Test func everyViolationWithItsPointer() throws {
        let s = try schema(Self.event)
        let v = try json(##"{"amount":-5,"tags":["a","b","x","y"],"a/b":1.5,"m~n":"abc"}"##)
        let found = s.validate(v)
        #expect(
            found.map(\.description) == [
                "/: missing required property 'id'",
                "/amount: -5 is less than the minimum of 0",
                #"/tags/2: "x" is not one of ["a","b"]"#,
                #"/tags/3: "y" is not one of ["a","b"]"#,
                "/a~1b: expected integer, got number 1.5",
                #"/m~0n: "abc" is 3 characters long, longer than the maximum length of 2"#,
            ])
        #expect(found.map(\.instancePath) == ["", "/amount", "/tags/2", "/tags/3", "/a~1b", "/m~0n"])
        #expect(found.map(\.keyword) == ["required", "minimum", "enum", "enum", "type", "maxLength"])
        #expect(
            found.map(\.schemaPath) == [
                "/required",
                "/properties/amount/minimum",
                "/properties/tags/items/enum",
                "/properties/tags/items/enum",
                "/properties/a~1b/type",
                "/properties/m~0n/maxLength",
            ])
        #expect(!s.isValid(v))
    }

    @Test func rootTypeMismatch() throws {
        let s = try schema(Self.event)
        #expect(try messages(s, "[1]") == ["/: expected object, got array"])
        #expect(try messages(s, #""x""#) == [#"/: expected object, got string "x""#])
    }

    @Test func messagesForOtherKeywords() throws {
        let s = try schema(
            """
            {"properties": {
              "n": {"exclusiveMaximum": 10, "multipleOf": 3},
              "s": {"pattern": "^[a-z]+$", "minLength": 2},
              "l": {"minItems": 2, "uniqueItems": true},
              "c": {"const": {"k": 1}},
              "t": {"type": ["string", "null"]},
              "o": {"oneOf": [{"type": "integer"}, {"minimum": 0}]},
              "x": {"not": {"type": "string"}},
              "closed": {"properties": {"a": true}, "additionalProperties": false}
            }}
            """)
        #expect(
            try messages(s, ##"{"n":10,"s":"A","l":[1],"c":{"k":2},"t":5,"o":3,"x":"s","closed":{"a":1,"b":2}}"##) == [
                "/n: 10 is not less than the exclusive maximum of 10",
                "/n: 10 is not a multiple of 3",
                #"/s: "A" is 1 character long, shorter than the minimum length of 2"#,
                #"/s: "A" does not match the pattern "^[a-z]+$""#,
                "/l: array has 1 item, fewer than the minimum of 2",
                #"/c: {"k":2} is not the required value {"k":1}"#,
                "/t: expected string or null, got integer 5",
                "/o: 3 matches 2 schemas in oneOf (0 and 1), but must match exactly one",
                #"/x: "s" must not match the schema in not"#,
                "/closed: property 'b' is not allowed",
            ])
        #expect(
            try messages(s, ##"{"l":[1,[2],1.0]}"##) == [
                "/l: array items 0 and 2 are equal (1), but items must be unique"
            ])
    }

    @Test func nestedViolationsInsideAllOfAndRef() throws {
        let s = try schema(
            """
            {"$defs": {"pos": {"type": "integer", "minimum": 1}},
             "properties": {"items": {"items": {"allOf": [{"$ref": "#/$defs/pos"}, {"maximum": 5}]}}}}
            """)
        let found = s.validate(try json(##"{"items":[1,0,9,"z"]}"##))
        #expect(
            found.map(\.description) == [
                "/items/1: 0 is less than the minimum of 1",
                "/items/2: 9 is greater than the maximum of 5",
                #"/items/3: expected integer, got string "z""#,
            ])
        #expect(found[0].schemaPath == "/$defs/pos/minimum")
    }

    @Test func integerAndNumberSemantics() throws {
        let s = try schema(##"{"type": "integer"}"##)
        #expect(s.isValid(.double(1.0)))
        #expect(s.isValid(.double(-3e10)))
        #expect(!s.isValid(.double(1.5)))
        #expect(!s.isValid(.bool(true)))
        let c = try schema(##"{"const": 1}"##)
        #expect(c.isValid(.double(1.0)))
        #expect(!c.isValid(.bool(true)))
        let e = try schema(##"{"enum": [{"a": 1, "b": [1.0, 2]}]}"##)
        #expect(e.isValid(try json(##"{"b":[1,2.0],"a":1.0}"##)))
        #expect(!e.isValid(try json(##"{"b":[2,1],"a":1}"##)))
        let big = try schema(##"{"maximum": 9007199254740992}"##)
        #expect(!big.isValid(.int(9_007_199_254_740_993)))
    }

    @Test func multipleOfIsExactForDecimals() throws {
        let cases: [(String, JSON, Bool)] = [
            ("0.0001", .double(0.0075), true),
            ("0.0001", .double(0.00751), false),
            ("0.1", .double(0.3), true),
            ("0.01", .double(19.99), true),
            ("1.5", .int(35), false),
            ("0.123456789", .double(1e308), false),
            ("1e-8", .int(12_391_239_123), true),
            ("7", .int(Int64.min + 1), true),
            ("2", .double(1e300), true),
        ]
        for (divisor, value, expected) in cases {
            let s = try schema(##"{"multipleOf": \##(divisor)}"##)
            #expect(s.isValid(value) == expected, "\(value) multipleOf \(divisor)")
        }
    }

    @Test func lengthCountsUnicodeScalars() throws {
        let s = try schema(##"{"maxLength": 1}"##)
        #expect(s.isValid(.string("\u{1F600}")))
        #expect(!s.isValid(.string("e\u{301}")))  // one grapheme, two scalars
    }

    @Test func booleanSchemas() throws {
        #expect(try schema("true").isValid(.null))
        let no = try schema("false")
        #expect(no.validate(.int(1)).map(\.description) == ["/: no value is allowed here"])
        let tuple = try schema(##"{"prefixItems": [{"type": "string"}], "items": false}"##)
        #expect(tuple.isValid(try json(#"["a"]"#)))
        #expect(try messages(tuple, #"["a", 1, 2]"#) == ["/: array has 3 items, but only 1 are allowed"])
    }

    @Test func otherApplicators() throws {
        let s = try schema(
            """
            {"if": {"properties": {"kind": {"const": "card"}}},
             "then": {"required": ["number"]},
             "else": {"required": ["iban"]},
             "dependentRequired": {"a": ["b"]},
             "propertyNames": {"maxLength": 6},
             "contains": {"type": "integer"}}
            """)
        #expect(try messages(s, ##"{"kind":"card"}"##) == ["/: missing required property 'number'"])
        #expect(
            try messages(s, ##"{"kind":"cash","a":1}"##) == [
                "/: missing property 'b', which is required when 'a' is present",
                "/: missing required property 'iban'",
            ])
        #expect(
            try messages(s, ##"{"kind":"card","number":1,"toolongname":1}"##) == [
                #"/: property name "toolongname" is not allowed by propertyNames"#
            ])
        #expect(try messages(s, #"["x"]"#) == ["/: array has no item that matches the contains schema"])
    }

    @Test func patternsAreUnanchoredSearches() throws {
        let s = try schema(
            ##"{"patternProperties": {"^x-": {"type": "string"}}, "additionalProperties": false, "properties": {"id": {}}}"##
        )
        #expect(s.isValid(try json(##"{"id":1,"x-a":"s"}"##)))
        #expect(
            try messages(s, ##"{"x-a":1,"y":2}"##) == [
                "/x-a: expected string, got integer 1", "/: property 'y' is not allowed",
            ])
        #expect(try schema(##"{"pattern": "b"}"##).isValid(.string("abc")))
    }
}

@Suite struct SchemaErrorTests {
    @Test func badKeywordValues() throws {
        let cases: [(String, String, String)] = [
            (##"{"type": 7}"##, "/type", "type must be a type name or an array of them, not a number"),
            (
                ##"{"type": "strin"}"##, "/type",
                "unknown type 'strin'; expected one of null, boolean, object, array, number, string, integer"
            ),
            (##"{"type": ["string", 1]}"##, "/type/1", "type must be a type name or an array of them, not a number"),
            (##"{"minimum": "x"}"##, "/minimum", "minimum must be a number, not a string"),
            (
                ##"{"properties": {"a": {"minLength": -1}}}"##, "/properties/a/minLength",
                "minLength must be a non-negative integer, not -1"
            ),
            (##"{"required": "id"}"##, "/required", "required must be an array of strings"),
            (##"{"multipleOf": 0}"##, "/multipleOf", "multipleOf must be greater than 0"),
            (
                ##"{"items": [{}]}"##, "/items",
                "items must be a schema; in draft 2020-12 a list of schemas goes in prefixItems"
            ),
            (
                ##"{"properties": {"a/b": 3}}"##, "/properties/a~1b",
                "a schema must be an object or a boolean, not a number"
            ),
            (##"{"anyOf": []}"##, "/anyOf", "anyOf must be a non-empty array of schemas"),
            ("[]", "", "a schema must be an object or a boolean, not an array"),
        ]
        for (text, path, message) in cases {
            let e = try schemaError(text)
            #expect(e?.schemaPath == path, "\(text)")
            #expect(e?.message == message, "\(text)")
        }
    }

    @Test func badPattern() throws {
        let e = try schemaError(##"{"properties": {"p": {"pattern": "(unclosed"}}}"##)
        #expect(e?.schemaPath == "/properties/p/pattern")
        #expect(e?.message.hasPrefix(#"invalid regular expression "(unclosed""#) == true)
        let e2 = try schemaError(##"{"patternProperties": {"[": {}}}"##)
        #expect(e2?.schemaPath == "/patternProperties/[")
    }

    @Test func unresolvableRefs() throws {
        let e = try schemaError(##"{"properties": {"a": {"$ref": "#/$defs/missing"}}}"##)
        #expect(e?.schemaPath == "/properties/a/$ref")
        #expect(e?.message == "cannot resolve $ref '#/$defs/missing': nothing at that location")
        let remote = try schemaError(##"{"$ref": "https://example.com/other.json"}"##)
        #expect(remote?.schemaPath == "/$ref")
        #expect(
            try schemaError(##"{"$ref": "#nope"}"##)?.message == "cannot resolve $ref '#nope': no $anchor named 'nope'")
    }

    @Test func unknownKeywordsAndAnnotationsAreAccepted() throws {
        let s = try schema(
            """
            {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "https://x/y",
             "title": "t", "description": "d", "$comment": "c", "examples": [1], "default": 3,
             "x-vendor": {"type": 7}, "format": "date"}
            """)
        #expect(s.isValid(.string("not a date")))
    }
}

@Suite struct RefTests {
    @Test func refCyclesWithoutProgressAreRejected() throws {
        let cases = [
            ##"{"$ref": "#"}"##,
            ##"{"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"allOf": [{"$ref": "#/$defs/a"}]}}, "$ref": "#/$defs/a"}"##,
            ##"{"anyOf": [{"type": "string"}, {"not": {"$ref": "#"}}]}"##,
        ]
        for text in cases {
            let e = try schemaError(text)
            #expect(e != nil, "\(text)")
            #expect(e?.message.contains("refers back to itself") == true, "\(text)")
        }
        #expect(try schemaError(##"{"$ref": "#"}"##)?.schemaPath == "/$ref")
    }

    @Test func recursiveSchemasThatDescendAreFine() throws {
        let s = try schema(
            """
            {"$defs": {"node": {"type": "object", "required": ["v"],
                                "properties": {"v": {"type": "integer"},
                                               "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}},
             "$ref": "#/$defs/node"}
            """)
        #expect(s.isValid(try json(##"{"v":1,"kids":[{"v":2},{"v":3,"kids":[{"v":4}]}]}"##)))
        let found = s.validate(try json(##"{"v":1,"kids":[{"v":2},{"v":3,"kids":[{"v":"x"}, {}]}]}"##))
        #expect(
            found.map(\.description) == [
                #"/kids/1/kids/0/v: expected integer, got string "x""#,
                "/kids/1/kids/1: missing required property 'v'",
            ])
    }

    /// Validation recurses once per nesting level. Sluice runs steps on stage threads
    /// with 16 MiB stacks (see `Execution`); test threads are smaller, so the 500-deep
    /// case runs on a thread of that size, as it would inside a pipeline.
    @Test func deepInstancesThroughARecursiveRef() throws {
        let s = try schema(##"{"type": ["array", "integer"], "items": {"$ref": "#"}}"##)
        let results = onStageSizedStack { () -> (Bool, [Violation]) in
            var v: JSON = .int(1)
            for _ in 0..<500 { v = .array([v]) }
            var bad: JSON = .string("x")
            for _ in 0..<500 { bad = .array([bad]) }
            return (s.isValid(v), s.validate(bad))
        }
        #expect(results.0)
        #expect(results.1.count == 1)
        #expect(results.1.first?.instancePath == String(repeating: "/0", count: 500))
    }

    @Test func refFormsAndEscaping() throws {
        let s = try schema(
            """
            {"$id": "https://example.com/root",
             "$defs": {"a/b": {"type": "string"}, "p%q": {"minimum": 0}, "named": {"$anchor": "pos", "minimum": 1}},
             "properties": {
               "s": {"$ref": "#/$defs/a~1b"},
               "p": {"$ref": "#/$defs/p%25q"},
               "n": {"$ref": "#pos"},
               "r": {"$ref": "https://example.com/root#/$defs/a~1b"}
             }}
            """)
        #expect(s.isValid(try json(##"{"s":"x","p":0,"n":1,"r":"y"}"##)))
        #expect(
            try messages(s, ##"{"s":1,"p":-1,"n":0,"r":2}"##) == [
                "/s: expected string, got integer 1",
                "/p: -1 is less than the minimum of 0",
                "/n: 0 is less than the minimum of 1",
                "/r: expected string, got integer 2",
            ])
    }
}

@Suite struct PerformanceSmokeTests {
    @Test func eventShapedSchema() throws {
        let s = try schema(
            """
            {"type": "object", "required": ["id", "ts", "amount"],
             "properties": {"id": {"type": "string"}, "ts": {"type": "integer"},
                            "amount": {"type": "number", "minimum": 0}, "currency": {"enum": ["EUR", "USD"]}}}
            """)
        let event = try json(##"{"id":"e-1","ts":1700000000,"amount":12.5,"currency":"EUR","note":"hi"}"##)
        let clock = ContinuousClock()
        var valid = 0
        let elapsed = clock.measure {
            for _ in 0..<100_000 where s.isValid(event) && s.validate(event).isEmpty { valid += 1 }
        }
        #expect(valid == 100_000)
        print("event schema: 100k isValid+validate in \(elapsed) (debug build)")
    }
}

/// Runs `body` on a thread with a 16 MiB stack, the size of Sluice's stage threads.
final class ResultBox<T>: @unchecked Sendable {
    var value: T?
    init() {}
}

func onStageSizedStack<T: Sendable>(_ body: @escaping @Sendable () -> T) -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        box.value = body()
        done.signal()
    }
    thread.stackSize = 16 << 20
    thread.start()
    done.wait()
    return box.value!
}
