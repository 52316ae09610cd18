import Dispatch

/// Counters for one step, owned by its stage thread and read after the run (or, for the
/// progress line, read racily as a rough figure).
@usableFromInline package struct StepStats: Sendable {
    @usableFromInline package var name: String
    @usableFromInline package var kind: String
    @usableFromInline package var eventsIn = 0
    @usableFromInline package var eventsOut = 0
    @usableFromInline package var sideOut = 0
    @usableFromInline package var rejected = 0
    /// Events sent to `late`.
    @usableFromInline package var late = 0
    /// Invalid events dropped (`on_invalid: drop`).
    @usableFromInline package var dropped = 0
    /// Time spent inside the step, in nanoseconds (measured only when stats are on).
    @usableFromInline package var nanos: UInt64 = 0
    /// The step's own ``Step/counters``, as of the last watermark (the end, after a run).
    @usableFromInline package var counters: [(name: String, value: Int)] = []

    @usableFromInline package init(name: String, kind: String) {
        self.name = name
        self.kind = kind
    }
}

/// The steps of one stream, run in order inside one stage with direct calls: no queue hop
/// between steps.
@usableFromInline package final class StepChain {
    /// A step and what to call it.
    @usableFromInline package struct Entry {
        @usableFromInline package var step: any Step
        @usableFromInline package var name: String
        @usableFromInline package var kind: String
        /// The traits of the step's definition.
        @usableFromInline package var traits: StepTraits
        /// The step's id in checkpoints (`id:`, or derived from stream, position and kind).
        @usableFromInline package var id: String
        @usableFromInline package init(
            step: any Step, name: String, kind: String, traits: StepTraits = [], id: String? = nil
        ) {
            self.step = step
            self.name = name
            self.kind = kind
            self.traits = traits
            self.id = id ?? name
        }
    }

    let steps: [any Step]
    /// Each step's id and kind, and its checkpoint view (nil for a step that keeps no state).
    let ids: [String]
    let kinds: [String]
    let stateful: [(any StatefulStep)?]
    /// True when a step is a ``DrainingStep`` (the stage then drains the chain at barriers
    /// and at the end).
    package let drains: Bool
    /// The steps that read events in place, resolved once here (nil for the others).
    private let inPlace: [(any InPlaceStep)?]
    /// Per-step counters, in step order.
    @usableFromInline package private(set) var stats: [StepStats]
    /// Measure time per step (costs two clock reads per step per batch).
    @usableFromInline package var timing = false
    /// The first stop request of a step (see ``StepOutput/stop(_:)``).
    @usableFromInline package private(set) var stopRequested: String?
    private var scratch = StepOutput()
    private var spare: [Event] = []
    /// The watermark each step has been advanced to.
    private var marks: [Int64]
    private let timeSensitive: [Bool]

    @usableFromInline package init(_ entries: [Entry]) {
        steps = entries.map(\.step)
        ids = entries.map(\.id)
        kinds = entries.map(\.kind)
        stateful = entries.map { checkpointView(of: $0.step) }
        drains = entries.contains { $0.step is any DrainingStep }
        inPlace = entries.map { $0.step as? any InPlaceStep }
        stats = entries.map { StepStats(name: $0.name, kind: $0.kind) }
        marks = Array(repeating: Int64.min, count: entries.count)
        timeSensitive = entries.map { $0.traits.contains(.usesWatermarks) }
    }

    /// True when some step's results depend on the watermark.
    @usableFromInline package var usesWatermarks: Bool { timeSensitive.contains(true) }

    /// True when there are no steps (a pass-through stream).
    @usableFromInline package var isEmpty: Bool { steps.isEmpty }

    /// Each step's open state (``Step/stateSize``), in step order.
    @usableFromInline package var stateSizes: [Int] { steps.map(\.stateSize) }

    /// Open state summed over the steps.
    @usableFromInline package var stateSize: Int { steps.reduce(0) { $0 + $1.stateSize } }

    /// Runs `events` through every step; side output events are appended to `sides`.
    ///
    /// With `stamped`, each time-sensitive step first advances to the watermark the
    /// source had just before each event (``Event/watermark``), so windows close and late
    /// events are judged exactly where the source's watermark moved, whatever the batch
    /// boundaries. Only exact for a stream with one input; the caller decides.
    @usableFromInline package func process(
        _ events: [Event], watermark: Int64, sides: inout [(port: Int, event: Event)], stamped: Bool = false
    ) -> [Event] {
        if steps.isEmpty { return events }
        var current = events
        for i in steps.indices {
            let step = steps[i]
            var out = scratch
            out.events = spare
            out.events.removeAll(keepingCapacity: true)
            // Room for every event at once: grown by appends, the output would be
            // reallocated a dozen times per batch.
            out.events.reserveCapacity(current.count)
            out.sides.removeAll(keepingCapacity: true)
            out.watermark = max(watermark, marks[i])
            out.rejectedCount = 0
            out.droppedCount = 0
            out.stopRequested = nil
            let t0 = timing ? DispatchTime.now().uptimeNanoseconds : 0
            if stamped && timeSensitive[i] {
                // Events are lent to the step in place (no copy, so no reference counting
                // on the buffers they share with other threads' events). The mark in a
                // local: stored back per event, `marks` (a class's array) would cost a
                // dynamic exclusivity check each time the watermark moves.
                var mark = marks[i]
                current.withUnsafeBufferPointer { batch in
                    guard let base = batch.baseAddress else { return }
                    if let step = inPlace[i] {
                        // One call per batch: the step's loop makes direct calls per event.
                        step.process(stamped: batch, mark: &mark, into: &out)
                    } else {
                        for j in batch.indices {
                            let m = base[j].watermark
                            if m > mark {
                                mark = m
                                out.watermark = m
                                step.advance(watermark: m, into: &out)
                            }
                            step.process(base[j], into: &out)
                        }
                    }
                }
                marks[i] = mark
            } else {
                step.process(batch: current, into: &out)
            }
            if let s = out.stopRequested, stopRequested == nil { stopRequested = "\(stats[i].name): \(s)" }
            if timing { stats[i].nanos &+= DispatchTime.now().uptimeNanoseconds &- t0 }
            stats[i].eventsIn += current.count
            stats[i].eventsOut += out.events.count
            stats[i].sideOut += out.sides.count
            stats[i].rejected += out.rejectedCount
            stats[i].dropped += out.droppedCount
            for s in out.sides where s.port == SidePort.late { stats[i].late += 1 }
            sides.append(contentsOf: out.sides)
            spare = current
            current = out.events
            out.events = []
            scratch = out
            if current.isEmpty { break }
        }
        // `spare` may alias the caller's array; drop it so the next batch allocates its own
        // output instead of copying on write.
        spare = []
        return current
    }

    /// Lets every step react to a watermark; what a step emits flows through the steps
    /// after it before they see the watermark themselves.
    @usableFromInline package func advance(watermark: Int64, sides: inout [(port: Int, event: Event)]) -> [Event] {
        var carry: [Event] = []
        for i in steps.indices {
            let step = steps[i]
            var out = StepOutput()
            let t0 = timing ? DispatchTime.now().uptimeNanoseconds : 0
            // What earlier steps emitted for this watermark reaches this step before the
            // watermark does (as in Flink), so it is judged against the step's old one.
            out.watermark = marks[i]
            for e in carry { step.process(e, into: &out) }
            out.watermark = watermark
            stats[i].eventsIn += carry.count
            if watermark > marks[i] {
                marks[i] = watermark
                step.advance(watermark: watermark, into: &out)
            }
            stats[i].counters = step.counters
            if let s = out.stopRequested, stopRequested == nil { stopRequested = "\(stats[i].name): \(s)" }
            if timing { stats[i].nanos &+= DispatchTime.now().uptimeNanoseconds &- t0 }
            stats[i].eventsOut += out.events.count
            stats[i].sideOut += out.sides.count
            stats[i].rejected += out.rejectedCount
            stats[i].dropped += out.droppedCount
            for s in out.sides where s.port == SidePort.late { stats[i].late += 1 }
            sides.append(contentsOf: out.sides)
            carry = out.events
        }
        return carry
    }
}

