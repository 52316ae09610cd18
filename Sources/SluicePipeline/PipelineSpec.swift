import SluiceCore
import SluiceJSON
import SluiceKafka
import SluiceRabbitMQ
import SluiceSteps
import SluiceStore

/// A reference to a source of events: an input, a stream, or one of their side
/// outputs (`events`, `clean`, `clean.rejected`, `in.malformed`).
package struct SourceRef: Sendable {
    package var text: String
    package var location: SourceLocation
    /// The input or stream name.
    package var base: String
    /// The side output name, if any.
    package var port: String?

    package init(text: String, location: SourceLocation) {
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
package struct InputSpec: Sendable {
    package enum Kind: Sendable {
        case stdin
        /// Paths, or glob patterns expanded when the run starts.
        case files([String])
        /// Synthetic events.
        case generate(GenerateSpec)
        /// Replays an event store (docs/event-sourcing.md).
        case store(StoreReadSpec)
        /// Reads Kafka topics in a consumer group (docs/kafka.md).
        case kafka(KafkaInputSpec)
        /// Consumes a RabbitMQ queue (docs/rabbitmq.md).
        case rabbitmq(RabbitMQInputConfig)
    }

    package var name: String
    package var location: SourceLocation
    package var kind: Kind
    package var format: JSONInputFormat?
    /// `duplicate_keys:`, when given.
    package var duplicateKeys: DuplicateKeyPolicy? = nil
}

/// An output as written in the pipeline.
package struct OutputSpec: Sendable {
    package enum Kind: Sendable, Equatable {
        case stdout
        case stderr
        case file(path: String, append: Bool)
        /// Appends to the event store at this location (what to append is in
        /// ``OutputSpec/store``), or folds into a projection table there (``OutputSpec/project``).
        case store(StoreLocation)
        /// Produces to a Kafka topic; the settings are in ``OutputSpec/kafka``.
        case kafka(topic: String)
        /// Publishes to a RabbitMQ exchange; how is in ``OutputSpec/rabbitmq``.
        case rabbitmq
    }

    package var name: String
    package var location: SourceLocation
    package var from: [SourceRef]
    package var kind: Kind
    /// For a `store` output: the expressions evaluated per event.
    package var store: StoreAppendSpec? = nil
    /// For a `project` output: the table and the rules that fold events into it.
    package var project: ProjectionSpec? = nil
    /// For a `kafka` output: brokers, topic, key and client options.
    package var kafka: KafkaOutputSpec? = nil
    /// For a `rabbitmq` output: the connection and the expressions evaluated per event.
    package var rabbitmq: RabbitMQOutputSpec? = nil
}

/// A stream: where it reads and its compiled steps.
package struct StreamSpec: Sendable {
    package var name: String
    package var location: SourceLocation
    package var from: [SourceRef]
    package var steps: [CompiledStep]
    /// Side outputs its steps can produce, by name, with ports.
    package var sidePorts: [String: Int]
    /// `key:`: what partitions the stream when it runs in parallel.
    package var key: Expression?
    /// `parallelism:` (1 when absent).
    package var parallelism: Int = 1
}

/// One step after compilation.
package struct CompiledStep: Sendable {
    package var kind: String
    package var name: String
    package var location: SourceLocation
    package var factory: StepFactory
    /// The traits of the step's definition.
    package var traits: StepTraits = []
    /// Lines for `sluice graph` under the step's name (see `StepCompileContext.graphDetail`).
    package var graphDetail: [String] = []
    /// The step's id in checkpoints: `id:`, or `STREAM[POSITION].KIND`.
    package var id: String = ""
}

/// `checkpoint:` in the pipeline file.
package struct CheckpointSpec: Sendable {
    /// `dir:`, resolved against the pipeline file's folder.
    package var directory: String
    /// `every:` (10 s when absent).
    package var every: TimeSpan?
}
