import SluiceCore
import SluiceJSON
import SluiceSteps
import SluiceStore

/// A reference to a source of events: an input, a stream, or one of their side
/// outputs (`events`, `clean`, `clean.rejected`, `in.malformed`).
struct SourceRef: Sendable {
    var text: String
    var location: SourceLocation
    /// The input or stream name.
    var base: String
    /// The side output name, if any.
    var port: String?

    init(text: String, location: SourceLocation) {
        self.text = text
        self.location = location
        if let dot = text.firstIndex(of: ".") {
            base = String(text[..<dot])
            port = String(text[text.index(after: dot)...])
        } else {
            base = text
            port = nil
        }
    }
}

/// An input as written in the pipeline.
struct InputSpec: Sendable {
    enum Kind: Sendable {
        case stdin
        /// Paths, or glob patterns expanded when the run starts.
        case files([String])
        /// Synthetic events.
        case generate(GenerateSpec)
        /// Replays an event store (docs/event-sourcing.md).
        case store(StoreReadSpec)
    }

    var name: String
    var location: SourceLocation
    var kind: Kind
    var format: JSONInputFormat?
    /// `duplicate_keys:`, when given.
    var duplicateKeys: DuplicateKeyPolicy? = nil
}

/// An output as written in the pipeline.
struct OutputSpec: Sendable {
    enum Kind: Sendable, Equatable {
        case stdout
        case stderr
        case file(path: String, append: Bool)
        /// Appends to the event store at `path`; what to append is in ``OutputSpec/store``.
        case store(path: String)
    }

    var name: String
    var location: SourceLocation
    var from: [SourceRef]
    var kind: Kind
    /// For a `store` output: the expressions evaluated per event.
    var store: StoreAppendSpec? = nil
}

/// A stream: where it reads and its compiled steps.
struct StreamSpec: Sendable {
    var name: String
    var location: SourceLocation
    var from: [SourceRef]
    var steps: [CompiledStep]
    /// Side outputs its steps can produce, by name, with ports.
    var sidePorts: [String: Int]
    /// `key:`: what partitions the stream when it runs in parallel.
    var key: Expression?
    /// `parallelism:` (1 when absent).
    var parallelism: Int = 1
}

/// One step after compilation.
struct CompiledStep: Sendable {
    var kind: String
    var name: String
    var location: SourceLocation
    var factory: StepFactory
    /// The traits of the step's definition.
    var traits: StepTraits = []
    /// Lines for `sluice graph` under the step's name (see `StepCompileContext.graphDetail`).
    var graphDetail: [String] = []
}