extension StepChain {
    /// Lets every ``DrainingStep`` finish its outside work (before a barrier, and at the
    /// end); what a step emits flows through the steps after it.
    package func drain(sides: inout [(port: Int, event: Event)]) -> [Event] {
        var carry: [Event] = []
        for i in steps.indices {
            let draining = steps[i] as? any DrainingStep
            guard draining != nil || !carry.isEmpty else { continue }
            var out = StepOutput()
            out.watermark = marks[i]
            for e in carry { steps[i].process(e, into: &out) }
            stats[i].eventsIn += carry.count
            draining?.drain(into: &out)
            stats[i].counters = steps[i].counters
            if let s = out.stopRequested, stopRequested == nil { stopRequested = "\(stats[i].name): \(s)" }
            stats[i].eventsOut += out.events.count
            stats[i].sideOut += out.sides.count
            stats[i].rejected += out.rejectedCount
            sides.append(contentsOf: out.sides)
            carry = out.events
        }
        return carry
    }
}

extension StepChain {
    /// Every step as it is now: id, kind, watermark and, for stateful steps, state.
    package func snapshot() throws(StateError) -> [StepSnapshot] {
        var out: [StepSnapshot] = []
        out.reserveCapacity(steps.count)
        for i in steps.indices {
            let view = stateful[i]
            out.append(
                StepSnapshot(
                    id: ids[i], kind: kinds[i], mark: marks[i], keySource: view?.stateKeySource,
                    state: try view?.snapshotState()))
        }
        return out
    }

    /// Restores every step that the snapshots of `parts` (old copies of this stream)
    /// know by id: the least of their watermarks, and, for stateful steps, their state,
    /// keeping the key groups `owns` accepts. Steps they do not know start empty.
    package func restore(_ parts: [StageSnapshot], owns: (Int) -> Bool) throws(StateError) {
        for i in steps.indices {
            let saved = parts.compactMap { p in p.steps.first { $0.id == ids[i] } }
            guard !saved.isEmpty else { continue }
            marks[i] = saved.map(\.mark).min() ?? Int64.min
            let states = saved.compactMap(\.state)
            guard !states.isEmpty else { continue }
            guard let view = stateful[i] else {
                throw StateError("step '\(ids[i])' has saved state but keeps none now")
            }
            try view.restoreState(states, owns: owns)
        }
    }
}
