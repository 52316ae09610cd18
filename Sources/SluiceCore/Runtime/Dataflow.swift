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
public final class Dataflow {
    /// Identifies a node.
    public struct NodeID: Hashable, Sendable {
        public let index: Int
    }

    enum Kind {
        case source(any EventSource, TimePolicy?)
        /// Made on the stage's own thread (see ``Dataflow/addStream(name:portNames:makeChain:)``).
        case stream(@Sendable () -> StepChain)
        case partition(@Sendable (Event) -> UInt64, Int, deals: Bool)
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
    /// Messages each ring holds (batches, not events).
    public var ringCapacity: Int

    public init(ringCapacity: Int = 16) {
        self.ringCapacity = ringCapacity
    }

    /// Adds a source; its ports are ``SourcePort/main`` and ``SourcePort/malformed``.
    /// With a time policy the source stamps events and sends watermarks; without one,
    /// events keep ``Event/noTime`` and only the end of input advances time.
    @discardableResult
    public func addSource(_ source: any EventSource, time: TimePolicy? = nil) -> NodeID {
        nodes.append(Node(name: source.name, kind: .source(source, time), portNames: [0: source.name, 1: source.name + ".malformed"]))
        return NodeID(index: nodes.count - 1)
    }

    /// In processing-time mode streams advance their watermark to the wall clock on
    /// this interval even when no input arrives, so windows close on time.
    public var processingTimeTick: UInt64? = nil

    /// Adds a stream running `chain`; `portNames` names its side ports for counters.
    @discardableResult
    public func addStream(name: String, chain: StepChain, portNames: [Int: String] = [:]) -> NodeID {
        let h = Handoff(value: chain)
        return addStream(name: name, portNames: portNames) { h.value }
    }

    /// Adds a stream whose chain `makeChain` builds on the stream's own thread when the
    /// run starts. Memory a thread allocates comes from its own allocator arena, so the
    /// mutable state of two partition workers (activations, counters, scratch arrays)
    /// does not end up on shared cache lines, as it can when one thread builds both.
    @discardableResult
    public func addStream(
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
    /// (``Step/isStateless``), the partitioner may instead deal whole batches to whichever
    /// partition has the least queued, numbering them; the sinks the partitions write to
    /// then put the output back in batch order. Every partition runs at the speed of the
    /// core it is on (a slower core gets fewer batches), and the output keeps the input's
    /// order, so each key's order is kept a fortiori. It does so only when it runs on its
    /// source's thread and everything the partitions send goes to sinks that write JSON
    /// text and are fed by nothing else (stdout, files); otherwise it hashes.
    @discardableResult
    public func addPartitioner(
        name: String, count: Int, dealsByLoad: Bool = false, hash: @escaping @Sendable (Event) -> UInt64
    ) -> NodeID {
        nodes.append(Node(name: name, kind: .partition(hash, max(1, count), deals: dealsByLoad), portNames: [:]))
        return NodeID(index: nodes.count - 1)
    }

    /// Adds a sink.
    @discardableResult
    public func addSink(_ sink: any EventSink) -> NodeID {
        nodes.append(Node(name: sink.name, kind: .sink(sink), portNames: [:]))
        return NodeID(index: nodes.count - 1)
    }

    /// Sends what `from` emits on `port` to `to` (port -1 is a stream's main output,
    /// ports 0... its side outputs; a source's ports are ``SourcePort``).
    public func connect(_ from: NodeID, port: Int, to: NodeID) {
        edges.append(Edge(from: from, port: port, to: to))
    }

    /// The main output port of a stream.
    public static let mainPort = -1
}

/// Carries a value into a stage's closure. The runtime hands each node to exactly one
/// stage thread, which alone touches it from then on.
struct Handoff<T>: @unchecked Sendable {
    let value: T
}

/// A started dataflow.
public final class Execution: Sendable {
    /// Whether the run is over and how it ended.
    public enum Outcome: Sendable, Equatable {
        /// Everything was read and written.
        case completed
        /// An output went away (closed pipe): stopped quietly.
        case outputClosed
        /// A source or sink failed, or a step asked to stop the run.
        case failed(String)
    }

    /// Totals after the run.
    public struct Report: Sendable {
        /// Per stream, per step counters.
        public var steps: [String: [StepStats]]
        /// Events emitted on ports that no edge reads, by `node.port` name.
        public var unread: [String: Int]
        /// Events each source produced (main port).
        public var sourceEvents: [String: Int]
        /// Events each sink took.
        public var sinkEvents: [String: Int]
    }

