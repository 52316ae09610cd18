/// Supplies variable values to an evaluation.
///
/// Keep conforming types small (a class reference, or a struct of at most three words)
/// so passing one to ``CELProgram/evaluate(_:)`` does not allocate.
@usableFromInline package protocol CELActivation {
    /// The value bound to `name`, or nil when it is absent (evaluation then fails with
    /// `no such attribute`, unless the access sits under `has()` or is absorbed).
    func resolve(_ name: CELName) -> CELValue?

    /// Applies `test` to the value bound to its variable (``CELFieldTest/name``): the
    /// comparison's result, or nil when the variable is absent or the comparison is an
    /// error in CEL. Conditions call it for their
    /// leaves (see ``CELProgram/evaluateCondition(_:)``). The default applies the test to
    /// ``resolve(_:)``'s value; an activation holding JSON overrides it to compare in place
    /// with ``CELFieldTest/evaluate(json:)``, resolving names exactly as ``resolve(_:)``.
    func test(_ test: CELFieldTest) -> Bool?
}

extension CELActivation {
    /// Applies `test` to ``resolve(_:)``'s value for its variable; nil when that is absent.
    @usableFromInline package func test(_ test: CELFieldTest) -> Bool? {
        guard let v = resolve(test.name) else { return nil }
        return test.evaluate(v)
    }
}

/// An activation backed by a dictionary keyed by (possibly qualified) variable name.
@usableFromInline package struct CELDictionaryActivation: CELActivation, Sendable {
    /// The bindings.
    @usableFromInline package var values: [String: CELValue]

    /// Creates an activation from name/value bindings.
    @usableFromInline package init(_ values: [String: CELValue]) {
        self.values = values
    }

    /// Looks `name.string` up in ``values``.
    @usableFromInline package func resolve(_ name: CELName) -> CELValue? { values[name.string] }
}

/// An activation with no variables.
@usableFromInline package struct CELEmptyActivation: CELActivation, Sendable {
    /// Creates the empty activation.
    @usableFromInline package init() {}
    /// Always nil.
    @usableFromInline package func resolve(_ name: CELName) -> CELValue? { nil }
}
