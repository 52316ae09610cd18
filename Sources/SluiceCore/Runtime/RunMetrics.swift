import Atomics
import Dispatch
import Synchronization

/// Live figures of a run, for the metrics endpoint (docs/observability.md): the one hook
/// the stage loops have for observability.
///
/// Counting stays off the hot path: each stage keeps plain counters of its own (the
/// steps' ``StepStats`` and the locals of its loop) and copies them here under a lock at
/// most every ``publishInterval`` (and once at its end), reading the clock once per batch
/// to know when. Sources and sinks add to an atomic once per batch, as the progress
/// counters do. Readers (a scrape, `sluice top`) see figures at most that old.
///
/// A run without a ``RunMetrics`` (``RunOptions`` has none unless `--metrics` or the
/// progress bar asks) pays one nil check per batch.
@usableFromInline package final class RunMetrics: Sendable {
    /// How often a stage copies its counters here, at most (200 ms).
    package static let publishInterval: UInt64 = 200_000_000

    /// The `pipeline` label.
    package let pipeline: String
    /// Event time (lag is the largest event time seen minus the watermark) or processing
    /// time (lag is the wall clock minus the watermark).
    package let eventTime: Bool
    /// False for a run that only needs byte counts (the progress bar): the stage loops
    /// then skip their figures entirely.
    package let measuresStages: Bool
    /// Live sample taps (`/tap`).
    package let taps = TapHub()

    /// What one stream stage last published.
    package struct StreamFigures: Sendable {
        /// The stream's name (without a partition's `#N`).
        package var stream: String
        package var steps: [StepStats] = []
        /// Each step's ``Step/stateSize``: open windows, partial matches, held events.
        package var stateSizes: [Int] = []
        /// Events sent on each side output, by side name (`rejected`, a route branch).
        package var sides: [String: Int] = [:]
        /// Events sent on the main output.
        package var eventsOut = 0
        /// The stream's watermark (`Int64.min` before the first).
        package var watermark = Int64.min
        /// The largest event time the stream has seen (`Int64.min` before the first).
        package var maxEventTime = Int64.min
    }

    /// An input's counters: added to once per batch by its source.
    package final class InputCounters: Sendable {
        package let name: String
        package let events = ManagedAtomic<Int>(0)
        package let malformed = ManagedAtomic<Int>(0)
        /// Bytes read, where the source counts them.
        package let bytes: ByteCounter?
        /// The size of what it reads (regular files), for the progress bar.
        package let expectedBytes: Int?
        /// Set when the source has finished reading.
        package let ended = ManagedAtomic<Bool>(false)

        init(name: String, bytes: ByteCounter?, expectedBytes: Int?) {
            self.name = name
            self.bytes = bytes
            self.expectedBytes = expectedBytes
        }
    }

    /// What one sink last published.
    package struct OutputFigures: Sendable {
        package var events = 0
        /// Latencies (source hand-off to sink, nanoseconds) not yet taken by an exporter:
        /// one per batch written, of its oldest stamped event.
        package var latencies: [UInt64] = []
        /// Samples that did not fit between two exports.
        package var latenciesDropped = 0
    }

    /// A ring between two stages, for its occupancy.
    package struct Edge: Sendable {
        package var from: String
        package var to: String
        package var capacity: Int
        let count: @Sendable () -> Int
        /// Messages queued now.
        package var occupancy: Int { count() }
    }

    /// What checkpointing reports (docs/observability.md, "Checkpoints"), exported as
    /// `sluice_checkpoint_*` once there is any.
    package struct CheckpointFigures: Sendable {
        /// Checkpoints taken.
        package var count = 0
        package var lastDurationSeconds = 0.0
        package var lastSizeBytes = 0
    }

    /// How far one partition a broker input reads is behind the broker's end of it,
    /// exported as `sluice_consumer_lag`.
    package struct PartitionLag: Sendable, Equatable {
        package var topic: String
        package var partition: Int32
        /// Messages behind: the partition's high watermark minus the next offset to read.
        package var messages: Int

        package init(topic: String, partition: Int32, messages: Int) {
            self.topic = topic
            self.partition = partition
            self.messages = messages
        }
    }

    /// How far the run is.
    package enum Phase: Sendable, Equatable {
        case starting, running, finished
        case failed(String)
    }

    struct State {
        var streams: [String: StreamFigures] = [:]
        var outputs: [String: OutputFigures] = [:]
        var outputBytes: [String: ByteCounter] = [:]
        /// Events written so far, for sinks the streams write themselves (shared sinks).
        var outputEvents: [String: @Sendable () -> Int] = [:]
        var inputs: [InputCounters] = []
        var edges: [Edge] = []
        var phase = Phase.starting
        var checkpoints = CheckpointFigures()
        /// Per broker input, the partitions it was last assigned and their lag.
        var consumerLag: [String: [PartitionLag]] = [:]
        /// Stream names, each side output (`STREAM.SIDE`) and input: what can be tapped.
        var tappable = Set<String>()
    }
    let state = Mutex(State())

    /// At most this many latency samples wait for an exporter, per output.
    static let maxPendingLatencies = 50_000

    package init(pipeline: String, eventTime: Bool, measuresStages: Bool = true) {
        self.pipeline = pipeline
        self.eventTime = eventTime
        self.measuresStages = measuresStages
    }

    // MARK: Reading (any thread)

    /// The streams' figures, one per stage (partitions separately), by stage name.
    package var streams: [String: StreamFigures] { state.withLock { $0.streams } }
    /// The inputs' counters, in the order the run started them.
    package var inputs: [InputCounters] { state.withLock { $0.inputs } }
    /// The rings between stages.
    package var edges: [Edge] { state.withLock { $0.edges } }
    /// What can be tapped: streams, side outputs (`STREAM.SIDE`) and inputs.
    package var tappable: Set<String> { state.withLock { $0.tappable } }
    /// How far the run is.
    package var phase: Phase { state.withLock { $0.phase } }
    /// Started, no stage failed, and some input still open.
    package var isReady: Bool {
        state.withLock { s in
            s.phase == .running && s.inputs.contains { !$0.ended.load(ordering: .relaxed) }
        }
    }

    /// What checkpointing has reported.
    package var checkpoints: CheckpointFigures { state.withLock { $0.checkpoints } }

    /// The hook for checkpointing: a checkpoint was taken, in `seconds`, of `bytes`.
    package func recordCheckpoint(seconds: Double, bytes: Int) {
        state.withLock { s in
            s.checkpoints.count += 1
            s.checkpoints.lastDurationSeconds = seconds
            s.checkpoints.lastSizeBytes = bytes
        }
    }

    /// Each broker input's partitions and how far behind each is, by input name.
    package var consumerLag: [String: [PartitionLag]] { state.withLock { $0.consumerLag } }

    /// The hook for broker inputs: the partitions `input` reads now and how far behind the
    /// broker's end each is (replacing what it reported before, so a partition it no
    /// longer reads goes away).
    package func recordConsumerLag(input: String, partitions: [PartitionLag]) {
        state.withLock { $0.consumerLag[input] = partitions }
    }

    /// Each output's events and bytes so far, and the latency samples since the last
    /// call (taken: each sample is handed out once).
    package func takeOutputs() -> [(name: String, events: Int, bytes: Int?, latencies: [UInt64])] {
        state.withLock { s in
            var out: [(String, Int, Int?, [UInt64])] = []
            for name in Set(s.outputs.keys).union(s.outputBytes.keys).sorted() {
                let f = s.outputs[name] ?? OutputFigures()
                let events = s.outputEvents[name]?() ?? f.events
                out.append((name, events, s.outputBytes[name]?.value, f.latencies))
                s.outputs[name]?.latencies.removeAll()
            }
            return out
        }
    }

    // MARK: Registration (by the runtime, as it starts)

    func addInput(_ name: String, bytes: ByteCounter?, expectedBytes: Int?, ports: [String]) -> InputCounters {
        let c = InputCounters(name: name, bytes: bytes, expectedBytes: expectedBytes)
        state.withLock {
            $0.inputs.append(c)
            $0.tappable.formUnion(ports)
        }
        return c
    }

    func addOutput(_ name: String, bytes: ByteCounter?, events: (@Sendable () -> Int)? = nil) {
        state.withLock { s in
            if s.outputs[name] == nil { s.outputs[name] = OutputFigures() }
            if let bytes { s.outputBytes[name] = bytes }
            if let events { s.outputEvents[name] = events }
        }
    }

    func addEdge(from: String, to: String, ring: SPSCRing<Message>) {
        state.withLock { $0.edges.append(Edge(from: from, to: to, capacity: ring.capacity, count: { ring.count })) }
    }

    /// Registers a stream stage (before its thread starts, so that a tap of it is known
    /// from the start).
    func addStream(_ stage: String, portNames: [Int: String]) {
        let (stream, _, tapNames) = Self.names(stage: stage, portNames: portNames)
        state.withLock {
            if $0.streams[stage] == nil { $0.streams[stage] = StreamFigures(stream: stream) }
            $0.tappable.insert(stream)
            $0.tappable.formUnion(tapNames.values)
        }
    }

    /// A stream stage's stream (a partition's stage is `STREAM#N`), its side ports' names
    /// (`rejected`) and their tap names (`STREAM.rejected`).
    static func names(stage: String, portNames: [Int: String]) -> (String, [Int: String], [Int: String]) {
        let stream = stage.split(separator: "#").first.map(String.init) ?? stage
        var sideNames: [Int: String] = [:]
        var tapNames: [Int: String] = [:]
        for (port, full) in portNames where port != Dataflow.mainPort {
            sideNames[port] = full.hasPrefix(stream + ".") ? String(full.dropFirst(stream.count + 1)) : full
            tapNames[port] = full
        }
        return (stream, sideNames, tapNames)
    }

    func setPhase(_ phase: Phase) {
        state.withLock { s in
            // The first failure stays; a finished run that had failed stays failed.
            if case .failed = s.phase { return }
            s.phase = phase
        }
    }

    // MARK: Publishing (by each stage's own thread)

    func publish(stage: String, _ update: (inout StreamFigures) -> Void) {
        state.withLock { s in
            guard var f = s.streams[stage] else { return }
            update(&f)
            s.streams[stage] = f
        }
    }

    func publish(output: String, events: Int, latencies: inout [UInt64]) {
        state.withLock { s in
            var f = s.outputs[output] ?? OutputFigures()
            f.events += events
            let room = max(0, Self.maxPendingLatencies - f.latencies.count)
            f.latencies += latencies.prefix(room)
            f.latenciesDropped += max(0, latencies.count - room)
            s.outputs[output] = f
        }
        latencies.removeAll(keepingCapacity: true)
    }
}

