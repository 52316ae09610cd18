import Atomics
import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The runtime form of a pipeline: sources, streams and sinks joined by edges, ready to
/// run. The compiler builds one from a pipeline file; tests and embedders may build one
/// by hand.
///
/// ```
///  source ──ring──▶ stream ──ring──▶ stream ──ring──▶ sink
///     │ malformed     │ ╲ rejected/late/...            ▲
///     ▼               ▼  ╲──ring──▶ stream ──ring──────┘  (fan-out, fan-in)
///   sink            sink
/// ```
/// Every node runs on its own thread (see `StageThread`). Each edge is a bounded SPSC ring of
/// ``Message``s: batches of events, watermarks and the end signal travel in-band, so a
/// watermark never overtakes the events before it. A stream reading several rings
/// takes whatever is ready, and its watermark is the minimum of its inputs'.
@usableFromInline package final class Dataflow {
    /// Identifies a node.
    @usableFromInline package struct NodeID: Hashable, Sendable {
        @usableFromInline package let index: Int
        @usableFromInline package init(index: Int) { self.index = index }
    }

    enum Kind {
        case source(any EventSource, TimePolicy?)
        /// Made on the stage's own thread (see ``Dataflow/addStream(name:portNames:makeChain:)``).
        case stream(@Sendable () -> StepChain)
        /// The hash function is made on the thread that hashes (see ``Dataflow/addPartitioner(name:count:dealsByLoad:makeHash:)``).
        case partition(@Sendable () -> (Event) -> UInt64, Int, deals: Bool)
        case sink(any EventSink)
    }

    struct Node {
        var name: String
        var kind: Kind
        /// Names of output ports, for counters of events nothing reads.
        var portNames: [Int: String]
    }

    struct Edge {
        var from: NodeID
        var port: Int
        var to: NodeID
    }

    var nodes: [Node] = []
    var edges: [Edge] = []
    /// With checkpoints: which stream (and copy) each stream node runs, by node index.
    package var stages: [Int: StageIdentity] = [:]
    /// With a checkpoint restored: where each source resumes, by node index.
    package var restoredSources: [Int: SourceSnapshot] = [:]
    /// Messages each ring holds (batches, not events).
    @usableFromInline package var ringCapacity: Int

    @usableFromInline package init(ringCapacity: Int = 16) {
        self.ringCapacity = ringCapacity
    }

    /// Adds a source; its ports are ``SourcePort/main`` and ``SourcePort/malformed``.
    /// With a time policy the source stamps events and sends watermarks; without one,
    /// events keep ``Event/noTime`` and only the end of input advances time.
    @discardableResult
    @usableFromInline package func addSource(_ source: any EventSource, time: TimePolicy? = nil) -> NodeID {
        nodes.append(
            Node(
                name: source.name, kind: .source(source, time),
                portNames: [0: source.name, 1: source.name + ".malformed"]))
        return NodeID(index: nodes.count - 1)
    }

    /// In processing-time mode streams advance their watermark to the wall clock on
    /// this interval even when no input arrives, so windows close on time.
    @usableFromInline package var processingTimeTick: UInt64? = nil

    /// Adds a stream running `chain`; `portNames` names its side ports for counters. The
    /// chain belongs to one run: start the flow once.
    @discardableResult
    @usableFromInline package func addStream(name: String, chain: StepChain, portNames: [Int: String] = [:]) -> NodeID {
        let h = Handoff(value: chain)
        return addStream(name: name, portNames: portNames) { h.take() }
    }

    /// Adds a stream whose chain `makeChain` builds on the stream's own thread when the
    /// run starts. Memory a thread allocates comes from its own allocator arena, so the
    /// mutable state of two partition workers (activations, counters, scratch arrays)
    /// does not end up on shared cache lines, as it can when one thread builds both.
    @discardableResult
    @usableFromInline package func addStream(
        name: String, portNames: [Int: String] = [:], makeChain: @escaping @Sendable () -> StepChain
    ) -> NodeID {
        var names = portNames
        names[-1] = name
        nodes.append(Node(name: name, kind: .stream(makeChain), portNames: names))
        return NodeID(index: nodes.count - 1)
    }

    /// Adds a partitioner: it reads like a stream and sends each event to output port
    /// `hash(event) % count` (ports `0..<count`), so each key always lands in the same
    /// partition; watermarks and the end go to every partition.
    ///
    /// With `dealsByLoad`, for partitions whose steps keep no state between events
    /// (``StepTraits/stateless``), the partitioner may instead deal whole batches to whichever
    /// partition has the least queued, numbering them; the sinks the partitions write to
    /// then put the output back in batch order. Every partition runs at the speed of the
    /// core it is on (a slower core gets fewer batches), and the output keeps the input's
    /// order, so each key's order is kept a fortiori. It does so only when it runs on its
    /// source's thread and everything the partitions send goes to sinks that write JSON
    /// text and are fed by nothing else (stdout, files); otherwise it hashes.
    @discardableResult
    @usableFromInline package func addPartitioner(
        name: String, count: Int, dealsByLoad: Bool = false, hash: @escaping @Sendable (Event) -> UInt64
    ) -> NodeID {
        addPartitioner(name: name, count: count, dealsByLoad: dealsByLoad) { hash }
    }

    /// Adds a partitioner whose hash function `makeHash` makes on the thread that will use
    /// it (the partitioner's, or its source's when fused), so the function may keep state
    /// of its own (an expression's activation) without being `Sendable`.
    @discardableResult
    @usableFromInline package func addPartitioner(
        name: String, count: Int, dealsByLoad: Bool = false, makeHash: @escaping @Sendable () -> (Event) -> UInt64
    ) -> NodeID {
        nodes.append(Node(name: name, kind: .partition(makeHash, max(1, count), deals: dealsByLoad), portNames: [:]))
        return NodeID(index: nodes.count - 1)
    }

    /// Adds a sink.
    @discardableResult
    @usableFromInline package func addSink(_ sink: any EventSink) -> NodeID {
        nodes.append(Node(name: sink.name, kind: .sink(sink), portNames: [:]))
        return NodeID(index: nodes.count - 1)
    }

    /// Sends what `from` emits on `port` to `to` (port -1 is a stream's main output,
    /// ports 0... its side outputs; a source's ports are ``SourcePort``).
    @usableFromInline package func connect(_ from: NodeID, port: Int, to: NodeID) {
        edges.append(Edge(from: from, port: port, to: to))
    }

    /// The edges as added, for tools and tests: (from node, port, to node).
    @usableFromInline package var connections: [(from: Int, port: Int, to: Int)] {
        edges.map { ($0.from.index, $0.port, $0.to.index) }
    }

    /// Each node as `KIND NAME`, in the order added, for tools and tests: `source in`,
    /// `stream work#0`, `partition work 4` (with ` dealt` when it may deal by load), `sink out`.
    @usableFromInline package var nodeSummaries: [String] {
        nodes.map { node in
            switch node.kind {
            case .source: "source \(node.name)"
            case .stream: "stream \(node.name)"
            case .partition(_, let n, let deals): "partition \(node.name) \(n)" + (deals ? " dealt" : "")
            case .sink: "sink \(node.name)"
            }
        }
    }

    /// The main output port of a stream.
    @usableFromInline package static let mainPort = -1
}

