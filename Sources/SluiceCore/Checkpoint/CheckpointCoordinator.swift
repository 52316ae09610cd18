import Atomics
import Dispatch
import Synchronization

/// How a run checkpoints: where, how often, and which pipeline it is.
package struct CheckpointConfig: Sendable {
    /// The directory (``CheckpointStore``).
    package var directory: String
    /// Time between checkpoints, in nanoseconds.
    package var interval: UInt64
    /// Names the pipeline (see `FlowBuilder`); a checkpoint with another is refused.
    package var fingerprint: String

    package init(directory: String, interval: UInt64, fingerprint: String) {
        self.directory = directory
        self.interval = interval
        self.fingerprint = fingerprint
    }
}

/// Checkpoint figures for `--stats` and `sluice bench`.
package struct CheckpointStats: Sendable, Equatable {
    /// Checkpoints completed (written).
    package var count = 0
    /// Checkpoints that could not be written.
    package var failed = 0
    /// From the barrier's request to the checkpoint on disk, in nanoseconds, in order.
    package var durations: [UInt64] = []
    /// Bytes of the last checkpoint written.
    package var lastBytes = 0
    /// The id of the last checkpoint written (or restored from, before any is written).
    package var lastID: Int?

    package init() {}

    /// The median duration, in nanoseconds (0 with none).
    package var p50: UInt64 {
        guard !durations.isEmpty else { return 0 }
        return durations.sorted()[(durations.count - 1) / 2]
    }
    /// The longest, in nanoseconds.
    package var max: UInt64 { durations.max() ?? 0 }
}