    private let group = DispatchGroup()
    private let cancelled = ManagedAtomic<Bool>(false)
    /// ``cancel()`` was called: the end of input does not fire what is open.
    private let stopped = ManagedAtomic<Bool>(false)
    /// Called once by ``cancel()``, so that sources waiting for input return.
    private let cancelHandlers = Mutex<[@Sendable () -> Void]?>([])
    /// A pipe whose read end turns readable on ``cancel()``: sources blocked reading a
    /// pipe or terminal poll it beside their input (see ``SourceOutput/cancellationFD``).
    private let wake: (read: Int32, write: Int32)
    private let failure = Mutex<Outcome>(.completed)
    private let report = Mutex<Report>(Report(steps: [:], unread: [:], sourceEvents: [:], sinkEvents: [:]))
    /// Events read by all sources so far (for progress lines).
    public let eventsIn = ManagedAtomic<Int>(0)
    /// Events written by all sinks so far (for progress lines).
    public let eventsOut = ManagedAtomic<Int>(0)

    /// Starts every node of `flow` on its own queue. `timing` turns on per-step clocks.
    public init(_ flow: Dataflow, timing: Bool = false) {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            _ = fcntl(fds[1], F_SETFL, O_NONBLOCK)
        } else {
            fds = [-1, -1]
        }
        wake = (fds[0], fds[1])
        let capacity = flow.ringCapacity
        // One parker per node for each direction, shared by all its rings.
        let consumerParkers = flow.nodes.map { _ in Parker() }
        let producerParkers = flow.nodes.map { _ in Parker() }
        var inputs: [[SPSCRing<Message>]] = Array(repeating: [], count: flow.nodes.count)
        var outputs: [[Int: [SPSCRing<Message>]]] = Array(repeating: [:], count: flow.nodes.count)
        // Rings into sinks, which have no use for watermarks (see `OutputPorts.broadcast`).
        var toSinks = Set<ObjectIdentifier>()
        let fused = Self.fusedPartitioners(flow)
        // Partitioners that deal batches by load, and the sinks that restore their order.
        let (dealers, sequenced) = Self.dealingPartitioners(flow, fused: fused)
        // Sinks the streams feeding them write to themselves (see `directSinks`), and
        // each stream's list of them.
        var shared: [Int: SharedSink] = [:]
        for k in Self.directSinks(flow).union(sequenced) {
            guard case .sink(let sink) = flow.nodes[k].kind else { continue }
            shared[k] = SharedSink(
                sink, producers: flow.edges.filter { $0.to.index == k }.count, sequenced: sequenced.contains(k))
        }
        // Per stream, by port, the shared sinks it writes to.
        var direct: [[Int: [SharedSink]]] = Array(repeating: [:], count: flow.nodes.count)
        for e in flow.edges {
            // A fused partitioner has no ring in; its rings out are the source's.
            if fused[e.to.index]?.source == e.from.index { continue }
            if let sink = shared[e.to.index] {
                direct[e.from.index][e.port, default: []].append(sink)
                continue
            }
            let ring = SPSCRing<Message>(
                capacity: capacity,
                consumerParker: consumerParkers[e.to.index],
                producerParker: producerParkers[fused[e.from.index]?.source ?? e.from.index]
            )
            inputs[e.to.index].append(ring)
            outputs[e.from.index][e.port, default: []].append(ring)
            if case .sink = flow.nodes[e.to.index].kind { toSinks.insert(ObjectIdentifier(ring)) }
        }
        for node in flow.nodes {
            if case .sink(let sink) = node.kind, let c = sink as? any RunCancellable { onCancel { c.runCancelled() } }
        }
        for (i, node) in flow.nodes.enumerated() {
            if fused[i] != nil { continue }
            let port = OutputPorts(rings: outputs[i], names: node.portNames, toSinks: toSinks)
            for (p, f) in fused where f.source == i {
                guard case .partition(let hash, let count, _) = flow.nodes[p].kind else { continue }
                let rings = (0..<count).compactMap { outputs[p][$0]?.first }
                port.rings[f.port] = rings
                port.split = (f.port, hash)
                port.deals = dealers.contains(p)
            }
            let ins = InputMerge(rings: inputs[i], parker: consumerParkers[i])
            let io = Handoff(value: (port, ins))
            let group = self.group
            group.enter()
            switch node.kind {
            case .source(let src, let time):
                let h = Handoff(value: src)
                StageThread.start(name: "in:" + node.name, role: .io) { [self] in
                    runSource(h.value, time, io.value.0)
                    group.leave()
                }
            case .stream(let makeChain):
                let name = node.name
                let tick = flow.processingTimeTick
                let encode = Self.encodesOutput(flow, node: i)
                let sinks = Handoff(value: direct[i])
                StageThread.start(name: "st:" + node.name) { [self] in
                    let chain = makeChain()
                    chain.timing = timing
                    runStream(name, chain, io.value.1, io.value.0, tick: tick, encode: encode, direct: sinks.value)
                    group.leave()
                }
            case .partition(let hash, let count, _):
                StageThread.start(name: "part:" + node.name) { [self] in
                    runPartitioner(hash, count, io.value.1, io.value.0)
                    group.leave()
                }
            case .sink(let sink):
                // Written by its producers; the last of them leaves the group.
                if shared[i] != nil { continue }
                let h = Handoff(value: sink)
                StageThread.start(name: "out:" + node.name, role: .io) { [self] in
                    runSink(h.value, io.value.1)
                    group.leave()
                }
            }
        }
    }