/// What a checkpoint needs to know of a stream node: the stream it runs, which copy of
/// how many, its `key:` text, and the snapshots (of one or several old copies) it
/// resumes from.
package struct StageIdentity: Sendable {
    package var stream: String
    package var copy: Int
    package var copies: Int
    package var keyText: String?
    /// The old copies' snapshots to restore from (empty: start empty).
    package var restore: [StageSnapshot]

    package init(
        stream: String, copy: Int = 0, copies: Int = 1, keyText: String? = nil, restore: [StageSnapshot] = []
    ) {
        self.stream = stream
        self.copy = copy
        self.copies = copies
        self.keyText = keyText
        self.restore = restore
    }
}

/// Carries a value that is not `Sendable` into a stage's closure, to be taken once, by
/// the stage's thread, which alone touches it from then on. Checked: taking it a second
/// time (from anywhere) is a programming error that stops the process.
final class Handoff<T>: @unchecked Sendable {
    private var stored: T?
    private let taken = ManagedAtomic<Bool>(false)

    init(value: T) { stored = value }

    /// The value; the one call allowed.
    func take() -> T {
        // The atomic orders the creating thread's store before this thread's read.
        precondition(!taken.exchange(true, ordering: .acquiringAndReleasing), "a stage's value was taken twice")
        guard let v = stored else { preconditionFailure("a stage's value was taken twice") }
        stored = nil
        return v
    }
}