/// Collects the parts of each checkpoint as its barrier passes the stages, and writes a
/// checkpoint once every part has come in (docs/checkpoints.md, "Barriers").
///
/// ```
///  timer ──requested=N──▶ sources: between batches, position + .barrier(N) downstream
///  source   ── position(N) ──┐
///  stage    ── state(N) ─────┤──▶ coordinator: all parts of N? ──▶ write queue ──▶ DIR/chk-N
///  sink     ── length(N) ────┘      (a background thread, off the stages' path)
/// ```
/// A participant whose input has ended sends its final part once, which stands for it
/// in every later checkpoint. At most one checkpoint is in flight: the timer requests
/// the next only once the previous one is complete.
///
/// Without a store (``flushOnly``) the same barriers make every output durable and
/// nothing is written: a round is complete once every source and sink has passed its
/// barrier (stream stages save nothing), and then the listeners are told. A broker input
/// of a run without `--checkpoint-dir` acks that way what the outputs have made durable.
package final class CheckpointCoordinator: Sendable {
    package let config: CheckpointConfig
    /// Where checkpoints go; nil: rounds only flush the outputs (``flushOnly``).
    let store: CheckpointStore?
    /// The highest checkpoint id requested; sources compare it with the last they sent
    /// (one relaxed load per batch).
    package let requested: ManagedAtomic<Int>
    /// The id new checkpoints follow (the one restored from, or 0): every source starts
    /// from it, so that a barrier requested before a source's thread starts is still sent.
    package let firstAfter: Int
    private let warn: @Sendable (String) -> Void
    private let queue = DispatchQueue(label: "sluice.checkpoint.write")
    private let writes = DispatchGroup()
    /// Ends the ticking thread (``startTimer()``), which ``ticks`` tracks.
    private let stopTicking = DispatchSemaphore(value: 0)
    private let ticks = DispatchGroup()

    struct Pending {
        var started: UInt64
        var sources: [String: SourceSnapshot] = [:]
        var stages: [String: StageSnapshot] = [:]
        var sinks: [String: [UInt8]] = [:]
    }

    struct State {
        var expectedSources: Set<String> = []
        var expectedStages: Set<String> = []
        var expectedSinks: Set<String> = []
        var pending: [Int: Pending] = [:]
        /// Parts of participants that have finished, standing for them from then on.
        var finalSources: [String: SourceSnapshot] = [:]
        var finalStages: [String: StageSnapshot] = [:]
        var finalSinks: [String: [UInt8]] = [:]
        /// The last checkpoint completed (handed to the writer).
        var completed: Int
        var stats = CheckpointStats()
        /// The thread that requests checkpoints runs.
        var ticking = false
        /// A final checkpoint was asked for (``requestFinal()``): no more timed ones.
        var final = false
        /// Told of every checkpoint once it is on disk (``addListener(_:)``).
        var listeners: [any CheckpointListener] = []
        /// Told how long each checkpoint took and its size (``onWritten(_:)``).
        var figures: [@Sendable (_ seconds: Double, _ bytes: Int) -> Void] = []
    }
    private let state: Mutex<State>

    /// A coordinator writing to `store` (nil: flush-only rounds, nothing written); new
    /// checkpoint ids follow `after` (the id restored from, or 0). `warn` reports a
    /// checkpoint that could not be written.
    package init(
        config: CheckpointConfig, store: CheckpointStore?, after: Int = 0,
        warn: @escaping @Sendable (String) -> Void
    ) {
        self.config = config
        self.store = store
        self.warn = warn
        requested = ManagedAtomic(after)
        firstAfter = after
        var s = State(completed: after)
        if after > 0 { s.stats.lastID = after }
        state = Mutex(s)
    }

    /// True when rounds only make the outputs durable and write no checkpoint.
    package var flushOnly: Bool { store == nil }

    /// The participants every checkpoint waits for (by node name). Flush-only rounds do
    /// not wait for stream stages, which save nothing then.
    package func expect(sources: [String], stages: [String], sinks: [String]) {
        let stages = store == nil ? [] : stages
        state.withLock {
            $0.expectedSources = Set(sources)
            $0.expectedStages = Set(stages)
            $0.expectedSinks = Set(sinks)
        }
    }

    /// Tells `listener` of every checkpoint once it is written (sources and sinks that
    /// commit to a broker only what a checkpoint on disk covers).
    package func addListener(_ listener: any CheckpointListener) {
        state.withLock { $0.listeners.append(listener) }
    }

    /// Calls `body` with the duration (seconds, from the barrier's request to the files
    /// on disk) and size of every checkpoint written: the metrics endpoint's figures.
    package func onWritten(_ body: @escaping @Sendable (_ seconds: Double, _ bytes: Int) -> Void) {
        state.withLock { $0.figures.append(body) }
    }

    /// Starts requesting a checkpoint every interval.
    package func startTimer() {
        let interval = Int(min(config.interval, UInt64(Int.max)))
        let started = state.withLock { s -> Bool in
            defer { s.ticking = true }
            return s.ticking
        }
        guard !started else { return }
        ticks.enter()
        let tick: @Sendable () -> Void = { [self] in
            defer { ticks.leave() }
            while stopTicking.wait(timeout: .now() + .nanoseconds(interval)) == .timedOut { requestNext() }
        }
        // A thread of its own, as stages have: the loop blocks for the whole run, and on a
        // worker of Dispatch's global pool (as wide as the machine has cores) it held one
        // hostage, and waited for one to start, which other blocking work (other runs in
        // the same process) could take for the whole of this run: no checkpoint at all.
        do throws(StageThread.StartError) {
            try StageThread.start(name: "checkpoint-timer", role: .io, tick)
        } catch {
            DispatchQueue.global().async(execute: tick)
        }
    }

    /// Requests the next checkpoint unless one is still in flight; returns its id.
    @discardableResult
    package func requestNext() -> Int? {
        state.withLock { s -> Int? in
            let current = requested.load(ordering: .relaxed)
            guard !s.final, s.completed >= current else { return nil }
            let id = current + 1
            s.pending[id] = Pending(started: DispatchTime.now().uptimeNanoseconds)
            requested.store(id, ordering: .releasing)
            return id
        }
    }

    /// Requests the checkpoint a stop ends with (a savepoint): sources send it as they
    /// stop. Returns its id. Timed checkpoints stop here.
    @discardableResult
    package func requestFinal() -> Int {
        state.withLock { s -> Int in
            s.final = true
            let id = requested.load(ordering: .relaxed) + 1
            s.pending[id] = Pending(started: DispatchTime.now().uptimeNanoseconds)
            requested.store(id, ordering: .releasing)
            return id
        }
    }

    /// True once ``requestFinal()`` was called.
    package var finalRequested: Bool { state.withLock { $0.final } }

    /// Source `name` sent barrier `id` at `snapshot`.
    package func source(_ name: String, reached id: Int, _ snapshot: SourceSnapshot) {
        update(id) { $0.sources[name] = snapshot }
    }

    /// Stage `name` passed barrier `id` holding `snapshot`.
    package func stage(_ name: String, reached id: Int, _ snapshot: StageSnapshot) {
        update(id) { $0.stages[name] = snapshot }
    }

    /// Sink `name` committed barrier `id` at `position`.
    package func sink(_ name: String, reached id: Int, _ position: [UInt8]) {
        update(id) { $0.sinks[name] = position }
    }

    /// Source `name` has ended at `snapshot`: it stands for it from now on.
    package func sourceFinished(_ name: String, _ snapshot: SourceSnapshot) {
        finish { $0.finalSources[name] = snapshot }
    }

    /// Stage `name` has ended holding `snapshot`.
    package func stageFinished(_ name: String, _ snapshot: StageSnapshot) {
        finish { $0.finalStages[name] = snapshot }
    }

    /// Sink `name` has ended at `position`.
    package func sinkFinished(_ name: String, _ position: [UInt8]) {
        finish { $0.finalSinks[name] = position }
    }

    private func update(_ id: Int, _ body: (inout Pending) -> Void) {
        let ready = state.withLock { s -> (Checkpoint, UInt64)? in
            guard var p = s.pending[id] else { return nil }
            body(&p)
            s.pending[id] = p
            return complete(&s, id)
        }
        if let ready { schedule(ready.0, started: ready.1) }
    }

    private func finish(_ body: (inout State) -> Void) {
        let ready = state.withLock { s -> [(Checkpoint, UInt64)] in
            body(&s)
            return s.pending.keys.sorted().compactMap { complete(&s, $0) }
        }
        for r in ready { schedule(r.0, started: r.1) }
    }

    /// The checkpoint `id` when all its parts are in (removing it and older ones from
    /// the pending ones), else nil.
    private func complete(_ s: inout State, _ id: Int) -> (Checkpoint, UInt64)? {
        guard let p = s.pending[id] else { return nil }
        var c = Checkpoint(id: id, fingerprint: config.fingerprint)
        for name in s.expectedSources {
            guard let part = p.sources[name] ?? s.finalSources[name] else { return nil }
            c.sources[name] = part
        }
        for name in s.expectedStages {
            guard let part = p.stages[name] ?? s.finalStages[name] else { return nil }
            c.stages[name] = part
        }
        for name in s.expectedSinks {
            guard let part = p.sinks[name] ?? s.finalSinks[name] else { return nil }
            c.sinks[name] = part
        }
        for k in s.pending.keys where k <= id { s.pending[k] = nil }
        s.completed = Swift.max(s.completed, id)
        return (c, p.started)
    }

    private func schedule(_ c: Checkpoint, started: UInt64) {
        writes.enter()
        queue.async { [self] in
            defer { writes.leave() }
            guard let store else {
                // Flush-only: every output has made what came before the barrier durable.
                let listeners = state.withLock { $0.listeners }
                for l in listeners { l.checkpointCompleted(c.id) }
                return
            }
            do throws(StateError) {
                let bytes = try store.write(c)
                let took = DispatchTime.now().uptimeNanoseconds &- started
                let (listeners, figures) = state.withLock { s in
                    s.stats.count += 1
                    s.stats.durations.append(took)
                    s.stats.lastBytes = bytes
                    s.stats.lastID = c.id
                    return (s.listeners, s.figures)
                }
                for f in figures { f(Double(took) / 1e9, bytes) }
                for l in listeners { l.checkpointCompleted(c.id) }
            } catch {
                state.withLock { $0.stats.failed += 1 }
                warn("checkpoint \(c.id) was not written: \(error.message); the run goes on")
            }
        }
    }

    /// Stops the timer, waits for checkpoints being written, and unlocks the directory
    /// (the run is over).
    package func stop() {
        defer { store?.unlock() }
        let ticking = state.withLock { s -> Bool in
            defer { s.ticking = false }
            return s.ticking
        }
        if ticking {
            stopTicking.signal()
            ticks.wait()
        }
        writes.wait()
    }

    /// Figures so far.
    package var stats: CheckpointStats { state.withLock { $0.stats } }
}

/// A source or sink that acts when a checkpoint is safely on disk: a broker input commits
/// the offsets (or acks the messages) that checkpoint covers, a transactional output
/// commits what it wrote before the barrier. Called on the checkpoint writer's thread,
/// in checkpoint order, only for checkpoints written (or, ``CheckpointCoordinator/flushOnly``,
/// rounds every output has made durable); a run registers every source and sink that
/// conforms.
package protocol CheckpointListener: AnyObject, Sendable {
    /// Checkpoint `id` is written: everything its barrier covers is durable.
    func checkpointCompleted(_ id: Int)
}