    /// True when stream `node` should encode its main output as JSON text
    /// (``Event/encoded(_:)``): everything reading it is a sink that writes JSON text,
    /// and one of those sinks has other inputs too (the partitions of a keyed stream, or
    /// a fan-in). A sink is one thread; left to it, the encoding of every stage it serves
    /// would run one after another. A sink fed by one stream encodes itself, in parallel
    /// with that stream.
    static func encodesOutput(_ flow: Dataflow, node: Int) -> Bool {
        let outs = flow.edges.filter { $0.from.index == node && $0.port == Dataflow.mainPort }
        guard !outs.isEmpty else { return false }
        var shared = false
        for e in outs {
            guard case .sink(let sink) = flow.nodes[e.to.index].kind, sink.writesJSONText else { return false }
            if flow.edges.contains(where: { $0.to.index == e.to.index && $0.from.index != node }) { shared = true }
        }
        return shared
    }

    /// Sinks that the streams feeding them write to directly, under the sink's lock,
    /// instead of through rings to a thread of the sink's own: JSON-text sinks fed only by
    /// the main outputs of two or more streams, each of which sends its main output only
    /// to such sinks (the partitions of a keyed stream writing to stdout, say). Each
    /// stream then encodes its batch into its own buffer, in parallel with the others,
    /// and hands the sink the finished lines: no thread, no ring hop, no per-batch buffer
    /// or event array, and nothing allocated on one core and freed on another.
    static func directSinks(_ flow: Dataflow) -> Set<Int> {
        var sinks = Set<Int>()
        for (k, node) in flow.nodes.enumerated() {
            guard case .sink(let sink) = node.kind, sink.writesJSONText else { continue }
            let ins = flow.edges.filter { $0.to.index == k }
            let fromStreamsMain = ins.allSatisfy { e in
                guard case .stream = flow.nodes[e.from.index].kind else { return false }
                return e.port == Dataflow.mainPort
            }
            if ins.count >= 2 && fromStreamsMain { sinks.insert(k) }
        }
        // A stream writes directly only if every reader of its main output is such a
        // sink; a sink stays direct only if all its producers do.
        var changed = true
        while changed {
            changed = false
            for k in Array(sinks) {
                let producers = Set(flow.edges.filter { $0.to.index == k }.map(\.from.index))
                let ok = producers.allSatisfy { p in
                    flow.edges.filter { $0.from.index == p && $0.port == Dataflow.mainPort }.allSatisfy { sinks.contains($0.to.index) }
                }
                if !ok {
                    sinks.remove(k)
                    changed = true
                }
            }
        }
        return sinks
    }

    /// Fused partitioners (`fused`) that deal batches by load, and the sinks that put
    /// their partitions' output back in order. A partitioner deals when it was added with
    /// `dealsByLoad` and every port of each of its partitions that anything reads goes only
    /// to JSON-text sinks fed by nothing but that same port of its partitions: those sinks
    /// can restore the order, as no other producer's output comes between.
    static func dealingPartitioners(
        _ flow: Dataflow, fused: [Int: (source: Int, port: Int)]
    ) -> (dealers: Set<Int>, sequenced: Set<Int>) {
        var dealers = Set<Int>()
        var sequenced = Set<Int>()
        for (p, _) in fused {
            guard case .partition(_, _, deals: true) = flow.nodes[p].kind else { continue }
            let workers = Set(flow.edges.filter { $0.from.index == p }.map(\.to.index))
            var sinks = Set<Int>()
            var ok = true
            for w in workers {
                guard case .stream = flow.nodes[w].kind, flow.edges.filter({ $0.to.index == w }).count == 1 else {
                    ok = false
                    break
                }
                for e in flow.edges where e.from.index == w {
                    guard case .sink(let sink) = flow.nodes[e.to.index].kind, sink.writesJSONText,
                        flow.edges.allSatisfy({ $0.to.index != e.to.index || (workers.contains($0.from.index) && $0.port == e.port) })
                    else {
                        ok = false
                        break
                    }
                    sinks.insert(e.to.index)
                }
                if !ok { break }
            }
            if ok {
                dealers.insert(p)
                sequenced.formUnion(sinks)
            }
        }
        return (dealers, sequenced)
    }

