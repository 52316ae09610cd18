import Synchronization

/// A sink written by the streams that feed it (``ExecutionPlan/directSinks(_:)``), each in
/// turn under `lock`; everything but `lock` is touched only while holding it.
final class SharedSink: @unchecked Sendable {
    let sink: any EventSink
    let lock = Mutex<Void>(())
    /// Producers not yet finished.
    var remaining: Int
    /// Events written.
    var count = 0
    /// A write failed: take nothing more.
    var broken = false
    /// Fed by the partitions of a dealing partitioner: batches are written in the order
    /// of their numbers.
    let sequenced: Bool
    /// The number of the next batch to write, and the lines of later ones that arrived
    /// first (at most the batches in flight between the partitioner and its partitions).
    var next = 0
    var pending: [Int: ([UInt8], Int)] = [:]

    init(_ sink: any EventSink, producers: Int, sequenced: Bool = false) {
        self.sink = sink
        remaining = producers
        self.sequenced = sequenced
    }
}
