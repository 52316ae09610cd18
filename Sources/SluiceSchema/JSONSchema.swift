import SluiceJSON

/// Why a JSON value given as a schema is not a usable JSON Schema.
package struct SchemaError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, in words for users ("minimum must be a number").
    package var message: String
    /// JSON pointer into the schema at the offending keyword ("" is the schema's root).
    package var schemaPath: String

    /// Creates an error with a message and the pointer to where it applies.
    package init(_ message: String, schemaPath: String) {
        self.message = message
        self.schemaPath = schemaPath
    }

    /// `schemaPath: message`, with the root shown as `/`.
    package var description: String {
        "\(schemaPath.isEmpty ? "/" : schemaPath): \(message)"
    }
}

/// One way an instance breaks a schema.
package struct Violation: Sendable, Hashable, Codable, CustomStringConvertible {
    /// JSON pointer (RFC 6901, `~0` and `~1` escaping) to the offending value; "" for the root.
    package var instancePath: String
    /// The schema keyword that failed (`minimum`, `required`, ...).
    package var keyword: String
    /// What is wrong, for users ("-5 is less than the minimum of 0").
    package var message: String
    /// JSON pointer into the schema to the failing keyword.
    package var schemaPath: String

    /// Creates a violation.
    package init(instancePath: String, keyword: String, message: String, schemaPath: String) {
        self.instancePath = instancePath
        self.keyword = keyword
        self.message = message
        self.schemaPath = schemaPath
    }

    /// `instancePath: message`, with the root shown as `/` (`/amount: -5 is less than ...`).
    package var description: String {
        "\(instancePath.isEmpty ? "/" : instancePath): \(message)"
    }
}

/// A compiled JSON Schema (draft 2020-12) that validates JSON values.
///
/// The schema is checked and compiled once: patterns are compiled, `$ref`s are resolved
/// and the keywords become a tree of checks. Validation then walks the instance and that
/// tree, and builds strings only for violations it reports.
///
/// Supported: `type`, `enum`, `const`, the numeric, string, array and object keywords,
/// the applicators (`allOf`, `anyOf`, `oneOf`, `not`, `if`/`then`/`else`, `properties`,
/// `patternProperties`, `additionalProperties`, `propertyNames`, `dependentSchemas`,
/// `prefixItems`, `items`, `contains`), `dependentRequired`, local `$ref` (`#`, JSON
/// pointers, `$anchor`s) and `$defs`. Unknown keywords are ignored, as the
/// specification says.
package struct JSONSchema: Sendable {
    let program: Program

    /// Compiles `schema`. Throws when it is not a valid schema: a keyword with a value of
    /// the wrong kind (`type: 7`, `minimum: "x"`), an unknown type name, a pattern that
    /// does not compile, a `$ref` that cannot be resolved, or `$ref`s that loop without
    /// ever moving into the instance (`{"$ref": "#"}`).
    package init(_ schema: JSON) throws(SchemaError) {
        var compiler = Compiler(root: schema)
        program = try compiler.compileProgram()
    }

    /// Every violation of the schema by `instance`, in schema and document order;
    /// empty when the instance is valid.
    package func validate(_ instance: JSON) -> [Violation] {
        var ev = Evaluator(program: program, collect: true)
        _ = ev.eval(program.root, instance)
        return ev.violations
    }

    /// Whether `instance` is valid; stops at the first failure and builds no messages.
    package func isValid(_ instance: JSON) -> Bool {
        var ev = Evaluator(program: program, collect: false)
        return ev.eval(program.root, instance)
    }
}
