import Synchronization

/// A sink written by the streams that feed it (``ExecutionPlan/directSinks(_:)``), each in
/// turn: the sink and everything about it live inside one `Mutex`, so the compiler
/// checks that no stream touches them without holding it.
final class SharedSink: Sendable {
    struct State {
        let sink: any EventSink
        /// Producers not yet finished.
        var remaining: Int
        /// Events written.
        var count = 0
        /// A write failed: take nothing more.
        var broken = false
        /// Fed by the partitions of a dealing partitioner: batches are written in the
        /// order of their numbers.
        let sequenced: Bool
        /// The number of the next batch to write, and the lines of later ones that
        /// arrived first (at most the batches in flight between the partitioner and its
        /// partitions).
        var next = 0
        var pending: [Int: ([UInt8], Int)] = [:]
    }

    let state: Mutex<State>
    /// The sink's name, for the report.
    let name: String

    /// `sink` is handed over: from now on only this object's lock reaches it.
    init(_ sink: sending any EventSink, producers: Int, sequenced: Bool = false) {
        name = sink.name
        state = Mutex(State(sink: sink, remaining: producers, sequenced: sequenced))
    }
}