    /// Partitioners that run on the thread of the source feeding them, by node index:
    /// the source and its port. A partitioner qualifies when its only input is one
    /// source port that feeds nothing else, and each of its ports feeds one node. Hashing
    /// a key on the thread that read the event saves a thread and a ring hop per batch,
    /// which on a small machine is the difference between two workers scaling or not.
    static func fusedPartitioners(_ flow: Dataflow) -> [Int: (source: Int, port: Int)] {
        var fused: [Int: (source: Int, port: Int)] = [:]
        for (i, node) in flow.nodes.enumerated() {
            guard case .partition(_, let count, _) = node.kind else { continue }
            let ins = flow.edges.filter { $0.to.index == i }
            guard ins.count == 1, case .source = flow.nodes[ins[0].from.index].kind else { continue }
            let source = ins[0].from.index
            let port = ins[0].port
            guard flow.edges.filter({ $0.from.index == source && $0.port == port }).count == 1 else { continue }
            let outs = flow.edges.filter { $0.from.index == i }
            guard outs.count == count, Set(outs.map(\.port)) == Set(0..<count) else { continue }
            fused[i] = (source, port)
        }
        return fused
    }

    /// `events` split into `count` partitions by key hash, each with its raw bytes in a
    /// buffer of its own (``Event/repacked(_:)``), so that workers never share one.
    static func partitioned(_ events: [Event], _ count: Int, _ hash: (Event) -> UInt64) -> [[Event]] {
        // Where each event goes first, then each part built once, its raw events' bytes
        // copied into the part's own buffer (no intermediate copies of the events).
        var target: [Int] = []
        target.reserveCapacity(events.count)
        var sizes = Array(repeating: 0, count: count)
        // Borrowed through a buffer pointer: no copy (and reference counting) per event.
        events.withUnsafeBufferPointer { batch in
            for j in batch.indices {
                let i = Int(hash(batch[j]) % UInt64(count))
                target.append(i)
                sizes[i] += 1
            }
        }
        return (0..<count).map { i in
            sizes[i] == 0 ? [] : Event.repacked(events, where: target, equals: i, count: sizes[i])
        }
    }

    deinit {
        if wake.read >= 0 { _ = close(wake.read) }
        if wake.write >= 0 { _ = close(wake.write) }
    }

    /// Stops the run: sources stop reading (a source waiting for input returns at once),
    /// what was read flows through the steps and is written, every output is flushed and
    /// closed, and the run finishes. The end of input is then not an end of time: open
    /// windows, pending timeouts and held events are dropped, not fired (as in Flink,
    /// where a cancelled job fires nothing). Safe to call from any thread, any number of
    /// times.
    public func cancel() {
        stopped.store(true, ordering: .relaxed)
        stopSources()
    }

    /// Tells sources to stop reading and wakes any that wait for input (and sinks that
    /// wait for a consumer, ``RunCancellable``).
    private func stopSources() {
        cancelled.store(true, ordering: .relaxed)
        // Taken once: later calls find nil and do nothing more.
        guard let handlers = cancelHandlers.withLock({ h in defer { h = nil }; return h }) else { return }
        for h in handlers { h() }
        if wake.write >= 0 {
            var byte: UInt8 = 1
            _ = write(wake.write, &byte, 1)
        }
    }

    /// Runs `body` when ``cancel()`` is called or the run fails (at once if it already
    /// was).
    func onCancel(_ body: @escaping @Sendable () -> Void) {
        let now = cancelHandlers.withLock { h -> Bool in
            guard h != nil else { return true }
            h?.append(body)
            return false
        }
        if now { body() }
    }

    /// The read end of the cancellation pipe (-1 if there is none).
    var cancellationFD: Int32 { wake.read }

    /// True once ``cancel()`` was called (not merely a failure).
    var isStopped: Bool { stopped.load(ordering: .relaxed) }

    /// True once ``cancel()`` was called or a node failed.
    public var isCancelled: Bool { cancelled.load(ordering: .relaxed) }

    /// Blocks until every node has finished; returns how the run ended.
    public func wait() -> Outcome {
        group.wait()
        return failure.withLock { $0 }
    }

    /// Calls `body` on a queue when every node has finished.
    public func onFinish(_ body: @escaping @Sendable (Outcome) -> Void) {
        group.notify(queue: .global()) { [self] in body(failure.withLock { $0 }) }
    }

    /// Totals; complete after ``wait()`` returns.
    public var totals: Report { report.withLock { $0 } }

