import Atomics
import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a run ended.
public enum RunOutcome: Sendable, Equatable {
    /// Everything was read and written.
    case completed
    /// An output went away (closed pipe, or an ``AsyncOutput`` consumer that stopped
    /// reading): stopped quietly.
    case outputClosed
    /// A source or sink failed, or a step asked to stop the run.
    case failed(String)
}

/// A started dataflow: the runtime's main type.
///
/// `init` takes the ``ExecutionPlan`` of the flow, makes one ring per planned edge and
/// starts a thread per stage (``StageThread``); the stage loops are in `Stages.swift`.
/// Batches flow like this (a keyed stream of two partitions, fused and dealt, writing a
/// shared sink; a side output to a sink with its own thread):
///
/// ```
///  ┌ thread in:in ──────────────────────┐          ┌ thread st:main#0 ───────────────┐
///  │ FileSource.run ─▶ SourceOutput.emit │──ring──▶ │ InputMerge.next                 │
///  │   stamps time, watermarks           │          │ StepChain.process / advance     │──lines──┐
///  │   OutputPorts.send:                 │          │ encode batch ─▶ writeDirect     │         ▼
///  │   fused partitioner: hash each      │          └─────────────────────────────────┘   SharedSink
///  │   event, or deal whole batches to   │          ┌ thread st:main#1 ───────────────┐   (lock; puts
///  │   the least loaded ring (numbered)  │──ring──▶ │ same, its own steps' copy       │──lines──▶ dealt
///  └─────────────────────────────────────┘          └───────────────┬─────────────────┘   batches back
///                                                     side port     │ ring                in order)
///                                                                    ▼
///                                                   ┌ thread out:main.rejected ────────┐
///                                                   │ InputMerge.next ─▶ sink.write    │
///                                                   │ flush when idle, close at end    │
///                                                   └──────────────────────────────────┘
/// ```
///
/// Messages (``Message``) carry batches, watermarks and the end in-band, so a watermark
/// never overtakes the events before it. A full ring makes its producer wait
/// (backpressure all the way to the reader); an empty one parks its consumer
/// (``Parker``). The end of input reaches every stage as `.end`; a stage whose inputs
/// have all ended advances its steps to the end of time (firing what is open) and
/// passes the end on, unless the run was cancelled (``cancel()``), which fires nothing.
/// The run is over when every stage's thread has finished (``wait()``).
///
/// With a ``CheckpointCoordinator``, checkpoint barriers (``Message/barrier(_:)``) travel
/// the same rings: sources send them between batches, ``InputMerge`` aligns them, stream
/// stages save their steps' state as one passes, sinks commit their output (see
/// docs/checkpoints.md).
@usableFromInline package final class Execution: Sendable {
    /// Whether the run is over and how it ended.
    package typealias Outcome = RunOutcome

    /// Totals after the run.
    @usableFromInline package struct Report: Sendable {
        /// Per stream, per step counters.
        @usableFromInline package var steps: [String: [StepStats]]
        /// Events emitted on ports that no edge reads, by `node.port` name.
        @usableFromInline package var unread: [String: Int]
        /// Events each source produced (main port).
        @usableFromInline package var sourceEvents: [String: Int]
        /// Events each sink took.
        @usableFromInline package var sinkEvents: [String: Int]
    }

    let group = DispatchGroup()
    /// Sources to tell when the run is over (``RunEndListener``).
    let endListeners: [any RunEndListener]
    private let cancelled = ManagedAtomic<Bool>(false)
    /// ``cancel()`` was called: the end of input does not fire what is open.
    private let stopped = ManagedAtomic<Bool>(false)
    /// Called once by ``cancel()``, so that sources waiting for input return.
    private let cancelHandlers = Mutex<[@Sendable () -> Void]?>([])
    /// A pipe whose read end turns readable on ``cancel()``: sources blocked reading a
    /// pipe or terminal poll it beside their input (see ``SourceOutput/cancellationFD``).
    private let wake: (read: Int32, write: Int32)
    let failure = Mutex<Outcome>(.completed)
    let report = Mutex<Report>(Report(steps: [:], unread: [:], sourceEvents: [:], sinkEvents: [:]))
    /// Events read by all sources so far (for progress lines).
    @usableFromInline package let eventsIn = ManagedAtomic<Int>(0)
    /// Events written by all sinks so far (for progress lines).
    @usableFromInline package let eventsOut = ManagedAtomic<Int>(0)
    /// Live figures for the metrics endpoint, when it is on (docs/observability.md).
    package let metrics: RunMetrics?
    /// With checkpoints: the coordinator the stages report to.
    package let checkpoints: CheckpointCoordinator?

    /// Starts every node of `flow` on its own thread. `timing` turns on per-step clocks;
    /// `metrics` receives live figures (``RunMetrics``). With `checkpoints`, sources send
    /// barriers when it asks, and every source, stream stage and sink reports its part of
    /// each checkpoint to it.
    package init(
        _ flow: Dataflow, timing: Bool = false, metrics: RunMetrics? = nil, checkpoints: CheckpointCoordinator? = nil
    ) {
        self.metrics = metrics
        self.checkpoints = checkpoints
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
        let plan = ExecutionPlan(flow, checkpointing: checkpoints != nil)
        endListeners = flow.nodes.compactMap { node in
            if case .source(let source, _) = node.kind { return source as? any RunEndListener }
            return nil
        }
        if let checkpoints {
            var sources: [String] = []
            var stages: [String] = []
            var sinks: [String] = []
            for node in flow.nodes {
                switch node.kind {
                case .source(let source, _):
                    sources.append(node.name)
                    if let l = source as? any CheckpointListener { checkpoints.addListener(l) }
                case .stream: stages.append(node.name)
                case .sink(let sink):
                    sinks.append(node.name)
                    if let l = sink as? any CheckpointListener { checkpoints.addListener(l) }
                case .partition: break
                }
            }
            checkpoints.expect(sources: sources, stages: stages, sinks: sinks)
            if let metrics {
                checkpoints.onWritten { seconds, bytes in metrics.recordCheckpoint(seconds: seconds, bytes: bytes) }
            }
        }
        let fused = plan.fused
        // Sinks the streams feeding them write to themselves (see `directSinks`), and
        // each stream's list of them.
        var shared: [Int: SharedSink] = [:]
        for k in plan.sharedSinks {
            guard case .sink(let sink) = flow.nodes[k].kind else { continue }
            // Handed over: no stage thread is started for this sink, so only the
            // shared sink's lock reaches it from now on.
            nonisolated(unsafe) let handed = sink
            let s = SharedSink(
                handed, producers: flow.edges.filter { $0.to.index == k }.count,
                sequenced: plan.sequencedSinks.contains(k))
            shared[k] = s
            metrics?.addOutput(
                sink.name, bytes: (sink as? any CountsBytes)?.byteCounter, events: { s.state.withLock { $0.count } })
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
            metrics?.addEdge(from: flow.nodes[e.from.index].name, to: flow.nodes[e.to.index].name, ring: ring)
            outputs[e.from.index][e.port, default: []].append(ring)
            if case .sink = flow.nodes[e.to.index].kind { toSinks.insert(ObjectIdentifier(ring)) }
        }
        for node in flow.nodes {
            if case .sink(let sink) = node.kind, let c = sink as? any RunCancellable { onCancel { c.runCancelled() } }
        }
        // Every stage joins the group before any thread starts: a stream that finishes at
        // once may be the last producer of a shared sink and leave for it, which must not
        // happen before the sink has entered (the group would seem done, or go negative).
        let group = self.group
        for i in flow.nodes.indices where fused[i] == nil { group.enter() }
        checkpoints?.startTimer()
        for (i, node) in flow.nodes.enumerated() {
            if fused[i] != nil { continue }
            let port = OutputPorts(rings: outputs[i], names: node.portNames, toSinks: toSinks)
            for (p, f) in fused where f.source == i {
                guard case .partition(let makeHash, let count, _) = flow.nodes[p].kind else { continue }
                let rings = (0..<count).compactMap { outputs[p][$0]?.first }
                port.rings[f.port] = rings
                port.pendingSplit = (f.port, makeHash)
                port.deals = plan.dealers.contains(p)
            }
            let ins = InputMerge(rings: inputs[i], parker: consumerParkers[i])
            // Written by its producers; the last of them leaves the group.
            if case .sink = node.kind, shared[i] != nil { continue }
            let io = Handoff(value: (port, ins, direct[i]))
            do throws(StageThread.StartError) {
                switch node.kind {
                case .source(let src, let time):
                    let counted = src as? any CountsBytes
                    let counters = metrics?.addInput(
                        node.name, bytes: counted?.byteCounter, expectedBytes: counted?.expectedBytes,
                        ports: Array(node.portNames.values))
                    let h = Handoff(value: src)
                    let restored = flow.restoredSources[i]
                    try StageThread.start(name: "in:" + node.name, role: .io) { [self] in
                        let (ports, _, _) = io.take()
                        ports.startSplitting()
                        runSource(h.take(), time, ports, counters: counters, restored: restored)
                        group.leave()
                    }
                case .stream(let makeChain):
                    let name = node.name
                    if metrics?.measuresStages == true { metrics?.addStream(name, portNames: node.portNames) }
                    let tick = flow.processingTimeTick
                    let encode = plan.encoding.contains(i)
                    let identity = checkpoints == nil ? nil : flow.stages[i]
                    try StageThread.start(name: "st:" + node.name) { [self] in
                        let (ports, inputs, sinks) = io.take()
                        let chain = makeChain()
                        chain.timing = timing
                        runStream(
                            name, chain, inputs, ports, tick: tick, encode: encode, direct: sinks, identity: identity)
                        group.leave()
                    }
                case .partition(let makeHash, let count, _):
                    try StageThread.start(name: "part:" + node.name) { [self] in
                        let (ports, inputs, _) = io.take()
                        runPartitioner(makeHash(), count, inputs, ports)
                        group.leave()
                    }
                case .sink(let sink):
                    metrics?.addOutput(sink.name, bytes: (sink as? any CountsBytes)?.byteCounter)
                    let h = Handoff(value: sink)
                    try StageThread.start(name: "out:" + node.name, role: .io) { [self] in
                        let (_, inputs, _) = io.take()
                        runSink(h.take(), inputs)
                        group.leave()
                    }
                }
            } catch {
                // The run fails; the stage that has no thread lets the others finish.
                fail(.failed(error.description))
                let (ports, inputs, sinks) = io.take()
                abandon(inputs, ports, direct: sinks)
                group.leave()
            }
        }
        if let metrics {
            metrics.setPhase(.running)
            group.notify(queue: .global()) { metrics.setPhase(.finished) }
        }
    }

    /// A stage that could not be started, done on the spot without blocking: producers
    /// into it no longer wait, the stages it feeds see the end, and the shared sinks it
    /// writes count it as finished.
    private func abandon(_ inputs: InputMerge, _ ports: OutputPorts, direct: [Int: [SharedSink]]) {
        inputs.closeAll()
        ports.broadcast(.end)
        for sinks in direct.values { for sink in sinks { finishDirect(sink) } }
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
    ///
    /// With checkpoints, the sources first send the barrier of a final checkpoint (a
    /// savepoint) where they stop, so that a restart resumes exactly there.
    @usableFromInline package func cancel() {
        if let checkpoints, !isStopped, !isCancelled { checkpoints.requestFinal() }
        stopped.store(true, ordering: .relaxed)
        stopSources()
    }

    /// Tells sources to stop reading and wakes any that wait for input (and sinks that
    /// wait for a consumer, ``RunCancellable``).
    private func stopSources() {
        cancelled.store(true, ordering: .relaxed)
        // Taken once: later calls find nil and do nothing more.
        guard
            let handlers = cancelHandlers.withLock({ h in
                defer { h = nil }; return h
            })
        else { return }
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
    @usableFromInline package var isCancelled: Bool { cancelled.load(ordering: .relaxed) }

    /// Blocks until every node has finished; returns how the run ended.
    @usableFromInline package func wait() -> RunOutcome {
        group.wait()
        checkpoints?.stop()
        let outcome = failure.withLock { $0 }
        tellEndListeners(outcome)
        return outcome
    }

    /// Tells the sources that listen (``RunEndListener``) that every node has finished.
    func tellEndListeners(_ outcome: RunOutcome) {
        for l in endListeners { l.runEnded(outcome) }
    }

    /// Calls `body` on a Dispatch worker once every node's thread has finished (and
    /// every checkpoint is written).
    @usableFromInline package func onFinish(_ body: @escaping @Sendable (RunOutcome) -> Void) {
        group.notify(queue: .global()) { [self] in
            checkpoints?.stop()
            let outcome = failure.withLock { $0 }
            tellEndListeners(outcome)
            body(outcome)
        }
    }

    /// Totals; complete after ``wait()`` returns.
    @usableFromInline package var totals: Report { report.withLock { $0 } }

    func fail(_ outcome: Outcome) {
        failure.withLock {
            // The first failure is the one to report; a closed output does not hide it.
            if case .completed = $0 { $0 = outcome }
        }
        if case .failed(let message) = outcome { metrics?.setPhase(.failed(message)) }
        stopSources()
    }

    func noteUnread(_ counts: [String: Int]) {
        guard !counts.isEmpty else { return }
        report.withLock { r in
            for (k, v) in counts { r.unread[k, default: 0] += v }
        }
    }
}
