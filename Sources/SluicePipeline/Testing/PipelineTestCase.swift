import SluiceConnectors
import SluiceCore
import SluiceJSON

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
public struct PipelineTestCase: Sendable {
    /// How an expected event is compared with an actual one.
    public enum Match: String, Sendable, CaseIterable {
        /// Equal JSON values: same kinds (`1` is not `1.0`), same fields; object key
        /// order does not matter, array order does.
        case exact
        /// Every field of the expected object is present in the actual object with a
        /// matching value (recursively for objects; arrays match element by element and
        /// have the same length); other values compare exactly.
        case subset
    }

    /// What one output (or stream, or side output) must hold after the run.
    public struct Expectation: Sendable {
        /// The output, stream or side output name (`out`, `clean`, `clean.rejected`).
        public var name: String
        /// Where the name is written.
        public var location: SourceLocation
        /// The expected events.
        public var events: [JSON]

        /// An expectation.
        public init(name: String, location: SourceLocation, events: [JSON]) {
            self.name = name
            self.location = location
            self.events = events
        }
    }

    /// One input's items, with where the input's name is written.
    public struct Input: Sendable {
        /// The input name.
        public var name: String
        /// Where the name is written.
        public var location: SourceLocation
        /// Events and explicit watermarks, in order.
        public var items: [InputItem]

        /// An input.
        public init(name: String, location: SourceLocation, items: [InputItem]) {
            self.name = name
            self.location = location
            self.items = items
        }
    }

    /// `name:` of the test.
    public var name: String
    /// Where the test's list item starts.
    public var location: SourceLocation
    /// `params:` overrides, as `--set` would give them (each value is JSON text).
    public var params: [String: String]
    /// `tables:` overrides: table name to a file path, relative to the pipeline file.
    public var tables: [String: String] = [:]
    /// `input:`, in the order written.
    public var inputs: [Input]
    /// `expect:`, in the order written.
    public var expectations: [Expectation]
    /// `unordered: true`: outputs are compared as multisets.
    public var unordered: Bool
    /// `match:`.
    public var match: Match
    /// Problems reading this test; a test with errors fails without running.
    public var diagnostics: Diagnostics

    /// A test.
    public init(
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
    public var inputItems: [String: [InputItem]] {
        var out: [String: [InputItem]] = [:]
        for i in inputs { out[i.name, default: []] += i.items }
        return out
    }
}