    private func fail(_ outcome: Outcome) {
        failure.withLock {
            // The first failure is the one to report; a closed output does not hide it.
            if case .completed = $0 { $0 = outcome }
        }
        stopSources()
    }

    private func noteUnread(_ counts: [String: Int]) {
        guard !counts.isEmpty else { return }
        report.withLock { r in
            for (k, v) in counts { r.unread[k, default: 0] += v }
        }
    }

    // MARK: Stage loops

    private func runSource(_ source: any EventSource, _ time: TimePolicy?, _ ports: OutputPorts) {
        let out = SourceOutput(ports: ports, execution: self, time: time)
        do {
            try source.run(out)
        } catch {
            fail(.failed("\(source.name): \(error)"))
        }
        ports.broadcast(.end)
        noteUnread(ports.unread)
        report.withLock { $0.sourceEvents[source.name, default: 0] += out.count }
    }

    private func runStream(
        _ name: String, _ chain: StepChain, _ inputs: InputMerge, _ ports: OutputPorts, tick: UInt64?, encode: Bool,
        direct: [Int: [SharedSink]]
    ) {
        var watermark = Int64.min
        var sides: [(port: Int, event: Event)] = []
        var scratch: [UInt8] = []
        let mainDirect = direct[Dataflow.mainPort] ?? []
        let allDirect = direct.keys.sorted().flatMap { direct[$0] ?? [] }
        // Consumed, so that encoding replaces storages in the batch itself rather than
        // in a copy of it. `seq`: the number of a dealt batch, whose output goes to
        // sinks that put batches back in order (every port then has its sinks there).
        func send(_ main: consuming [Event], seq: Int? = nil) {
            if let seq {
                sendSequenced(main, seq: seq)
                return
            }
            if !main.isEmpty {
                if !mainDirect.isEmpty {
                    // Every reader of the main output is a shared sink: lines to them.
                    let count = main.count
                    scratch.removeAll(keepingCapacity: true)
                    Event.writeLines(main, into: &scratch)
                    for sink in mainDirect { writeDirect(sink, scratch, count: count) }
                } else if encode {
                    ports.send(Dataflow.mainPort, .events(Event.encoded(main, scratch: &scratch)))
                } else {
                    ports.send(Dataflow.mainPort, .events(main))
                }
            }
            if !sides.isEmpty {
                ports.sendSides(sides)
                sides.removeAll(keepingCapacity: true)
            }
        }
        // Each sink of each port gets this batch's lines, or an empty entry, so that it
        // can move on to the next batch number.
        func sendSequenced(_ main: consuming [Event], seq: Int) {
            for (port, sinks) in direct {
                scratch.removeAll(keepingCapacity: true)
                var count = 0
                if port == Dataflow.mainPort {
                    count = main.count
                    Event.writeLines(main, into: &scratch)
                    main = []
                } else {
                    var lines: [Event] = []
                    for s in sides where s.port == port { lines.append(s.event) }
                    count = lines.count
                    Event.writeLines(lines, into: &scratch)
                }
                for sink in sinks { writeDirect(sink, scratch, count: count, seq: seq) }
            }
            // Ports nothing reads are only counted.
            if !main.isEmpty { ports.send(Dataflow.mainPort, .events(main)) }
            let unread = sides.filter { direct[$0.port] == nil }
            if !unread.isEmpty { ports.sendSides(unread) }
            sides.removeAll(keepingCapacity: true)
        }
        // Event by event time only where it can be exact: one input, and steps that care.
        let timed = chain.usesWatermarks && inputs.rings.count == 1
        // Before sleeping for lack of input, push out what the shared sinks hold, as a
        // sink's own thread would when it catches up.
        while let (_, msg) = inputs.next(tick: tick, onIdle: { for sink in allDirect { flushDirect(sink) } }) {
            var merged = inputs.watermark
            switch msg {
            case .events(let events):
                send(chain.process(events, watermark: watermark, sides: &sides, stamped: timed))
            case .sequenced(let events, let seq):
                send(chain.process(events, watermark: watermark, sides: &sides, stamped: timed), seq: seq)
            case .watermark, .end:
                break
            case nil:
                // An idle tick in processing-time mode: time moves on without input.
                if merged != Int64.max { merged = max(merged, TimePolicy.nowMillis()) }
            }
            if let stop = chain.stopRequested {
                fail(.failed("stream '\(name)', step \(stop)"))
                inputs.closeAll()
                break
            }
            // Stopped by ``cancel()``: the end of input fires nothing.
            if merged == Int64.max && isStopped { break }
            if merged > watermark {
                watermark = merged
                send(chain.advance(watermark: watermark, sides: &sides))
                if watermark == Int64.max { break }
                ports.broadcast(.watermark(watermark))
            }
        }
        ports.broadcast(.end)
        for sink in allDirect { finishDirect(sink) }
        noteUnread(ports.unread)
        report.withLock { $0.steps[name] = chain.stats }
    }