/// A count of bytes read or written, added to by one thread once per block and read by
/// any (the metrics endpoint, the progress bar).
package final class ByteCounter: Sendable {
    let count = ManagedAtomic<Int>(0)
    package init() {}
    /// Adds `n` (one relaxed atomic add; call per block, not per event).
    @inlinable package func add(_ n: Int) { count.wrappingIncrement(by: n, ordering: .relaxed) }
    /// The count so far.
    package var value: Int { count.load(ordering: .relaxed) }
}

/// A source or sink that counts the bytes it reads or writes (files, stdin, stdout).
package protocol CountsBytes: AnyObject {
    /// Its counter.
    var byteCounter: ByteCounter { get }
    /// How many bytes it will read in all, when known (regular files).
    var expectedBytes: Int? { get }
}

/// A stream stage's side of ``RunMetrics``: plain counters, published every
/// ``RunMetrics/publishInterval``. Owned by the stage's thread.
struct StreamMeter {
    let metrics: RunMetrics
    let stage: String
    /// Side port number to its name (`rejected`); the main port is absent.
    let sideNames: [Int: String]
    /// Side port number to its tap name (`STREAM.rejected`).
    let tapNames: [Int: String]
    let stream: String
    var eventsOut = 0
    var sides: [Int: Int] = [:]
    var maxEventTime = Int64.min
    var last: UInt64 = 0
    /// Something changed since the last publication.
    var dirty = false

