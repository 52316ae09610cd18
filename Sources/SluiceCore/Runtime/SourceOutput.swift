import Atomics
import Dispatch

/// What a source uses to hand over events. It stamps event time and sends watermarks
/// as the source's ``TimePolicy`` says.
@usableFromInline package final class SourceOutput {
    let ports: OutputPorts
    unowned let execution: Execution
    let time: TimePolicy?
    var count = 0
    var maxTime = Int64.min
    var lastWatermark = Int64.min
    /// ``stampIngestTime`` as it was when the run started (one read, not one per batch),
    /// or on for the latency histograms of `--metrics`.
    let stampIngest: Bool
    /// The input's live counters (`--metrics`), added to once per batch.
    var counters: RunMetrics.InputCounters?
    /// With checkpoints: the coordinator, the source's name, and the last barrier sent.
    let checkpoints: CheckpointCoordinator?
    let name: String
    var injected = 0
    /// The source sends barriers itself, with its position (``CheckpointedSource``);
    /// otherwise ``emit(_:)`` sends them, before a batch, with no position.
    let positioned: Bool

    /// Latency stamping for `sluice bench`: while on, sources started afterwards set
    /// ``Event/ingestNanos`` on every event they emit (one clock read per batch). Off by
    /// default, so ordinary runs pay nothing.
    @usableFromInline package static let stampIngestTime = ManagedAtomic<Bool>(false)

    init(
        ports: OutputPorts, execution: Execution, time: TimePolicy?, name: String = "",
        checkpoints: CheckpointCoordinator? = nil, positioned: Bool = false, restored: SourceSnapshot? = nil
    ) {
        self.ports = ports
        self.execution = execution
        self.time = time
        self.name = name
        self.checkpoints = checkpoints
        self.positioned = positioned
        injected = checkpoints?.firstAfter ?? 0
        if let restored {
            maxTime = restored.maxTime
            lastWatermark = restored.watermark
        }
        stampIngest =
            SourceOutput.stampIngestTime.load(ordering: .relaxed) || execution.metrics?.measuresStages == true
    }

    /// True when the run takes checkpoints.
    package var checkpointing: Bool { checkpoints != nil }

    /// Sends the checkpoint barriers requested since the last one, if any, each with
    /// `position()` (where a restarted source resumes to read exactly what follows).
    /// A ``CheckpointedSource`` calls it between batches, wherever its position is
    /// exact; it costs one atomic load when no barrier is due.
    @inline(__always)
    package func checkpointIfDue(position: () -> [UInt8]?) {
        guard let c = checkpoints else { return }
        let r = c.requested.load(ordering: .acquiring)
        if r > injected { sendBarriers(upTo: r, c, position()) }
    }

    /// ``checkpointIfDue(position:)`` for a source that must know which barrier its
    /// position goes with (a broker input commits that position when the checkpoint is
    /// written): `position` gets the id of the last barrier it is sent with.
    @inline(__always)
    package func checkpointIfDue(positionAt position: (_ barrier: Int) -> [UInt8]?) {
        guard let c = checkpoints else { return }
        let r = c.requested.load(ordering: .acquiring)
        if r > injected { sendBarriers(upTo: r, c, position(r)) }
    }

    /// The last checkpoint barrier this source sent (0: none yet in this run).
    package var lastBarrier: Int { injected }

    /// Asks for a checkpoint now, unless one is in flight: for a source whose input
    /// stalls until a checkpoint lets it acknowledge what it read (a broker's window).
    package func requestCheckpoint() { checkpoints?.requestNext() }

    /// Where a ``CheckpointedSource`` that read all its input ended (``finished(at:)``).
    var finalPosition: [UInt8]?

    /// Says that the source has read all its input and would resume at `position`; it
    /// then stands for the source in every later checkpoint.
    package func finished(at position: [UInt8]) {
        finalPosition = position
    }

    /// The snapshot of this source at `position`.
    func snapshot(_ position: [UInt8]?) -> SourceSnapshot {
        SourceSnapshot(position: position, maxTime: maxTime, watermark: lastWatermark)
    }

    private func sendBarriers(upTo r: Int, _ c: CheckpointCoordinator, _ position: [UInt8]?) {
        while injected < r {
            injected += 1
            c.source(name, reached: injected, snapshot(position))
            ports.broadcast(.barrier(injected))
        }
    }

    /// True when the run exports live figures (`--metrics`): a broker input then reports
    /// its consumer lag through ``consumerLag(_:)``.
    package var measuresConsumerLag: Bool { counters != nil && execution.metrics?.measuresStages == true }

    /// Reports how far behind the broker's end each partition this input reads is (the
    /// partitions it reads now; `sluice_consumer_lag`). Call at most about once a second.
    package func consumerLag(_ partitions: [RunMetrics.PartitionLag]) {
        guard let counters, let metrics = execution.metrics else { return }
        metrics.recordConsumerLag(input: counters.name, partitions: partitions)
    }

    /// True when the run is being stopped: return from `run` soon.
    @usableFromInline package var isCancelled: Bool { execution.isCancelled }

    /// A descriptor that turns readable when the run is cancelled (-1 if there is none):
    /// a source that blocks reading a pipe or terminal polls it beside its input, so
    /// that a stop does not wait for the next line.
    @usableFromInline package var cancellationFD: Int32 { execution.cancellationFD }

    /// Runs `body` once when the run is cancelled (at once if it already was), for
    /// sources that wait for input some other way.
    @usableFromInline package func onCancel(_ body: @escaping @Sendable () -> Void) { execution.onCancel(body) }

    /// Sends good events downstream (waits while downstream is full: backpressure).
    /// Events whose time cannot be read go to ``SourcePort/malformed`` with the reason.
    @usableFromInline package func emit(_ events: consuming [Event]) {
        if !positioned { checkpointIfDue { nil } }
        guard !events.isEmpty else { return }
        var watermark = lastWatermark
        switch time {
        case nil:
            break
        case .processingTime:
            let now = TimePolicy.nowMillis()
            for i in events.indices { events[i].time = now }
            watermark = now
        case .eventTime(let assign, let lateness, let indexed):
            var bad: [Event] = []
            var kept = 0
            var maxTime = self.maxTime
            let lastWatermark = self.lastWatermark
            // In place: each event read and stamped where it is (no copy of it for
            // `assign`, no uniqueness check per write).
            events.withUnsafeMutableBufferPointer { batch in
                guard let base = batch.baseAddress else { return }
                for i in 0..<batch.count {
                    let p = base + i
                    let t: Int64
                    if let indexed, let v = indexed.millis(of: p) {
                        t = v
                    } else {
                        switch assign(p.pointee) {
                        case .success(let v): t = v
                        case .failure(let e):
                            bad.append(
                                Event.wrapError(p.pointee, step: "time", message: e.message, line: p.pointee.line))
                            continue
                        }
                    }
                    p.pointee.time = t
                    p.pointee.watermark = maxTime == Int64.min ? lastWatermark : max(lastWatermark, maxTime &- lateness)
                    if t > maxTime { maxTime = t }
                    if kept != i { (base + kept).pointee = p.pointee }
                    kept += 1
                }
            }
            self.maxTime = maxTime
            events.removeLast(events.count - kept)
            if !bad.isEmpty { emit(port: SourcePort.malformed, bad) }
            if maxTime != Int64.min { watermark = maxTime &- lateness }
        }
        hand(events, watermark: watermark)
    }

    /// Sends stamped events on and the watermark when it moved.
    private func hand(_ events: consuming [Event], watermark: Int64) {
        if !events.isEmpty {
            if stampIngest {
                let now = DispatchTime.now().uptimeNanoseconds
                for i in events.indices { events[i].ingestNanos = now }
            }
            count += events.count
            execution.eventsIn.wrappingIncrement(by: events.count, ordering: .relaxed)
            if let counters {
                counters.events.wrappingIncrement(by: events.count, ordering: .relaxed)
                if let taps = execution.metrics?.taps, taps.isActive { taps.offer(counters.name, events) }
            }
            ports.send(SourcePort.main, .events(events))
        }
        if watermark > lastWatermark {
            lastWatermark = watermark
            ports.broadcast(.watermark(watermark))
        }
    }

    /// Per-split watermarks, for a partitioned source with event time
    /// (``useSplits(idleTimeout:)``).
    var splits: SplitWatermarks?

    /// A monotonic clock in milliseconds, for split idleness.
    static func monotonicMillis() -> Int64 { Int64(DispatchTime.now().uptimeNanoseconds / 1_000_000) }

    /// Makes the watermark the least over the source's splits (a Kafka input's
    /// partitions) instead of over all its events, leaving out splits silent for
    /// `idleTimeout` ms (nil: never). Only with event time; otherwise it does nothing.
    /// The source then says which splits it reads (``assignSplits(_:)``,
    /// ``revokeSplits(_:)``), emits with ``emit(_:splits:)``, and calls ``idle()`` when
    /// it has nothing to emit for a while.
    package func useSplits(idleTimeout: Int64?) {
        guard case .eventTime = time else { return }
        splits = SplitWatermarks(idleTimeout: idleTimeout)
    }

    /// True when the watermark is per split (``useSplits(idleTimeout:)`` with event time).
    package var usesSplits: Bool { splits != nil }

    /// Splits the source reads from now on.
    package func assignSplits(_ ids: [Int]) {
        guard splits != nil else { return }
        splits?.assign(ids, now: Self.monotonicMillis())
        advanceSplitWatermark()
    }

    /// Splits the source no longer reads (another reader has them now).
    package func revokeSplits(_ ids: [Int]) {
        guard splits != nil else { return }
        splits?.revoke(ids, now: Self.monotonicMillis())
        advanceSplitWatermark()
    }

    /// With per-split watermarks, lets time pass: a split silent for the idle timeout is
    /// left out, which may move the watermark. The source calls it between polls.
    package func idle() {
        guard splits?.idleTimeout != nil else { return }
        splits?.recompute(now: Self.monotonicMillis())
        advanceSplitWatermark()
    }

    /// Sends the watermark the splits' minimum gives, when it moved.
    private func advanceSplitWatermark() {
        guard case .eventTime(_, let lateness, _) = time, let m = splits?.merged, m != Int64.min else { return }
        watermark(m &- lateness)
    }

    /// ``emit(_:)`` for a source with splits: `ids[i]` is the split `events[i]` came
    /// from. With per-split watermarks, each event's time counts for its split, and the
    /// watermark is the least over the active splits less `lateness`.
    package func emit(_ events: consuming [Event], splits ids: [Int]) {
        guard splits != nil, case .eventTime(let assign, let lateness, _) = time, ids.count == events.count else {
            emit(events)
            return
        }
        if !positioned { checkpointIfDue { nil } }
        guard !events.isEmpty else { return }
        let now = Self.monotonicMillis()
        var watermark = lastWatermark
        if let m = splits?.recompute(now: now), m != Int64.min { watermark = max(watermark, m &- lateness) }
        var bad: [Event] = []
        var kept = 0
        for i in events.indices {
            switch assign(events[i]) {
            case .success(let t):
                events[i].time = t
                events[i].watermark = watermark
                if t > maxTime { maxTime = t }
                if let m = splits?.observe(ids[i], time: t, now: now), m != Int64.min {
                    watermark = max(watermark, m &- lateness)
                }
                if kept != i { events[kept] = events[i] }
                kept += 1
            case .failure(let e):
                bad.append(Event.wrapError(events[i], step: "time", message: e.message, line: events[i].line))
            }
        }
        events.removeLast(events.count - kept)
        if !bad.isEmpty { emit(port: SourcePort.malformed, bad) }
        hand(events, watermark: watermark)
    }

    /// Sends events to a side port (``SourcePort/malformed``).
    @usableFromInline package func emit(port: Int, _ events: [Event]) {
        guard !events.isEmpty else { return }
        if let counters, port == SourcePort.malformed {
            counters.malformed.wrappingIncrement(by: events.count, ordering: .relaxed)
            if let taps = execution.metrics?.taps, taps.isActive { taps.offer(counters.name + ".malformed", events) }
        }
        ports.send(port, .events(events))
    }

    /// Announces that no later event will be earlier than `time` (epoch ms).
    @usableFromInline package func watermark(_ time: Int64) {
        guard time > lastWatermark else { return }
        lastWatermark = time
        ports.broadcast(.watermark(time))
    }
}