    /// The outcome a sink's error ends the run with.
    private func failSink(_ sink: any EventSink, _ error: any Error) {
        if case SinkError.closed = error { fail(.outputClosed) } else { fail(.failed("\(sink.name): \(error)")) }
    }

    /// Hands `count` encoded lines to a shared sink. After a failure the sink takes
    /// nothing more (the run is failing, and the sources are stopping). With `seq` (a
    /// dealt batch's number), lines that come before their turn wait in the sink until
    /// the batches before them have been written.
    private func writeDirect(_ shared: SharedSink, _ lines: [UInt8], count: Int, seq: Int? = nil) {
        shared.lock.withLock { _ in
            guard !shared.broken else { return }
            if let seq, shared.sequenced {
                guard seq == shared.next else {
                    shared.pending[seq] = (lines, count)
                    return
                }
                shared.next += 1
                writeLocked(shared, lines, count: count)
                while !shared.broken, let (waiting, n) = shared.pending.removeValue(forKey: shared.next) {
                    shared.next += 1
                    writeLocked(shared, waiting, count: n)
                }
                return
            }
            writeLocked(shared, lines, count: count)
        }
    }

    /// The write itself; the caller holds the sink's lock.
    private func writeLocked(_ shared: SharedSink, _ lines: [UInt8], count: Int) {
        guard count > 0, !shared.broken else { return }
        do {
            try lines.withUnsafeBytes { try shared.sink.writeLines($0, count: count) }
            shared.count += count
            eventsOut.wrappingIncrement(by: count, ordering: .relaxed)
        } catch {
            shared.broken = true
            failSink(shared.sink, error)
        }
    }

    private func flushDirect(_ shared: SharedSink) {
        shared.lock.withLock { _ in
            guard !shared.broken else { return }
            do { try shared.sink.flush() } catch {
                shared.broken = true
                failSink(shared.sink, error)
            }
        }
    }

    /// One producer of a shared sink is done; the last one flushes and closes it.
    private func finishDirect(_ shared: SharedSink) {
        let last: Int? = shared.lock.withLock { _ in
            shared.remaining -= 1
            guard shared.remaining == 0 else { return nil }
            // Every producer has written all its batches, so nothing should still wait
            // for its turn; if anything does, it goes out in order rather than nowhere.
            for seq in shared.pending.keys.sorted() {
                if let (lines, n) = shared.pending.removeValue(forKey: seq) { writeLocked(shared, lines, count: n) }
            }
            if !shared.broken {
                do {
                    try shared.sink.flush()
                    try shared.sink.close()
                } catch {
                    shared.broken = true
                    failSink(shared.sink, error)
                }
            }
            return shared.count
        }
        guard let last else { return }
        let name = shared.sink.name
        report.withLock { $0.sinkEvents[name, default: 0] += last }
        group.leave()
    }

    private func runPartitioner(_ hash: @Sendable (Event) -> UInt64, _ count: Int, _ inputs: InputMerge, _ ports: OutputPorts) {
        var watermark = Int64.min
        while case (_, let msg?)? = inputs.next() {
            if case .events(let events) = msg {
                for (i, part) in Self.partitioned(events, count, hash).enumerated() where !part.isEmpty {
                    ports.send(i, .events(part))
                }
            }
            let merged = inputs.watermark
            if merged > watermark {
                watermark = merged
                if watermark == Int64.max { break }
                ports.broadcast(.watermark(watermark))
            }
        }
        ports.broadcast(.end)
    }

    private func runSink(_ sink: any EventSink, _ inputs: InputMerge) {
        var count = 0
        var broken = false
        func handle(_ error: any Error) {
            broken = true
            if case SinkError.closed = error { fail(.outputClosed) } else { fail(.failed("\(sink.name): \(error)")) }
            inputs.closeAll()
        }
        while !broken, case (_, let msg?)? = inputs.next(onIdle: { do { try sink.flush() } catch { handle(error) } }) {
            guard !broken, case .events(let events) = msg else { continue }
            do {
                try sink.write(events)
                count += events.count
                eventsOut.wrappingIncrement(by: events.count, ordering: .relaxed)
            } catch {
                handle(error)
            }
        }
        if !broken {
            do {
                try sink.flush()
                try sink.close()
            } catch {
                handle(error)
            }
        }
        report.withLock { $0.sinkEvents[sink.name, default: 0] += count }
    }
}

/// What a source uses to hand over events. It stamps event time and sends watermarks
/// as the source's ``TimePolicy`` says.
public final class SourceOutput {
    let ports: OutputPorts
    unowned let execution: Execution
    let time: TimePolicy?
    var count = 0
    var maxTime = Int64.min
    var lastWatermark = Int64.min
    /// ``stampIngestTime`` as it was when the run started (one read, not one per batch).
    let stampIngest: Bool

