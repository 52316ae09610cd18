import SluiceConnectors
import SluiceCore
import SluiceJSON
import SluicePipeline

/// One test of a pipeline, as written in a `tests:` list:
///
/// ```yaml
/// tests:
///   - name: big US purchase passes
///     params: { threshold: 100 }          # optional, like --set
///     input:  { events: [ {id: 1, amount: 300}, {watermark: 5000} ] }
///     expect: { out: [ {id: 1, amount: 300} ] }
///     unordered: false                    # true: compare as multisets
///     match: exact                        # subset: expected fields must be present and equal
/// ```
package struct PipelineTestCase: Sendable {
    /// How an expected event is compared with an actual one.
    package enum Match: String, Sendable, CaseIterable {
        /// Equal JSON values: same kinds (`1` is not `1.0`), same fields; object key
        /// order does not matter, array order does.
        case exact
        /// Every field of the expected object is present in the actual object with a
        /// matching value (recursively for objects; arrays match element by element and
        /// have the same length); other values compare exactly.
        case subset
    }

    /// What one output (or stream, or side output) must hold after the run.
    package struct Expectation: Sendable {
        /// The output, stream or side output name (`out`, `clean`, `clean.rejected`).
        package var name: String
        /// Where the name is written.
        package var location: SourceLocation
        /// The expected events.
        package var events: [JSON]

        /// An expectation.
        package init(name: String, location: SourceLocation, events: [JSON]) {
            self.name = name
            self.location = location
            self.events = events
        }
    }

    /// One input's items, with where the input's name is written.
    package struct Input: Sendable {
        /// The input name.
        package var name: String
        /// Where the name is written.
        package var location: SourceLocation
        /// Events and explicit watermarks, in order.
        package var items: [InputItem]

        /// An input.
        package init(name: String, location: SourceLocation, items: [InputItem]) {
            self.name = name
            self.location = location
            self.items = items
        }
    }

    /// `name:` of the test.
    package var name: String
    /// Where the test's list item starts.
    package var location: SourceLocation
    /// `params:` overrides, as `--set` would give them (each value is JSON text).
    package var params: [String: String]
    /// `tables:` overrides: table name to a file path, relative to the pipeline file.
    package var tables: [String: String] = [:]
    /// `input:`, in the order written.
    package var inputs: [Input]
    /// `expect:`, in the order written.
    package var expectations: [Expectation]
    /// `unordered: true`: outputs are compared as multisets.
    package var unordered: Bool
    /// `match:`.
    package var match: Match
    /// Problems reading this test; a test with errors fails without running.
    package var diagnostics: Diagnostics

    /// A test.
    package init(
        name: String, location: SourceLocation, params: [String: String] = [:], inputs: [Input] = [],
        expectations: [Expectation] = [], unordered: Bool = false, match: Match = .exact,
        diagnostics: Diagnostics = Diagnostics()
    ) {
        self.name = name
        self.location = location
        self.params = params
        self.inputs = inputs
        self.expectations = expectations
        self.unordered = unordered
        self.match = match
        self.diagnostics = diagnostics
    }

    /// The inputs keyed by name, as ``Pipeline/collect(_:)`` takes them.
    package var inputItems: [String: [InputItem]] {
        var out: [String: [InputItem]] = [:]
        for i in inputs { out[i.name, default: []] += i.items }
        return out
    }
}
