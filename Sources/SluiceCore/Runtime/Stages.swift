import Atomics
import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The loops the stages run, each on its own thread (see ``Execution``), and the writes
/// of shared sinks (``SharedSink``). Moved here unchanged from the runtime's one file:
/// what each stage does with a message, apart from how the graph was planned
/// (``ExecutionPlan``) and started.
extension Execution {
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
                // By key group (``KeyGroups``), so that keyed state saved at one
                // parallelism can be handed out again at another.
                let i = KeyGroups.owner(ofHash: hash(batch[j]), parallelism: count)
                target.append(i)
                sizes[i] += 1
            }
        }
        return (0..<count).map { i in
            sizes[i] == 0 ? [] : Event.repacked(events, where: target, equals: i, count: sizes[i])
        }
    }

    func runSource(
        _ source: any EventSource, _ time: TimePolicy?, _ ports: OutputPorts,
        counters: RunMetrics.InputCounters? = nil, restored: SourceSnapshot? = nil
    ) {
        let positioned = source is any CheckpointedSource
        let out = SourceOutput(
            ports: ports, execution: self, time: time, name: source.name, checkpoints: checkpoints,
            positioned: positioned, restored: restored)
        out.counters = counters
        defer { counters?.ended.store(true, ordering: .relaxed) }
        do {
            try source.run(out)
        } catch {
            fail(.failed("\(source.name): \(error)"))
        }
        if let checkpoints, !positioned {
            // Stopped: the final checkpoint's barrier (a positioned source sent it as
            // it stopped). Then this source stands still in every later checkpoint.
            if isStopped { out.checkpointIfDue { nil } }
            checkpoints.sourceFinished(source.name, out.snapshot(nil))
        } else if let checkpoints, let end = out.finalPosition {
            checkpoints.sourceFinished(source.name, out.snapshot(end))
        }
        ports.broadcast(.end)
        noteUnread(ports.unread)
        report.withLock { $0.sourceEvents[source.name, default: 0] += out.count }
    }

    func runStream(
        _ name: String, _ chain: StepChain, _ inputs: InputMerge, _ ports: OutputPorts, tick: UInt64?, encode: Bool,
        direct: [Int: [SharedSink]], identity: StageIdentity? = nil
    ) {
        var watermark = Int64.min
        if let identity, !identity.restore.isEmpty {
            do throws(StateError) {
                watermark = try restore(chain, inputs, identity)
            } catch {
                fail(.failed("stream '\(name)': cannot restore its state: \(error.message)"))
                inputs.closeAll()
            }
        }
        func snapshot() throws(StateError) -> StageSnapshot? {
            guard let identity else { return nil }
            return StageSnapshot(
                stream: identity.stream, copy: identity.copy, copies: identity.copies, watermark: watermark,
                inputMarks: inputs.marks, keyText: identity.keyText, steps: try chain.snapshot())
        }
        var sides: [(port: Int, event: Event)] = []
        var scratch: [UInt8] = []
        let mainDirect = direct[Dataflow.mainPort] ?? []
        let allDirect = direct.keys.sorted().flatMap { direct[$0] ?? [] }
        // Live figures (`--metrics`): plain counters, published every 200 ms.
        var meter = metrics.flatMap { $0.measuresStages ? StreamMeter($0, stage: name, portNames: ports.names) : nil }
        var directMeters: [OutputMeter] = []
        if let m = meter?.metrics { directMeters = mainDirect.map { OutputMeter(m, name: $0.name) } }
        // Consumed, so that encoding replaces storages in the batch itself rather than
        // in a copy of it. `seq`: the number of a dealt batch, whose output goes to
        // sinks that put batches back in order (every port then has its sinks there).
        func send(_ main: consuming [Event], seq: Int? = nil) {
            if meter != nil {
                meter?.sent(main, sides)
                for i in directMeters.indices { directMeters[i].wrote(main, count: 0) }
            }
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
        while let (_, msg) = inputs.next(
            tick: tick,
            onIdle: {
                for sink in allDirect { flushDirect(sink) }
                meter?.idle(chain, watermark: watermark)
                for i in directMeters.indices { directMeters[i].idle() }
            })
        {
            var merged = inputs.watermark
            switch msg {
            case .events(let events):
                meter?.received(events)
                send(chain.process(events, watermark: watermark, sides: &sides, stamped: timed))
            case .sequenced(let events, let seq):
                meter?.received(events)
                send(chain.process(events, watermark: watermark, sides: &sides, stamped: timed), seq: seq)
            case .watermark, .end:
                break
            case .barrier(let id):
                // Aligned: everything before checkpoint `id` has been processed and sent
                // (and what steps handed outside has come back).
                if chain.drains { send(chain.drain(sides: &sides)) }
                do throws(StateError) {
                    if let s = try snapshot() { checkpoints?.stage(name, reached: id, s) }
                } catch {
                    fail(.failed("stream '\(name)': cannot save its state: \(error.message)"))
                    inputs.closeAll()
                }
                ports.broadcast(.barrier(id))
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
            meter?.tick(chain, watermark: watermark)
        }
        if chain.drains {
            send(chain.drain(sides: &sides))
            if let stop = chain.stopRequested { fail(.failed("stream '\(name)', step \(stop)")) }
        }
        meter?.tick(chain, watermark: watermark, force: true)
        for i in directMeters.indices { directMeters[i].publish() }
        if let checkpoints, let s = try? snapshot() { checkpoints.stageFinished(name, s) }
        ports.broadcast(.end)
        for sink in allDirect { finishDirect(sink) }
        noteUnread(ports.unread)
        report.withLock { $0.steps[name] = chain.stats }
    }

    /// The outcome a sink's error ends the run with.
    func failSink(_ sink: any EventSink, _ error: any Error) {
        if case SinkError.closed = error { fail(.outputClosed) } else { fail(.failed("\(sink.name): \(error)")) }
    }

    /// Hands `count` encoded lines to a shared sink. After a failure the sink takes
    /// nothing more (the run is failing, and the sources are stopping). With `seq` (a
    /// dealt batch's number), lines that come before their turn wait in the sink until
    /// the batches before them have been written.
    func writeDirect(_ shared: SharedSink, _ lines: [UInt8], count: Int, seq: Int? = nil) {
        shared.state.withLock { s in
            guard !s.broken else { return }
            if let seq, s.sequenced {
                guard seq == s.next else {
                    s.pending[seq] = (lines, count)
                    return
                }
                s.next += 1
                writeLocked(&s, lines, count: count)
                while !s.broken, let (waiting, n) = s.pending.removeValue(forKey: s.next) {
                    s.next += 1
                    writeLocked(&s, waiting, count: n)
                }
                return
            }
            writeLocked(&s, lines, count: count)
        }
    }

    /// The write itself, inside the sink's lock.
    func writeLocked(_ s: inout SharedSink.State, _ lines: [UInt8], count: Int) {
        guard count > 0, !s.broken else { return }
        do {
            let sink = s.sink
            try lines.withUnsafeBytes { try sink.writeLines($0, count: count) }
            s.count += count
            eventsOut.wrappingIncrement(by: count, ordering: .relaxed)
        } catch {
            s.broken = true
            failSink(s.sink, error)
        }
    }

    func flushDirect(_ shared: SharedSink) {
        shared.state.withLock { s in
            guard !s.broken else { return }
            do { try s.sink.flush() } catch {
                s.broken = true
                failSink(s.sink, error)
            }
        }
    }

    /// One producer of a shared sink is done; the last one flushes and closes it.
    func finishDirect(_ shared: SharedSink) {
        let last: Int? = shared.state.withLock { s in
            s.remaining -= 1
            guard s.remaining == 0 else { return nil }
            // Every producer has written all its batches, so nothing should still wait
            // for its turn; if anything does, it goes out in order rather than nowhere.
            for seq in s.pending.keys.sorted() {
                if let (lines, n) = s.pending.removeValue(forKey: seq) { writeLocked(&s, lines, count: n) }
            }
            if !s.broken {
                do {
                    try s.sink.flush()
                    try s.sink.close()
                } catch {
                    s.broken = true
                    failSink(s.sink, error)
                }
            }
            return s.count
        }
        guard let last else { return }
        let name = shared.name
        report.withLock { $0.sinkEvents[name, default: 0] += last }
        group.leave()
    }

    func runPartitioner(_ hash: (Event) -> UInt64, _ count: Int, _ inputs: InputMerge, _ ports: OutputPorts) {
        var watermark = Int64.min
        while case (_, let msg?)? = inputs.next() {
            if case .events(let events) = msg {
                for (i, part) in Self.partitioned(events, count, hash).enumerated() where !part.isEmpty {
                    ports.send(i, .events(part))
                }
            }
            if case .barrier = msg { ports.broadcast(msg) }
            let merged = inputs.watermark
            if merged > watermark {
                watermark = merged
                if watermark == Int64.max { break }
                ports.broadcast(.watermark(watermark))
            }
        }
        ports.broadcast(.end)
    }

    func runSink(_ sink: any EventSink, _ inputs: InputMerge) {
        var count = 0
        var meter = metrics.flatMap { $0.measuresStages ? OutputMeter($0, name: sink.name) : nil }
        defer { meter?.publish() }
        var broken = false
        func handle(_ error: any Error) {
            broken = true
            if case SinkError.closed = error { fail(.outputClosed) } else { fail(.failed("\(sink.name): \(error)")) }
            inputs.closeAll()
        }
        let byInput = sink as? any InputAwareSink
        /// Flushes and, for a file, makes the output durable: what a checkpoint records.
        func commit() throws -> [UInt8] {
            try sink.flush()
            return try (sink as? any CheckpointedSink)?.commit() ?? []
        }
        while !broken,
            case (let input, let msg?)? = inputs.next(onIdle: {
                meter?.idle()
                do { try sink.flush() } catch { handle(error) }
            })
        {
            if case .barrier(let id) = msg, !broken {
                do { checkpoints?.sink(sink.name, reached: id, try commit()) } catch { handle(error) }
                continue
            }
            guard !broken, case .events(let events) = msg else { continue }
            do {
                if let byInput { try byInput.write(events, input: input) } else { try sink.write(events) }
                count += events.count
                meter?.wrote(events, count: events.count)
                eventsOut.wrappingIncrement(by: events.count, ordering: .relaxed)
            } catch {
                handle(error)
            }
        }
        if !broken {
            do {
                if let checkpoints { checkpoints.sinkFinished(sink.name, try commit()) }
                try sink.flush()
                try sink.close()
            } catch {
                handle(error)
            }
        }
        report.withLock { $0.sinkEvents[sink.name, default: 0] += count }
    }
}

extension Execution {
    /// Restores a stream stage from the snapshots of one or several old copies
    /// (``StageIdentity/restore``); returns the stage's watermark.
    func restore(_ chain: StepChain, _ inputs: InputMerge, _ identity: StageIdentity) throws(StateError) -> Int64 {
        let parts = identity.restore
        // The same copy of the same parallelism owns what it saved; otherwise each copy
        // keeps the key groups it owns now.
        let sameCopy = parts.count == 1 && parts[0].copies == identity.copies && parts[0].copy == identity.copy
        let (copy, copies) = (identity.copy, identity.copies)
        try chain.restore(
            parts, owns: sameCopy ? { _ in true } : { KeyGroups.owner(ofGroup: $0, parallelism: copies) == copy })
        // The least of the old copies' watermarks: none of them had passed it.
        if parts.allSatisfy({ $0.inputMarks.count == inputs.marks.count }) {
            for i in inputs.marks.indices { inputs.marks[i] = parts.map { $0.inputMarks[i] }.min() ?? Int64.min }
        }
        return parts.map(\.watermark).min() ?? Int64.min
    }
}