    init(_ metrics: RunMetrics, stage: String, portNames: [Int: String]) {
        self.metrics = metrics
        self.stage = stage
        // A partition's stage is `STREAM#N`; its figures are the stream's.
        (stream, sideNames, tapNames) = RunMetrics.names(stage: stage, portNames: portNames)
        metrics.addStream(stage, portNames: portNames)
    }

    /// The stage is about to wait for input: publishes what it has not, so that figures
    /// do not go stale while it waits (a stage that waits has time to spare).
    mutating func idle(_ chain: StepChain, watermark: Int64) {
        if dirty { tick(chain, watermark: watermark, force: true) }
    }

    /// A batch came in: the largest event time (event time only).
    mutating func received(_ events: [Event]) {
        guard metrics.eventTime else { return }
        var m = maxEventTime
        for e in events where e.time > m { m = e.time }
        maxEventTime = m
    }

    /// A batch goes out: counted, and offered to taps when any client taps.
    mutating func sent(_ main: [Event], _ sides: [(port: Int, event: Event)]) {
        eventsOut += main.count
        for s in sides { self.sides[s.port, default: 0] += 1 }
        if metrics.taps.isActive {
            if !main.isEmpty { metrics.taps.offer(stream, main) }
            if !sides.isEmpty {
                var byPort: [Int: [Event]] = [:]
                for s in sides { byPort[s.port, default: []].append(s.event) }
                for (p, es) in byPort { if let n = tapNames[p] { metrics.taps.offer(n, es) } }
            }
        }
    }

    /// Publishes if the last publication is older than the interval (or `force`).
    mutating func tick(_ chain: StepChain, watermark: Int64, force: Bool = false) {
        let now = DispatchTime.now().uptimeNanoseconds
        guard force || now &- last >= RunMetrics.publishInterval else {
            dirty = true
            return
        }
        last = now
        dirty = false
        let (out, sideCounts, names, maxTime) = (eventsOut, sides, sideNames, maxEventTime)
        let steps = chain.stats
        let sizes = chain.stateSizes
        metrics.publish(stage: stage) { f in
            f.steps = steps
            f.stateSizes = sizes
            f.eventsOut = out
            var named: [String: Int] = [:]
            for (p, n) in sideCounts { named[names[p] ?? "port \(p)", default: 0] += n }
            f.sides = named
            f.watermark = watermark
            f.maxEventTime = maxTime
        }
    }
}

