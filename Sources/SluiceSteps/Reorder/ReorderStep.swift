import SluiceCore

/// `reorder: {max_buffer: N}`: emits events in event-time order, equal times in arrival
/// order.
///
/// Events wait in an ``EventTimeQueue`` ordered by (time, arrival number) until the watermark reaches
/// their time: an advance to `w` emits every buffered event with `time <= w`, and the end
/// of input (`Int64.max`) emits the rest. An event arriving with `time < watermark` is
/// late and goes to `STREAM.late`; one at or below the last advance is emitted at once
/// (nothing buffered can precede it).
///
/// With `max_buffer`, when the buffer would hold more than N events the earliest is
/// emitted early, as if the watermark had reached its time (for this step only); from
/// then on an event earlier than the last one emitted can no longer be put in order and
/// goes to `late` as well. Main output plus `late` is always exactly the input. Events
/// emitted early are counted (``emittedEarlyCount``, `--stats`). Without `max_buffer` the
/// buffer holds everything between the watermark and the latest time seen (`time.lateness`
/// of input); `sluice check` warns.
@usableFromInline package final class ReorderStep: InPlaceStep {
    struct Item: EventTimeOrdered {
        var time: Int64
        var seq: UInt64
        var event: Event

        @inline(__always)
        func before(_ o: Item) -> Bool { time < o.time || (time == o.time && seq < o.seq) }
    }

    let maxBuffer: Int?
    let latePort: Int
    var buffer = EventTimeQueue<Item>()
    var nextSeq: UInt64 = 0
    /// The last watermark seen by ``advance(watermark:into:)``.
    var advanced = Int64.min
    /// The latest time emitted: an event earlier than this can no longer be put in order
    /// (below the watermark, or behind one emitted early by `max_buffer`).
    var floor = Int64.min

    /// A reorder buffer holding at most `maxBuffer` events (unbounded when nil).
    @usableFromInline package init(maxBuffer: Int?, latePort: Int) {
        self.maxBuffer = maxBuffer
        self.latePort = latePort
    }

    /// Events emitted before the watermark reached them because the buffer was full.
    @usableFromInline package internal(set) var emittedEarlyCount = 0

    /// Events buffered.
    @usableFromInline package var stateSize: Int { buffer.count }

    /// Events emitted early by `max_buffer`, for `--stats`.
    @usableFromInline package var counters: [(name: String, value: Int)] {
        maxBuffer == nil ? [] : [("emitted_early", emittedEarlyCount)]
    }

    /// Buffers the event, or sends it to `late` when it can no longer be put in order.
    @usableFromInline package func process(_ event: Event, into out: inout StepOutput) {
        let t = event.time
        if t < out.watermark || t < floor {
            out.side(latePort, event)
            return
        }
        if t <= advanced {
            // Everything buffered is later than the last advance, so this goes first.
            if t > floor { floor = t }
            out.emit(event)
            return
        }
        buffer.push(Item(time: t, seq: nextSeq, event: event))
        nextSeq &+= 1
        if let maxBuffer, buffer.count > maxBuffer, let first = buffer.popMin() {
            floor = first.time
            emittedEarlyCount += 1
            out.emit(first.event)
        }
    }

    /// Emits, in order, every buffered event with `time <= watermark`.
    @usableFromInline package func advance(watermark: Int64, into out: inout StepOutput) {
        if watermark > advanced { advanced = watermark }
        while let top = buffer.popMin(upTo: watermark) {
            floor = top.time
            out.emit(top.event)
        }
    }

    static let definition = StepDefinition(
        kind: "reorder",
        summary: "Emit events in event-time order (equal times in arrival order), buffering up to the watermark.",
        keys: ["max_buffer"],
        compile: { ctx in
            guard let m = ctx.map() else { return nil }
            let maxBuffer = m.int("max_buffer", range: 1...Int.max)
            let bad = m.node("max_buffer") != nil && maxBuffer == nil
            m.finish()
            guard !bad else { return nil }
            if maxBuffer == nil {
                ctx.context.warning(
                    ctx.config.location,
                    "'\(ctx.stepName)' buffers every event until the watermark passes it, with no limit on how many (its memory grows with the input's disorder and 'time.lateness')",
                    hint: "add 'max_buffer: N' to hold at most N events (the earliest is then emitted early)")
            }
            let latePort = ctx.sidePort(named: "late")
            return { ReorderStep(maxBuffer: maxBuffer, latePort: latePort) }
        }
    )
}