    /// Latency stamping for `sluice bench`: while on, sources started afterwards set
    /// ``Event/ingestNanos`` on every event they emit (one clock read per batch). Off by
    /// default, so ordinary runs pay nothing.
    public static let stampIngestTime = ManagedAtomic<Bool>(false)

    init(ports: OutputPorts, execution: Execution, time: TimePolicy?) {
        self.ports = ports
        self.execution = execution
        self.time = time
        stampIngest = SourceOutput.stampIngestTime.load(ordering: .relaxed)
    }

    /// True when the run is being stopped: return from `run` soon.
    public var isCancelled: Bool { execution.isCancelled }

    /// A descriptor that turns readable when the run is cancelled (-1 if there is none):
    /// a source that blocks reading a pipe or terminal polls it beside its input, so
    /// that a stop does not wait for the next line.
    package var cancellationFD: Int32 { execution.cancellationFD }

    /// Runs `body` once when the run is cancelled (at once if it already was), for
    /// sources that wait for input some other way.
    package func onCancel(_ body: @escaping @Sendable () -> Void) { execution.onCancel(body) }

    /// Sends good events downstream (waits while downstream is full: backpressure).
    /// Events whose time cannot be read go to ``SourcePort/malformed`` with the reason.
    public func emit(_ events: consuming [Event]) {
        guard !events.isEmpty else { return }
        var watermark = lastWatermark
        switch time {
        case nil:
            break
        case .processingTime:
            let now = TimePolicy.nowMillis()
            for i in events.indices { events[i].time = now }
            watermark = now
        case .eventTime(let assign, let lateness):
            var bad: [Event] = []
            var kept = 0
            for i in events.indices {
                switch assign(events[i]) {
                case .success(let t):
                    events[i].time = t
                    events[i].watermark = maxTime == Int64.min ? lastWatermark : max(lastWatermark, maxTime &- lateness)
                    if t > maxTime { maxTime = t }
                    if kept != i { events[kept] = events[i] }
                    kept += 1
                case .failure(let e):
                    bad.append(Event.wrapError(events[i], step: "time", message: e.message))
                }
            }
            events.removeLast(events.count - kept)
            if !bad.isEmpty { emit(port: SourcePort.malformed, bad) }
            if maxTime != Int64.min { watermark = maxTime &- lateness }
        }
        if !events.isEmpty {
            if stampIngest {
                let now = DispatchTime.now().uptimeNanoseconds
                for i in events.indices { events[i].ingestNanos = now }
            }
            count += events.count
            execution.eventsIn.wrappingIncrement(by: events.count, ordering: .relaxed)
            ports.send(SourcePort.main, .events(events))
        }
        if watermark > lastWatermark {
            lastWatermark = watermark
            ports.broadcast(.watermark(watermark))
        }
    }

    /// Sends events to a side port (``SourcePort/malformed``).
    public func emit(port: Int, _ events: [Event]) {
        guard !events.isEmpty else { return }
        ports.send(port, .events(events))
    }

    /// Announces that no later event will be earlier than `time` (epoch ms).
    public func watermark(_ time: Int64) {
        guard time > lastWatermark else { return }
        lastWatermark = time
        ports.broadcast(.watermark(time))
    }
}

/// A sink written by the streams that feed it (``Execution/directSinks(_:)``), each in
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

/// The rings a node writes, by port.
final class OutputPorts {
    var rings: [Int: [SPSCRing<Message>]]
    let names: [Int: String]
    var unread: [String: Int] = [:]
    /// A fused partitioner (see ``Execution/fusedPartitioners(_:)``): events sent on this
    /// port go to the ring their key hash picks.
    var split: (port: Int, hash: @Sendable (Event) -> UInt64)?
    /// The fused partitioner deals numbered batches by load instead of hashing keys
    /// (``Execution/dealingPartitioners(_:fused:)``).
    var deals = false
    /// The next dealt batch's number, and the partition to try first on a tie.
    var dealt = 0
    /// Rings into sinks (they skip watermarks).
    private let toSinks: Set<ObjectIdentifier>

    init(rings: [Int: [SPSCRing<Message>]], names: [Int: String], toSinks: Set<ObjectIdentifier> = []) {
        self.rings = rings
        self.names = names
        self.toSinks = toSinks
    }