/// A sink stage's side of ``RunMetrics``. Owned by the stage's thread.
struct OutputMeter {
    let metrics: RunMetrics
    let name: String
    var events = 0
    var latencies: [UInt64] = []
    var last: UInt64 = 0
    /// Written since the last publication.
    var dirty = false

    init(_ metrics: RunMetrics, name: String) {
        self.metrics = metrics
        self.name = name
    }

    /// A batch was written (`count` of its events: 0 where the sink counts itself, a
    /// shared sink): one latency sample, of its oldest stamped event.
    mutating func wrote(_ batch: [Event], count: Int) {
        events += count
        let now = DispatchTime.now().uptimeNanoseconds
        var oldest = UInt64.max
        for e in batch where e.ingestNanos != 0 {
            oldest = e.ingestNanos
            break
        }
        if oldest != UInt64.max && now > oldest { latencies.append(now - oldest) }
        if now &- last >= RunMetrics.publishInterval { publish(now) } else { dirty = true }
    }

    /// The sink is about to wait for input: publishes what it has not.
    mutating func idle() { if dirty { publish() } }

    mutating func publish(_ now: UInt64 = DispatchTime.now().uptimeNanoseconds) {
        last = now
        dirty = false
        metrics.publish(output: name, events: events, latencies: &latencies)
        events = 0
    }
}

/// Live taps (`/tap`): clients that want samples of a stream or side output.
///
/// Free when nobody taps: a stage checks ``isActive`` (one relaxed atomic load) per
/// batch. A client that reads slowly does not slow the stage: its buffer is bounded,
/// and samples that do not fit are dropped and counted.
package final class TapHub: Sendable {
    private let active = ManagedAtomic<Int>(0)
    private let clients = Mutex<[TapClient]>([])
    /// Events dropped for slow clients, over the run.
    package let dropped = ManagedAtomic<Int>(0)

    package init() {}

    /// True when some client taps.
    @inline(__always) package var isActive: Bool { active.load(ordering: .relaxed) != 0 }

    /// Clients tapping now.
    package var clientCount: Int { active.load(ordering: .relaxed) }

    /// Starts tapping `target` (`STREAM`, `STREAM.SIDE` or an input) with a buffer of
    /// `capacity` bytes.
    package func subscribe(_ target: String, capacity: Int = 1 << 20) -> TapClient {
        let c = TapClient(target: target, capacity: capacity)
        clients.withLock { $0.append(c) }
        active.wrappingIncrement(ordering: .relaxed)
        return c
    }

    /// Stops `client`'s tap.
    package func unsubscribe(_ client: TapClient) {
        let removed = clients.withLock { cs -> Bool in
            guard let i = cs.firstIndex(where: { $0 === client }) else { return false }
            cs.remove(at: i)
            return true
        }
        if removed { active.wrappingDecrement(ordering: .relaxed) }
    }

    /// Counts `n` events dropped for a client by the endpoint (its connection could not
    /// take them).
    package func noteDropped(_ n: Int) { dropped.wrappingIncrement(by: n, ordering: .relaxed) }

    /// ``offer(_:_:)`` for tests outside the runtime.
    package func offerForTesting(_ target: String, _ events: [Event]) { offer(target, events) }

    /// Hands `events` of `target` to the clients that tap it.
    func offer(_ target: String, _ events: [Event]) {
        let cs = clients.withLock { $0.filter { $0.target == target } }
        for c in cs {
            let lost = c.offer(events)
            if lost > 0 { dropped.wrappingIncrement(by: lost, ordering: .relaxed) }
        }
    }
}

/// One tap client's buffer of JSON lines.
package final class TapClient: Sendable {
    package let target: String
    let capacity: Int
    private let state = Mutex<(lines: [UInt8], count: Int, dropped: Int)>(([], 0, 0))

    init(target: String, capacity: Int) {
        self.target = target
        self.capacity = capacity
    }

    /// Appends what fits; returns how many events did not.
    func offer(_ events: [Event]) -> Int {
        state.withLock { s in
            var lost = 0
            for e in events {
                guard s.lines.count < capacity else {
                    lost += 1
                    continue
                }
                e.write(into: &s.lines)
                s.lines.append(0x0A)
                s.count += 1
            }
            s.dropped += lost
            return lost
        }
    }

    /// The lines buffered since the last call, how many, and the events dropped for this
    /// client so far.
    package func take() -> (lines: [UInt8], count: Int, dropped: Int) {
        state.withLock { s in
            defer {
                s.lines = []
                s.count = 0
            }
            return (s.lines, s.count, s.dropped)
        }
    }
}