    func send(_ port: Int, _ msg: Message) {
        if deals, let split, split.port == port, case .events(let events) = msg, let rs = rings[port], !rs.isEmpty {
            deal(.sequenced(events, dealt), to: rs)
            dealt += 1
            return
        }
        if let split, split.port == port, case .events(let events) = msg, let rs = rings[port], !rs.isEmpty {
            for (i, part) in Execution.partitioned(events, rs.count, split.hash).enumerated() where !part.isEmpty {
                rs[i].push(.events(part))
            }
            return
        }
        guard let rs = rings[port], !rs.isEmpty else {
            if case .events(let es) = msg {
                unread[names[port] ?? "port \(port)", default: 0] += es.count
            }
            return
        }
        for r in rs { r.push(msg) }
    }

    /// Pushes `msg` to the ring with the fewest messages queued (ties go round, starting
    /// after the last one chosen); while every ring is full, sleeps until one has room.
    /// A partition on a slower core drains its ring more slowly and so is given less.
    func deal(_ msg: Message, to rs: [SPSCRing<Message>]) {
        let parker = rs[0].producerParker
        while true {
            var best = -1
            var least = Int.max
            for k in 0..<rs.count {
                let i = (dealt + k) % rs.count
                let c = rs[i].count
                if c < least && c < rs[i].capacity {
                    least = c
                    best = i
                }
            }
            if best >= 0, rs[best].tryPush(msg) { return }
            parker.prepare()
            if rs.contains(where: { $0.count < $0.capacity }) {
                parker.cancel()
                continue
            }
            parker.park()
        }
    }

    func sendSides(_ sides: [(port: Int, event: Event)]) {
        var byPort: [Int: [Event]] = [:]
        for (p, e) in sides { byPort[p, default: []].append(e) }
        for p in byPort.keys.sorted() {
            if let es = byPort[p] { send(p, .events(es)) }
        }
    }

    /// Sends `msg` on every port. A watermark skips the rings into sinks: a sink ignores
    /// it, and pushing it would wake the sink's thread for nothing. That wake-up is not
    /// free on a busy machine: the woken thread preempts a worker (on two cores each
    /// batch's watermark cost every worker a context switch per sink).
    func broadcast(_ msg: Message) {
        if case .watermark = msg {
            for (_, rs) in rings { for r in rs where !toSinks.contains(ObjectIdentifier(r)) { r.push(msg) } }
            return
        }
        for (_, rs) in rings { for r in rs { r.push(msg) } }
    }
}

/// The rings a node reads, merged: takes whatever is ready, tracks each input's
/// watermark and end.
final class InputMerge {
    let rings: [SPSCRing<Message>]
    let parker: Parker
    var marks: [Int64]
    var ended: [Bool]
    var remaining: Int
    var next = 0
    var closed = false

    init(rings: [SPSCRing<Message>], parker: Parker) {
        self.rings = rings
        self.parker = parker
        marks = Array(repeating: Int64.min, count: rings.count)
        ended = Array(repeating: false, count: rings.count)
        remaining = rings.count
    }

    /// The merged watermark: the least over inputs still open (+inf when all ended).
    var watermark: Int64 {
        var m = Int64.max
        for i in rings.indices where !ended[i] { m = min(m, marks[i]) }
        return m
    }

    func poll() -> (Int, Message)? {
        for k in 0..<rings.count {
            let i = (next + k) % rings.count
            if ended[i] { continue }
            if let msg = rings[i].tryPop() {
                next = (i + 1) % rings.count
                switch msg {
                case .watermark(let w): marks[i] = max(marks[i], w)
                case .end:
                    ended[i] = true
                    remaining -= 1
                case .events, .sequenced: break
                }
                return (i, msg)
            }
        }
        return nil
    }

    /// The next message from any input, or nil when all have ended (or ``closeAll()``
    /// was called). `onIdle` runs before the node sleeps for lack of input. With `tick`,
    /// a wait of that many nanoseconds without input returns `(-1, nil)`.
    func next(tick: UInt64? = nil, onIdle: () -> Void = {}) -> (Int, Message?)? {
        while remaining > 0 && !closed {
            if let m = poll() { return (m.0, m.1) }
            onIdle()
            // `onIdle` may have given up on the inputs (a sink whose flush failed).
            if closed { return nil }
            parker.prepare()
            if rings.indices.contains(where: { !ended[$0] && rings[$0].count > 0 }) {
                parker.cancel()
            } else if let tick {
                if !parker.park(timeoutNanos: tick) { return (-1, nil) }
            } else {
                parker.park()
            }
        }
        return nil
    }

    /// Stops reading: producers will no longer wait on these rings, and ``next`` ends.
    func closeAll() {
        closed = true
        for r in rings { r.close() }
    }
}
